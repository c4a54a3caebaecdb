// The auditor: the audit trail with filters, paged, and the hash chain's verification.
import { clear, h } from "../dom.js";
import { t } from "../i18n.js";
import { errorText, formatTime } from "./common.js";

const PAGE = 100;

export function mountAuditor(root, { api }) {
  const fields = {
    action: h("input", { type: "text", id: "f-action", placeholder: "feed.requested" }),
    subject_type: h("input", { type: "text", id: "f-subject-type", placeholder: "incident" }),
    subject_id: h("input", { type: "text", id: "f-subject-id" }),
    organization_id: h("input", { type: "number", id: "f-organization-id", min: 1 }),
    since: h("input", { type: "datetime-local", id: "f-since" }),
    until: h("input", { type: "datetime-local", id: "f-until" }),
  };
  const labels = { action: "action", subject_type: "subjectType", subject_id: "subjectId", organization_id: "organizationId", since: "since", until: "until" };
  const rows = h("tbody", { id: "audit-rows" });
  const more = h("button", { type: "button", id: "audit-more", hidden: true }, t("more"));
  const verdict = h("p", { id: "verify-result" });
  const message = h("p", { class: "error", role: "alert" });
  const filters = h(
    "form",
    { class: "row", id: "audit-filters" },
    Object.entries(fields).map(([name, input]) => h("label", {}, h("span", { class: "muted" }, t(labels[name])), " ", input)),
    h("button", { type: "submit", class: "primary" }, t("filter")),
  );
  root.append(
    h(
      "section",
      { class: "wide" },
      h("div", { class: "row" }, h("h2", {}, t("audit")), h("button", { type: "button", id: "verify-chain", onclick: verify }, t("verify")), verdict),
      filters,
      message,
      h(
        "table",
        {},
        h("thead", {}, h("tr", {}, ["#", t("time"), t("actor"), t("action"), t("subjectType"), t("legalBasis"), "details", "hash"].map((x) => h("th", {}, x)))),
        rows,
      ),
      more,
    ),
  );
  let after = null;

  function query() {
    const params = { limit: PAGE, after_id: after };
    for (const [name, input] of Object.entries(fields)) {
      if (!input.value) continue;
      params[name] = name === "since" || name === "until" ? new Date(input.value).toISOString() : input.value;
    }
    return params;
  }

  async function load(reset) {
    message.textContent = "";
    if (reset) {
      after = null;
      clear(rows);
    }
    try {
      const page = await api.get("/v1/audit", query());
      for (const r of page.items) {
        rows.append(
          h(
            "tr",
            { "data-audit-id": r.id },
            h("td", {}, r.id),
            h("td", { class: "time" }, formatTime(r.at)),
            h("td", {}, r.actor),
            h("td", { class: "mono" }, r.action),
            h("td", { class: "subject" }, `${r.subject_type} ${r.subject_id}`),
            h("td", { class: "time" }, r.legal_basis ? t(`basis_${r.legal_basis}`) : ""),
            h("td", { class: "mono details" }, JSON.stringify(r.details).slice(0, 200)),
            h("td", { class: "mono", title: r.record_hash }, r.record_hash.slice(0, 10)),
          ),
        );
      }
      if (!rows.children.length) rows.append(h("tr", {}, h("td", { colspan: 8, class: "muted" }, t("noRecords"))));
      after = page.next_after_id;
      more.hidden = !after;
    } catch (error) {
      message.textContent = errorText(error);
    }
  }

  async function verify() {
    verdict.textContent = "…";
    try {
      const check = await api.get("/v1/audit/verify");
      verdict.className = check.ok ? "verify-ok" : "verify-bad";
      verdict.dataset.ok = check.ok ? "yes" : "no";
      verdict.textContent = check.ok
        ? `${t("chainOk")}: ${check.records} ${t("records")}, head #${check.head_id} ${String(check.head_hash).slice(0, 12)}`
        : `${t("chainBroken")}: #${check.first_bad_id} ${check.problem}`;
    } catch (error) {
      verdict.className = "verify-bad";
      verdict.textContent = errorText(error);
    }
  }

  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    load(true);
  });
  more.addEventListener("click", () => load(false));
  load(true);
}
