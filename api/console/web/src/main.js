// The console's entry: sign-in, then the view for the session's role.
import "./map-worker.js"; // first: the map's worker starts while the rest is evaluated
import { Api } from "./api.js";
import { clear, h } from "./dom.js";
import { currentLang, t, toggleLang } from "./i18n.js";
import { configureMap } from "./map.js";
import { mountAuditor } from "./views/auditor.js";
import { mountCentre } from "./views/centre.js";
import { mountRegional } from "./views/regional.js";
import { mountRequester } from "./views/requester.js";
import { mountSignIn } from "./views/signin.js";

const VIEWS = {
  requester: mountRequester,
  municipal_centre: mountCentre,
  regional_centre: mountRegional,
  admin: mountRegional,
  auditor: mountAuditor,
};

const root = document.getElementById("app");
const api = new Api();
let unmount = null;

configureMap(readJson(root.dataset.view));
document.documentElement.lang = currentLang();

async function start() {
  // The page carries the signed-in session (or null): no round trip before the view. The CSRF
  // token goes into memory and out of the document.
  const carried = readJson(root.dataset.session);
  delete root.dataset.session;
  if (carried !== undefined) {
    if (carried) api.csrfToken = carried.csrf_token;
    show(carried);
    return;
  }
  clear(root, h("p", { class: "loading" }, t("loading")));
  let session = null;
  try {
    session = await api.session();
  } catch (error) {
    clear(root, h("p", { class: "error" }, `${t("error")}: ${error.message}`));
    return;
  }
  show(session);
}

/** A data attribute's JSON; undefined when it is missing or not JSON. */
function readJson(text) {
  if (text === undefined || text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function show(session) {
  unmount?.();
  unmount = null;
  document.title = t("title");
  if (!session) {
    api.closeEvents();
    clear(root, header(null), mountSignIn(api, show));
    return;
  }
  api.openEvents();
  const main = h("main", { class: "view", "data-role": session.role });
  clear(root, header(session), main);
  const mount = VIEWS[session.role];
  if (!mount) {
    main.append(h("p", { class: "notice" }, t("noViewForRole")));
    return;
  }
  unmount = mount(main, { api, session }) || null;
}

// A stream the server ended (sign-out elsewhere, the session's end, the key revoked): back to
// the sign-in form if the session is gone, else listen again.
api.onEvent(async (type) => {
  if (type !== "end") return;
  const session = await api.session().catch(() => null);
  if (!session) show(null);
  else api.openEvents();
});

let stopStatus = null;

function header(session) {
  const status = h("span", { class: "live-status", "data-live": "unknown" });
  stopStatus?.();
  stopStatus = null;
  if (session) {
    const showStatus = (connected) => {
      status.dataset.live = connected ? "yes" : "no";
      status.textContent = connected ? t("live") : t("offline");
    };
    stopStatus = api.onStatus(showStatus);
    if (api.connected) showStatus(true);
  }
  return h(
    "header",
    { class: "topbar" },
    h("h1", {}, t("title")),
    session &&
      h(
        "span",
        { class: "who" },
        h("strong", { class: "org-name" }, session.organization.name),
        " · ",
        h("span", { class: "role" }, t(`role_${session.role}`)),
      ),
    session && status,
    h("span", { class: "spacer" }),
    h("button", { type: "button", class: "lang", onclick: () => (toggleLang(), show(session)) }, t("language")),
    session &&
      h(
        "button",
        { type: "button", class: "sign-out", onclick: async () => (await api.signOut().catch(() => {}), show(null)) },
        t("signOut"),
      ),
  );
}

start();
