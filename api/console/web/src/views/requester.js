// placeholder, filled in below
import { h } from "../dom.js";

export function mountRequester(root) {
  root.append(h("p", {}, "requester"));
}
