// The regional centre and the admin: legal bases (activations) — the list, one created on an
// area drawn on the map within the centre's service area, and ending one.
import { clear, h } from "../dom.js";
import { t } from "../i18n.js";
import { createMap, EMPTY, setOverlay } from "../map.js";
import { AREA_LAYERS } from "../overlays.js";
import { errorText, formatTime } from "./common.js";

const BASES = [
  "integrated_defence_situation",
  "alert_level_2",
  "integrated_defence_drill",
  "government_exercise",
  "rok_us_combined_exercise",
  "terrorism",
  "natural_disaster",
  "social_disaster",
  "emergency_rescue",
];
const SERVICE_LAYERS = [
  { id: "service-line", type: "line", paint: { "line-color": "#6b2fa3", "line-width": 2, "line-dasharray": [3, 2] } },
];
const ACTIVE_LAYERS = [
  { id: "active-fill", type: "fill", paint: { "fill-color": "#c0262d", "fill-opacity": 0.08 } },
  { id: "active-line", type: "line", paint: { "line-color": "#c0262d", "line-width": 1.5 } },
];

export function mountRegional(root, { api, session }) {
  const basis = h("select", { id: "basis" }, BASES.map((code) => h("option", { value: code }, t(`basis_${code}`))));
  basis.value = "alert_level_2";
  const reference = h("input", { type: "text", id: "reference", maxlength: 200, required: true });
  const hours = h("input", { type: "number", id: "hours", min: 1, max: 2160, value: 24 });
  const message = h("p", { class: "error", role: "alert" });
  const vertices = [];
  const create = h("button", { type: "submit", class: "primary", id: "create-activation", disabled: true }, t("create"));
  const form = h(
    "form",
    { id: "activation-form" },
    h("h2", {}, t("newActivation")),
    h("p", { class: "muted" }, t("drawArea")),
    h(
      "div",
      { class: "form-grid" },
      h("label", { for: "basis" }, t("basis")),
      basis,
      h("label", { for: "reference" }, t("reference")),
      reference,
      h("label", { for: "hours" }, `${t("endsAt")} (h)`),
      hours,
    ),
    h("div", { class: "row" }, create, h("button", { type: "button", onclick: () => clearArea() }, t("clearArea"))),
    message,
  );
  const list = h("tbody", { id: "activations" });
  const panel = h(
    "aside",
    { class: "panel" },
    form,
    h("h2", {}, t("activations")),
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, h("th", {}, "#"), h("th", {}, t("basis")), h("th", {}, t("reference")), h("th", {}, t("endsAt")), h("th", {}, ""))),
      list,
    ),
  );
  const mapEl = h("div", { class: "map", id: "map" });
  root.append(panel, h("section", { class: "map-area" }, mapEl, h("div", { class: "map-hint" }, t("drawArea"))));
  const { map, ready } = createMap(mapEl, { zoom: 13 });
  map.doubleClickZoom.disable();

  ready.then(async () => {
    setOverlay(map, "service", EMPTY, SERVICE_LAYERS);
    setOverlay(map, "active", EMPTY, ACTIVE_LAYERS);
    setOverlay(map, "area", EMPTY, AREA_LAYERS);
    map.getContainer().dataset.ready = "yes";
    try {
      const found = await api.get(`/v1/organizations/${session.organization.id}/service-area`);
      if (found.area) setOverlay(map, "service", { type: "Feature", geometry: found.area, properties: {} });
    } catch {
      // no service area to show: the server says so when an activation is refused
    }
  });

  map.on("click", (event) => {
    vertices.push([event.lngLat.lng, event.lngLat.lat]);
    drawArea();
  });
  map.on("dblclick", (event) => {
    event.preventDefault();
    drawArea();
  });

  function areaGeometry() {
    if (vertices.length < 3) return null;
    return { type: "Polygon", coordinates: [[...vertices, vertices[0]]] };
  }

  function drawArea() {
    const features = vertices.map((v) => ({ type: "Feature", geometry: { type: "Point", coordinates: v }, properties: {} }));
    const polygon = areaGeometry();
    if (polygon) features.push({ type: "Feature", geometry: polygon, properties: {} });
    else if (vertices.length === 2) features.push({ type: "Feature", geometry: { type: "LineString", coordinates: vertices }, properties: {} });
    setOverlay(map, "area", { type: "FeatureCollection", features });
    create.disabled = !polygon;
  }

  function clearArea() {
    vertices.length = 0;
    drawArea();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    const area = areaGeometry();
    if (!area) return;
    const now = new Date();
    const ends = new Date(now.getTime() + Number(hours.value) * 3600 * 1000);
    try {
      await api.post("/v1/activations", {
        basis: basis.value,
        reference: reference.value.trim() || "-",
        area,
        starts_at: now.toISOString(),
        ends_at: ends.toISOString(),
      });
      clearArea();
      reference.value = "";
      await refresh();
    } catch (error) {
      message.textContent = errorText(error);
    }
  });

  async function refresh() {
    let items = [];
    try {
      const found = await api.get("/v1/activations", { limit: 100 });
      items = found.items || [];
    } catch (error) {
      message.textContent = errorText(error);
      return;
    }
    clear(
      list,
      items.map((a) =>
        h(
          "tr",
          { "data-activation-id": a.id, "data-state": a.state },
          h("td", {}, a.id),
          h("td", {}, t(`basis_${a.basis.code}`)),
          h("td", {}, a.reference),
          h("td", {}, a.state === "active" ? formatTime(a.ends_at) : `${t("ended")} ${formatTime(a.ended_at || a.ends_at)}`),
          h(
            "td",
            {},
            a.state === "active"
              ? h("button", { type: "button", class: "danger end-activation", onclick: () => end(a) }, t("end"))
              : "",
          ),
        ),
      ),
    );
    await ready;
    const active = items.filter((a) => a.state === "active");
    setOverlay(map, "active", {
      type: "FeatureCollection",
      features: active.map((a) => ({ type: "Feature", geometry: a.area, properties: { id: a.id } })),
    });
  }

  async function end(activation) {
    message.textContent = "";
    try {
      await api.post(`/v1/activations/${activation.id}/end`, { reason: "ended from the console" });
    } catch (error) {
      message.textContent = errorText(error);
    }
    await refresh();
  }

  const stop = api.onEvent((type) => type.startsWith("activation.") && refresh());
  refresh();
  return () => {
    stop();
    map.remove();
  };
}
