// The map's overlays, declared as data: each view puts GeoJSON into these sources and the layers
// below draw it. Colours by DORI level (IEC 62676-4) are shared with the side lists' tags.

export const LEVEL_COLORS = {
  identify: "#5b2a86",
  recognise: "#1f7a55",
  observe: "#3d8fd1",
  detect: "#c58a1a",
};
const LEVEL_COLOR = ["match", ["get", "level"], ...Object.entries(LEVEL_COLORS).flat(), "#888888"];
const BLIND_RED = "#d0212b";
const WATCHED_GREEN = "#1e8f4a";

const role = (name) => ["==", ["get", "role"], name];

/** Source "answer": the incident answer's features (incident, cordon, approaches, stretches). */
export const ANSWER_LAYERS = [
  {
    id: "cordon-fill",
    type: "fill",
    filter: ["all", role("cordon"), ["==", ["geometry-type"], "Polygon"]],
    paint: { "fill-color": "#6b2fa3", "fill-opacity": 0.06 },
  },
  {
    id: "cordon-line",
    type: "line",
    filter: role("cordon"),
    paint: { "line-color": "#6b2fa3", "line-width": 3, "line-dasharray": [2, 1.2], "line-opacity": 0.8 },
  },
  {
    id: "stretch-watched",
    type: "line",
    filter: ["all", role("watch_stretch"), ["!", ["get", "blind"]]],
    layout: { "line-cap": "round" },
    paint: { "line-color": WATCHED_GREEN, "line-width": 7, "line-opacity": 0.75 },
  },
  {
    id: "stretch-blind",
    type: "line",
    filter: ["all", role("watch_stretch"), ["get", "blind"]],
    paint: { "line-color": BLIND_RED, "line-width": 6, "line-dasharray": [1.2, 0.8], "line-opacity": 0.9 },
  },
  {
    id: "approach-points",
    type: "circle",
    filter: role("approach"),
    paint: {
      "circle-radius": ["case", ["get", "main"], 8, 6],
      "circle-color": ["case", ["get", "blind"], BLIND_RED, WATCHED_GREEN],
      "circle-stroke-color": "#ffffff",
      "circle-stroke-width": 2,
    },
  },
  {
    id: "approach-arrows",
    type: "symbol",
    filter: role("approach"),
    layout: {
      "icon-image": "gilmok-arrow",
      "icon-size": ["case", ["get", "main"], 1, 0.8],
      "icon-rotate": ["get", "bearing_deg"],
      "icon-rotation-alignment": "map",
      "icon-allow-overlap": true,
      "icon-ignore-placement": true,
    },
  },
  {
    id: "incident",
    type: "circle",
    filter: role("incident"),
    paint: { "circle-radius": 9, "circle-color": "#d0021b", "circle-stroke-color": "#ffffff", "circle-stroke-width": 3 },
  },
];

/** Source "coverage": watching cameras' coverage, properties level (reached) and confidence. */
export const COVERAGE_LAYERS = [
  {
    id: "coverage-fill",
    type: "fill",
    filter: ["==", ["get", "confidence"], "high"],
    paint: { "fill-color": LEVEL_COLOR, "fill-opacity": 0.28 },
  },
  {
    id: "coverage-low-fill",
    type: "fill",
    filter: ["!=", ["get", "confidence"], "high"],
    paint: { "fill-pattern": "gilmok-hatch", "fill-opacity": 0.8 },
  },
  {
    id: "coverage-outline",
    type: "line",
    filter: ["==", ["get", "confidence"], "high"],
    paint: { "line-color": LEVEL_COLOR, "line-width": 1.5 },
  },
  {
    id: "coverage-low-outline",
    type: "line",
    filter: ["!=", ["get", "confidence"], "high"],
    paint: { "line-color": LEVEL_COLOR, "line-width": 1.5, "line-dasharray": [2, 2] },
  },
];

/** Source "cameras": watching cameras, properties camera_id, level, online, confidence. */
export const CAMERA_LAYERS = [
  {
    id: "cameras",
    type: "circle",
    paint: {
      "circle-radius": 5,
      "circle-color": ["case", ["get", "online"], LEVEL_COLOR, "#9aa0a6"],
      "circle-stroke-color": "#111111",
      "circle-stroke-width": 1,
    },
  },
];

/** Source "area": a polygon being drawn or shown (activations). */
export const AREA_LAYERS = [
  { id: "area-fill", type: "fill", filter: ["==", ["geometry-type"], "Polygon"], paint: { "fill-color": "#1f5fae", "fill-opacity": 0.12 } },
  { id: "area-line", type: "line", paint: { "line-color": "#1f5fae", "line-width": 2 } },
  { id: "area-vertices", type: "circle", filter: ["==", ["geometry-type"], "Point"], paint: { "circle-radius": 4, "circle-color": "#1f5fae" } },
];

/** Images the layers above use: the approach arrow (pointing north, rotated by bearing) and the
 * hatch of low-confidence coverage. Drawn on a canvas: no sprite to fetch. */
export function addOverlayImages(map) {
  if (!map.hasImage("gilmok-arrow")) {
    const size = 32;
    const canvas = new OffscreenCanvas(size, size);
    const g = canvas.getContext("2d");
    g.fillStyle = "#111111";
    g.strokeStyle = "#ffffff";
    g.lineWidth = 2;
    g.beginPath();
    g.moveTo(size / 2, 2);
    g.lineTo(size - 7, size - 6);
    g.lineTo(size / 2, size - 12);
    g.lineTo(7, size - 6);
    g.closePath();
    g.stroke();
    g.fill();
    map.addImage("gilmok-arrow", g.getImageData(0, 0, size, size), { pixelRatio: 1.4 });
  }
  if (!map.hasImage("gilmok-hatch")) {
    const size = 8;
    const canvas = new OffscreenCanvas(size, size);
    const g = canvas.getContext("2d");
    g.strokeStyle = "rgba(60, 60, 60, 0.55)";
    g.lineWidth = 1.2;
    g.beginPath();
    g.moveTo(0, size);
    g.lineTo(size, 0);
    g.stroke();
    map.addImage("gilmok-hatch", g.getImageData(0, 0, size, size));
  }
}
