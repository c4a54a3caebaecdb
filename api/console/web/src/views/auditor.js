// placeholder, filled in below
import { h } from "../dom.js";

export function mountAuditor(root) {
  root.append(h("p", {}, "auditor"));
}
