// Pieces the views share: tags for states and DORI levels, error text, approach order.
import { h } from "../dom.js";
import { t } from "../i18n.js";

export function stateTag(state) {
  return h("span", { class: `state state-${state}`, "data-state": state }, t(`state_${state}`));
}

export function levelTag(level, confidence) {
  const low = confidence && confidence !== "high";
  return h(
    "span",
    { class: `tag level-${level}${low ? " low" : ""}`, title: low ? t("lowConfidence") : "" },
    t(`level_${level}`),
    low ? " ?" : "",
  );
}

export function errorText(error) {
  const code = error.code ? ` (${error.code})` : "";
  return `${error.message}${code}`;
}

/** Main approaches first, then by their number (A1, A2, …). */
export function approachSort(a, b) {
  if (Boolean(a.main) !== Boolean(b.main)) return a.main ? -1 : 1;
  return Number(String(a.id).slice(1)) - Number(String(b.id).slice(1));
}

/** A time as the browser's local "YYYY-MM-DD HH:MM:SS" (24-hour, one width in every row). */
export function formatTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
