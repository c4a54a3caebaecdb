// placeholder, filled in below
import { h } from "../dom.js";

export function mountCentre(root) {
  root.append(h("p", {}, "centre"));
}
