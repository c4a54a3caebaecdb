// placeholder, filled in below
import { h } from "../dom.js";

export function mountRegional(root) {
  root.append(h("p", {}, "regional"));
}
