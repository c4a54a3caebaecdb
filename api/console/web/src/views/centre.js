// The municipal centre: the live queue of requests for its cameras (each with the incident on a
// small map and the legal basis), approve or deny with a reason, and revoke a live feed.
import { clear, h } from "../dom.js";
import { t } from "../i18n.js";
import { createMap, maplibregl } from "../map.js";
import { errorText, formatTime, stateTag } from "./common.js";

/** Mini maps are WebGL contexts, which a browser keeps only a handful of. */
const MAX_MINI_MAPS = 6;

export function mountCentre(root, { api }) {
  const queue = h("ol", { class: "queue", id: "queue" });
  const live = h("ul", { class: "requests", id: "live-feeds" });
  const message = h("p", { class: "error", role: "alert" });
  root.append(
    h("section", { class: "wide" }, h("h2", {}, t("queue"), " ", h("span", { class: "muted", id: "queue-count" })), message, queue),
    h("aside", { class: "panel right" }, h("h2", {}, t("liveFeeds")), live),
  );
  const incidents = new Map(); // incident id → GET /v1/incidents/{id}
  let miniMaps = [];

  async function incidentOf(id) {
    if (!incidents.has(id)) incidents.set(id, api.get(`/v1/incidents/${id}`).catch(() => null));
    return incidents.get(id);
  }

  // Events come in bursts (one per camera asked for): one fetch answers them all.
  let due = null;
  let running = Promise.resolve();
  function refresh(lists = ["pending", "provisioned"]) {
    if (due) {
      for (const list of lists) due.add(list);
      return;
    }
    due = new Set(lists);
    setTimeout(() => {
      const wanted = due;
      due = null;
      running = running.then(() => load(wanted));
    }, 0);
  }

  async function load(wanted) {
    try {
      const [pending, provisioned] = await Promise.all([
        wanted.has("pending") ? api.get("/v1/feed-requests", { state: "pending" }) : null,
        wanted.has("provisioned") ? api.get("/v1/feed-requests", { state: "provisioned" }) : null,
      ]);
      if (pending) renderQueue(pending.items || []);
      if (provisioned) renderLive(provisioned.items || []);
    } catch (error) {
      message.textContent = errorText(error);
    }
  }

  function renderQueue(items) {
    for (const m of miniMaps) m.remove();
    miniMaps = [];
    document.getElementById("queue-count").textContent = `(${items.length})`;
    clear(queue, items.length ? null : h("li", { class: "muted" }, t("emptyQueue")));
    items.forEach((item, i) => {
      const where = h("span", { class: "where" });
      const mapEl = h("div", { class: "mini-map" });
      const reason = h("input", { type: "text", maxlength: 500, placeholder: t("reason"), class: "reason" });
      const li = h(
        "li",
        { class: "queue-item", "data-request-id": item.id, "data-incident-id": item.incident_id },
        mapEl,
        h(
          "div",
          {},
          h(
            "dl",
            {},
            h("dt", {}, t("camera")),
            h("dd", { class: "mono" }, `#${item.camera_id}`),
            h("dt", {}, t("requester")),
            h("dd", {}, item.requester.name),
            h("dt", {}, t("legalBasis")),
            h("dd", { class: "basis" }, t(`basis_${item.legal_basis}`)),
            h("dt", {}, t("incident")),
            h("dd", {}, `#${item.incident_id}`, where),
            h("dt", {}, t("requestedAt")),
            h("dd", {}, formatTime(item.created_at)),
          ),
          h(
            "div",
            { class: "row" },
            h("button", { type: "button", class: "primary approve", onclick: () => decide(item, "approve", reason.value) }, t("approve")),
            reason,
            h("button", { type: "button", class: "danger deny", onclick: () => decide(item, "deny", reason.value) }, t("deny")),
          ),
        ),
      );
      queue.append(li);
      // The incident's place follows: the request is shown the moment it is known.
      incidentOf(item.incident_id).then((incident) => {
        if (!incident || !li.isConnected) return;
        const center = incident.location.coordinates;
        where.textContent = ` · ${center.map((c) => c.toFixed(5)).join(", ")}`;
        if (i >= MAX_MINI_MAPS) return;
        const { map } = createMap(mapEl, { center, zoom: 15, interactive: false });
        new maplibregl.Marker({ color: "#d0021b", scale: 0.7 }).setLngLat(center).addTo(map);
        miniMaps.push(map);
      });
    });
  }

  function renderLive(items) {
    clear(
      live,
      items.length ? null : h("li", { class: "muted" }, t("noLiveFeeds")),
      items.map((item) =>
        h(
          "li",
          { "data-request-id": item.id },
          h("span", { class: "mono" }, `#${item.camera_id}`),
          h("span", {}, item.requester.name),
          stateTag(item.status),
          h("button", { type: "button", class: "danger revoke", onclick: () => revoke(item) }, t("revoke")),
        ),
      ),
    );
  }

  async function decide(item, verb, reason) {
    message.textContent = "";
    try {
      await api.post(`/v1/feed-requests/${item.id}/${verb}`, { reason });
    } catch (error) {
      message.textContent = errorText(error);
    }
    await refresh();
  }

  async function revoke(item) {
    message.textContent = "";
    try {
      await api.post(`/v1/feed-requests/${item.id}/revoke`, { reason: "revoked by the centre" });
    } catch (error) {
      message.textContent = errorText(error);
    }
    await refresh();
  }

  const stop = api.onEvent((type) => {
    if (type === "feed_request.created") refresh(["pending"]);
    else if (type.startsWith("feed_") || type.startsWith("incident.") || type.startsWith("activation.") || type === "resync") refresh();
  });
  const stopStatus = api.onStatus((connected) => connected && refresh());
  refresh();
  return () => {
    stop();
    stopStatus();
    for (const m of miniMaps) m.remove();
  };
}
