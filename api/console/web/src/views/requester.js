// The situation room: raise an incident on the map, see its cordon, approaches (blind ones
// unmistakable) and the cameras watching them, request feeds, follow each request live, close.
import { clear, h } from "../dom.js";
import { t } from "../i18n.js";
import { createMap, EMPTY, maplibregl, setOverlay } from "../map.js";
import { ANSWER_LAYERS, addOverlayImages, CAMERA_LAYERS, COVERAGE_LAYERS } from "../overlays.js";
import { mountVideoWall } from "../videowall.js";
import { approachSort, levelTag, stateTag, errorText } from "./common.js";

const LEVELS = ["detect", "observe", "recognise", "identify"];
const COVERAGE_PAGES = 6;

export function mountRequester(root, { api, session }) {
  const form = incidentForm();
  const summary = h("div", { class: "incident-summary" });
  const incidentsBox = h("div", { class: "open-incidents" });
  const panel = h("aside", { class: "panel", id: "requester-panel" }, incidentsBox, form.el, summary);
  const mapEl = h("div", { class: "map", id: "map" });
  const hint = h("div", { class: "map-hint" }, t("clickMapHint"));
  const wallEl = h("section", { class: "videowall", id: "videowall", "data-empty": t("videoWall") });
  root.append(panel, h("section", { class: "map-area" }, mapEl, hint, wallEl));

  const { map, ready } = createMap(mapEl);
  const wall = mountVideoWall(wallEl, { api, session });
  let incident = null; // IncidentOut
  let answer = null; // indexed answer
  let feeds = [];
  const credentials = new Map(); // request id → credential, in memory only, for the wall
  let pick = null;
  let labels = [];

  ready.then(() => {
    addOverlayImages(map);
    setOverlay(map, "coverage", EMPTY, COVERAGE_LAYERS);
    setOverlay(map, "answer", EMPTY, ANSWER_LAYERS);
    setOverlay(map, "cameras", EMPTY, CAMERA_LAYERS);
    map.getContainer().dataset.ready = "yes";
    performance.mark("gilmok:map-ready"); // for the bench and DevTools: the map is interactive
  });
  map.on("click", (event) => {
    if (incident && incident.status === "open") return;
    form.setPoint(event.lngLat.lng, event.lngLat.lat);
    pick?.remove();
    pick = new maplibregl.Marker({ color: "#d0021b" }).setLngLat(event.lngLat).addTo(map);
  });
  map.on("click", "cameras", (event) => {
    const p = event.features[0].properties;
    new maplibregl.Popup({ closeButton: false })
      .setLngLat(event.lngLat)
      .setDOMContent(h("div", {}, `${t("camera")} ${p.camera_id} · ${t(`level_${p.level}`)}`))
      .addTo(map);
  });

  form.onSubmit(async (body) => {
    form.setBusy(true);
    try {
      const raised = await api.post("/v1/incidents", body);
      pick?.remove();
      pick = null;
      await show(raised, raised.answer);
    } catch (error) {
      form.setError(errorText(error));
    } finally {
      form.setBusy(false);
    }
  });

  async function loadIncidents() {
    try {
      const found = await api.get("/v1/incidents", { state: "open" });
      const items = Array.isArray(found) ? found : found.items || [];
      clear(
        incidentsBox,
        items.length ? h("h2", {}, t("incident")) : null,
        items.length
          ? h(
              "ul",
              { class: "incident-list" },
              items.map((item) =>
                h(
                  "li",
                  {},
                  h(
                    "button",
                    { type: "button", onclick: () => openIncident(item.id), "data-incident-id": item.id },
                    `#${item.id} · ${item.location.coordinates.map((c) => c.toFixed(5)).join(", ")}`,
                  ),
                ),
              ),
            )
          : null,
      );
    } catch {
      clear(incidentsBox);
    }
  }

  async function openIncident(id) {
    const found = await api.get(`/v1/incidents/${id}`);
    const [lon, lat] = found.location.coordinates;
    const redraw = await api.get("/v1/approaches", {
      lon,
      lat,
      radius_m: found.radius_m,
      mode: found.mode,
      direction: found.direction,
      travel: found.travel,
      level: found.level,
    });
    await show(found, redraw);
  }

  async function show(found, collection) {
    incident = found;
    answer = indexAnswer(collection);
    hint.hidden = true;
    form.el.hidden = true;
    incidentsBox.hidden = true;
    await ready;
    setOverlay(map, "answer", { type: "FeatureCollection", features: answer.mapFeatures });
    setOverlay(map, "cameras", { type: "FeatureCollection", features: answer.cameraPoints });
    drawLabels();
    fitTo(answer);
    renderSummary();
    loadCoverage().catch(() => {});
    await refreshFeeds();
  }

  function drawLabels() {
    for (const marker of labels) marker.remove();
    labels = answer.approaches.map((a) => {
      const el = h(
        "div",
        { class: `approach-label${a.blind ? " blind" : ""}`, "data-approach-id": a.id, "data-blind": a.blind ? "yes" : "no" },
        a.blind ? `${a.id} ${t("blind")}` : a.id,
      );
      return new maplibregl.Marker({ element: el, anchor: "bottom", offset: [0, -10] }).setLngLat(a.coords).addTo(map);
    });
  }

  function fitTo(indexed) {
    const bounds = new maplibregl.LngLatBounds();
    for (const a of indexed.approaches) bounds.extend(a.coords);
    bounds.extend(indexed.incident);
    map.fitBounds(bounds, { padding: 60, maxZoom: 17, duration: 0 });
  }

  async function loadCoverage() {
    const ids = new Set(answer.cameraPoints.map((f) => f.properties.camera_id));
    if (!ids.size) return;
    const [x0, y0, x1, y1] = answer.cameraBox;
    const features = [];
    let after = null;
    for (let page = 0; page < COVERAGE_PAGES; page += 1) {
      const bbox = [x0 - 0.003, y0 - 0.003, x1 + 0.003, y1 + 0.003].map((v) => v.toFixed(6)).join(",");
      const got = await api.get("/v1/coverage", { bbox, limit: 500, after_id: after });
      for (const f of got.features) {
        const reached = answer.levelOf.get(f.properties.camera_id);
        if (reached) features.push({ ...f, properties: { ...f.properties, level: reached } });
      }
      after = got.next_after_id;
      if (!after || features.length >= ids.size) break;
    }
    setOverlay(map, "coverage", { type: "FeatureCollection", features });
  }

  async function refreshFeeds() {
    if (!incident) return;
    const got = await api.get(`/v1/incidents/${incident.id}/feeds`);
    feeds = got.items.map((item) => (credentials.has(item.id) ? { ...item, credential: credentials.get(item.id) } : item));
    renderRequests();
    wall.update({ incident, feeds });
  }

  async function requestFeeds(body) {
    requestError.textContent = "";
    try {
      const made = await api.post(`/v1/incidents/${incident.id}/feeds`, body);
      for (const item of made.items) if (item.credential) credentials.set(item.id, item.credential);
      await refreshFeeds();
    } catch (error) {
      requestError.textContent = errorText(error);
    }
  }

  const requestError = h("p", { class: "error", role: "alert" });
  const requestsList = h("ul", { class: "requests", id: "feed-requests" });

  function renderRequests() {
    clear(
      requestsList,
      feeds.map((r) =>
        h(
          "li",
          { "data-request-id": r.id, "data-camera-id": r.camera_id, "data-state": r.status },
          h("span", { class: "mono" }, `#${r.id}`),
          h("span", {}, `${t("camera")} ${r.camera_id}`),
          stateTag(r.status),
          h("span", { class: "muted" }, r.owner?.name || ""),
          r.reason ? h("span", { class: "muted reason" }, r.reason) : null,
        ),
      ),
    );
  }

  function renderSummary() {
    const blind = answer.approaches.filter((a) => a.blind).length;
    const main = answer.approaches.filter((a) => a.main).length;
    const best = h("input", { type: "number", min: 1, max: 10, value: 2, id: "best-k" });
    const direction = incident.direction === "outbound" ? t("exits") : t("approaches");
    const closed = incident.status !== "open";
    summary.dataset.incidentId = incident.id;
    summary.dataset.status = incident.status;
    clear(
      summary,
      h("h2", {}, `${t("incident")} #${incident.id}`, closed ? ` · ${t("state_closed")}` : ""),
      h(
        "div",
        { class: "summary", id: "approach-summary" },
        h("span", {}, `${direction} ${answer.approaches.length}`),
        h("span", {}, `${t("main")} ${main}`),
        h("span", { class: "blind-count" }, `${t("blind")} ${blind}`),
        h("span", { class: "muted" }, `R ${Math.round(incident.radius_m)} m · ${t(`level_${incident.level}`)}`),
      ),
      answer.incomplete ? h("p", { class: "warning" }, t("incomplete")) : null,
      h(
        "div",
        { class: "row" },
        best,
        h("span", {}, t("bestK")),
        h("button", { type: "button", class: "primary", id: "request-best", disabled: closed, onclick: () => requestFeeds({ best: Number(best.value) }) }, t("requestBest")),
        h("button", { type: "button", id: "request-chosen", disabled: closed, onclick: () => requestChosen() }, t("requestChosen")),
      ),
      requestError,
      h("h2", {}, t("requests")),
      requestsList,
      h(
        "div",
        { class: "row" },
        h("a", { href: `/v1/incidents/${incident.id}/control-points?format=csv`, download: `incident-${incident.id}-control-points.csv`, id: "control-points" }, t("controlPoints")),
        h("button", { type: "button", class: "danger", id: "close-incident", disabled: closed, onclick: closeIncident }, t("closeIncident")),
        h("button", { type: "button", onclick: reset }, t("newIncident")),
      ),
      h("h2", {}, direction),
      approachList(),
    );
  }

  function approachList() {
    return h(
      "ol",
      { class: "approaches", id: "approach-list" },
      [...answer.approaches].sort(approachSort).map((a) => {
        const arrow = h("span", { class: "bearing", title: `${t("bearing")} ${Math.round(a.bearing_deg)}°` }, "↑");
        arrow.style.transform = `rotate(${a.bearing_deg}deg)`;
        const cams = answer.camerasByApproach.get(a.id) || [];
        return h(
          "li",
          { class: `approach${a.blind ? " blind" : ""}`, "data-approach-id": a.id, "data-blind": a.blind ? "yes" : "no", "data-main": a.main ? "yes" : "no" },
          h(
            "div",
            { class: "head" },
            h("span", { class: "aid" }, a.id),
            h("span", { class: "road" }, a.name || a.highway),
            a.main ? h("span", { class: "tag main" }, t("main")) : null,
            a.blind ? h("span", { class: "tag blind" }, t("blind")) : null,
            arrow,
            h("span", { class: "muted" }, `${Math.round(a.bearing_deg)}°`),
          ),
          cams.length
            ? h(
                "ul",
                { class: "cams" },
                cams.slice(0, 3).map((c) =>
                  h(
                    "li",
                    { "data-camera-id": c.camera_id },
                    h("input", { type: "checkbox", class: "choose", value: c.camera_id, "aria-label": `${t("camera")} ${c.camera_id}` }),
                    h("span", { class: "mono" }, `#${c.camera_id}`),
                    levelTag(c.dori_level, c.confidence),
                    c.facing ? h("span", { class: "muted" }, t("facing")) : null,
                    h("span", { class: "muted" }, `${Math.round(c.distance_m)} m`),
                    c.online ? null : h("span", { class: "muted" }, "offline"),
                  ),
                ),
              )
            : h("p", { class: "muted" }, t("noCamera")),
        );
      }),
    );
  }

  function requestChosen() {
    const ids = [...new Set([...summary.querySelectorAll("input.choose:checked")].map((el) => Number(el.value)))];
    if (ids.length) requestFeeds({ camera_ids: ids });
  }

  async function closeIncident() {
    try {
      incident = await api.post(`/v1/incidents/${incident.id}/close`, {});
      renderSummary();
      await refreshFeeds();
    } catch (error) {
      requestError.textContent = errorText(error);
    }
  }

  function reset() {
    incident = null;
    answer = null;
    feeds = [];
    credentials.clear();
    for (const marker of labels) marker.remove();
    labels = [];
    for (const id of ["answer", "cameras", "coverage"]) setOverlay(map, id, EMPTY);
    clear(summary);
    form.el.hidden = false;
    incidentsBox.hidden = false;
    hint.hidden = false;
    wall.update({ incident: null, feeds: [] });
    loadIncidents();
  }

  const stop = api.onEvent((type, data) => {
    if (!incident) {
      if (type.startsWith("incident.")) loadIncidents();
      return;
    }
    if (data.incident_id !== undefined && data.incident_id !== incident.id) return;
    if (type === "incident.closed" || type === "resync") {
      api.get(`/v1/incidents/${incident.id}`).then((fresh) => {
        incident = fresh;
        renderSummary();
      });
    }
    refreshFeeds().catch(() => {});
  });

  loadIncidents();
  return () => {
    stop();
    wall.destroy();
    map.remove();
  };
}

