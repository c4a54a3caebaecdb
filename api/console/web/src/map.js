// The map every view draws on: MapLibre GL JS over gilmok's own road tiles (style.json), nothing
// from elsewhere. Overlays are GeoJSON sources and layers declared as data by each view.
import * as maplibregl from "maplibre-gl";
import baseStyle from "./style.json";

export { maplibregl };

/** Where maps open: the page says (the server warms those tiles); else central Seoul. */
let opening = { center: [126.9769, 37.5759], zoom: 15 };

/** Where maps open, as the page says (its worker is map-worker.js's). */
export function configureMap(view) {
  if (Array.isArray(view?.center) && Number.isFinite(view?.zoom)) opening = view;
}

function absoluteStyle() {
  const style = structuredClone(baseStyle);
  // Tiles asked for under the roads' version the page gave are cached by the browser for good.
  const version = typeof opening.roads === "string" ? `?v=${encodeURIComponent(opening.roads)}` : "";
  for (const source of Object.values(style.sources)) {
    // MapLibre wants absolute tile URLs; URL() would escape the {z}/{x}/{y} placeholders.
    if (source.tiles) source.tiles = source.tiles.map((tile) => window.location.origin + tile + version);
  }
  return style;
}

/** A map in `container`; resolves once its style is loaded (overlays may be added then). */
export function createMap(container, { center = opening.center, zoom = opening.zoom, interactive = true } = {}) {
  const map = new maplibregl.Map({
    container,
    style: absoluteStyle(),
    center,
    zoom,
    minZoom: 8,
    maxZoom: 19,
    interactive,
    // Labels appear at once rather than fading in: no frames drawn for the fade alone (in a
    // browser drawing WebGL in software each frame is a tenth of a second).
    fadeDuration: 0,
    attributionControl: interactive ? { compact: true } : false,
    localIdeographFontFamily: "'NanumGothic', 'Noto Sans CJK KR', 'Malgun Gothic', sans-serif",
  });
  if (interactive) map.addControl(new maplibregl.NavigationControl({ showCompass: true }), "top-right");
  if (interactive) map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
  const ready = new Promise((resolve) => map.once("load", () => resolve(map)));
  // For people and tests alike: whether the roads in view are drawn ("loaded": their tiles in,
  // holding roads; "missing": in, but none drawn, e.g. a tile the server failed), again after
  // every move.
  map.on("movestart", () => {
    container.dataset.roads = "loading";
  });
  map.on("idle", () => {
    if (!map.getSource("roads") || !map.isSourceLoaded("roads")) return;
    const drawn = map.querySourceFeatures("roads", { sourceLayer: "roads" }).length > 0;
    container.dataset.roads = drawn ? "loaded" : "missing";
  });
  return { map, ready };
}

/** Adds (or replaces the data of) GeoJSON source `id` and, the first time, its `layers`. */
export function setOverlay(map, id, data, layers = []) {
  const source = map.getSource(id);
  if (source) {
    source.setData(data);
    return;
  }
  map.addSource(id, { type: "geojson", data });
  for (const layer of layers) map.addLayer({ ...layer, source: id });
}

export const EMPTY = { type: "FeatureCollection", features: [] };
