// MapLibre's worker, started as soon as MapLibre itself is evaluated and before the rest of the
// bundle is: main.js imports this module first. The page names the worker's file (its CSP allows
// workers from this origin only) and carries the signed-in session; only the views that draw a
// map start it now (the sign-in form and the auditor's trail need none).
import { prewarm, setWorkerUrl } from "maplibre-gl";

/** The views that draw a map. */
export const MAP_ROLES = new Set(["requester", "municipal_centre", "regional_centre", "admin"]);

const root = document.getElementById("app");
if (root?.dataset.worker) {
  setWorkerUrl(root.dataset.worker);
  if (MAP_ROLES.has(carriedRole(root.dataset.session))) prewarm();
}

function carriedRole(text) {
  try {
    return JSON.parse(text || "null")?.role;
  } catch {
    return undefined;
  }
}