function indexAnswer(collection) {
  const approaches = [];
  const camerasByApproach = new Map();
  const levelOf = new Map();
  const cameraInfo = new Map();
  const stretches = [];
  let incident = null;
  let incomplete = false;
  const mapFeatures = [];
  for (const feature of collection.features) {
    const p = feature.properties;
    if (p.role === "incident") {
      incident = feature.geometry.coordinates;
      incomplete = Boolean(p.incomplete);
      mapFeatures.push(feature);
    } else if (p.role === "cordon") {
      incomplete = incomplete || Boolean(p.incomplete);
      mapFeatures.push(feature);
    } else if (p.role === "approach") {
      approaches.push({ ...p, coords: feature.geometry.coordinates });
    } else if (p.role === "watch_stretch") {
      stretches.push(feature);
    } else if (p.role === "camera") {
      const list = camerasByApproach.get(p.approach) || [];
      list.push(p);
      camerasByApproach.set(p.approach, list);
      if (p.online) {
        const before = levelOf.get(p.camera_id);
        if (!before || LEVELS.indexOf(p.dori_level) > LEVELS.indexOf(before)) levelOf.set(p.camera_id, p.dori_level);
      }
      if (!cameraInfo.has(p.camera_id)) cameraInfo.set(p.camera_id, { coords: feature.geometry.coordinates, online: p.online, confidence: p.confidence });
    }
  }
  for (const list of camerasByApproach.values()) list.sort((a, b) => a.rank - b.rank);
  const byId = new Map(approaches.map((a) => [a.id, a]));
  for (const s of stretches) {
    const a = byId.get(s.properties.approach);
    mapFeatures.push({ ...s, properties: { ...s.properties, blind: Boolean(a?.blind), main: Boolean(a?.main) } });
  }
  for (const a of approaches) mapFeatures.push({ type: "Feature", geometry: { type: "Point", coordinates: a.coords }, properties: { ...a, blind: Boolean(a.blind), main: Boolean(a.main) } });
  const cameraPoints = [...cameraInfo.entries()].map(([id, info]) => ({
    type: "Feature",
    geometry: { type: "Point", coordinates: info.coords },
    properties: { camera_id: id, online: info.online, confidence: info.confidence, level: levelOf.get(id) || "none" },
  }));
  const xs = cameraPoints.map((f) => f.geometry.coordinates[0]);
  const ys = cameraPoints.map((f) => f.geometry.coordinates[1]);
  const cameraBox = xs.length ? [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)] : null;
  return { approaches, camerasByApproach, levelOf, mapFeatures, cameraPoints, cameraBox, incident, incomplete };
}

function incidentForm() {
  const lon = h("input", { type: "number", step: "0.000001", id: "incident-lon", name: "lon", required: true });
  const lat = h("input", { type: "number", step: "0.000001", id: "incident-lat", name: "lat", required: true });
  const by = select("cordon-by", [["radius", t("byRadius")], ["time", t("byTime")]]);
  const radius = h("input", { type: "number", min: 50, max: 5000, step: 10, value: 500, id: "radius-m" });
  const minutes = h("input", { type: "number", min: 0.5, max: 600, step: 0.5, value: 3, id: "minutes" });
  const speed = h("input", { type: "number", min: 1, max: 300, step: 1, value: 30, id: "speed-kmh" });
  const mode = select("mode", ["network", "euclidean"].map((v) => [v, t(`mode_${v}`)]));
  const direction = select("direction", ["inbound", "outbound", "both"].map((v) => [v, t(`direction_${v}`)]));
  const travel = select("travel", ["drive", "foot"].map((v) => [v, t(`travel_${v}`)]));
  const level = select("level", LEVELS.map((v) => [v, t(`level_${v}`)]));
  level.value = "observe";
  const error = h("p", { class: "error", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary", id: "raise-incident" }, t("raise"));
  const timeRows = [h("label", { for: "minutes" }, t("minutes")), minutes, h("label", { for: "speed-kmh" }, t("speedKmh")), speed];
  const radiusRows = [h("label", { for: "radius-m" }, t("radiusM")), radius];
  const el = h(
    "form",
    { class: "incident-form", id: "incident-form" },
    h("h2", {}, t("newIncident")),
    h("p", { class: "muted" }, t("clickMapHint")),
    h(
      "div",
      { class: "form-grid" },
      h("label", { for: "incident-lon" }, t("lon")),
      lon,
      h("label", { for: "incident-lat" }, t("lat")),
      lat,
      h("label", { for: "cordon-by" }, t("cordonBy")),
      by,
      ...radiusRows,
      ...timeRows,
      h("label", { for: "mode" }, t("mode")),
      mode,
      h("label", { for: "direction" }, t("direction")),
      direction,
      h("label", { for: "travel" }, t("travel")),
      travel,
      h("label", {}, "DORI"),
      level,
    ),
    h("div", { class: "row" }, submit),
    error,
  );
  const toggle = () => {
    for (const node of timeRows) node.hidden = by.value !== "time";
    for (const node of radiusRows) node.hidden = by.value !== "radius";
  };
  by.addEventListener("change", toggle);
  toggle();
  return {
    el,
    setPoint(x, y) {
      lon.value = x.toFixed(6);
      lat.value = y.toFixed(6);
    },
    setBusy(busy) {
      submit.disabled = busy;
    },
    setError(text) {
      error.textContent = text;
    },
    onSubmit(handler) {
      el.addEventListener("submit", (event) => {
        event.preventDefault();
        error.textContent = "";
        if (lon.value === "" || lat.value === "") {
          error.textContent = t("clickMapHint");
          return;
        }
        const body = {
          lon: Number(lon.value),
          lat: Number(lat.value),
          mode: mode.value,
          direction: direction.value,
          travel: travel.value,
          level: level.value,
        };
        if (by.value === "time") Object.assign(body, { minutes: Number(minutes.value), speed_kmh: Number(speed.value) });
        else body.radius_m = Number(radius.value);
        handler(body);
      });
    },
  };
}

function select(id, options) {
  return h("select", { id, name: id }, options.map(([value, label]) => h("option", { value }, label)));
}
