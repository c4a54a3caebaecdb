// The requester's video wall: one tile per feed of the incident, playing the live relay stream
// (janus-viewer.js) and labelled with camera, approach, owner, DORI level, media age (since the
// last decoded frame) and the session's expiry countdown. A tile goes dark with the reason the
// moment it learns the feed ended, whichever says so first: the relay (the mountpoint destroyed
// hangs the viewer up), the API's event stream (feed_session.ended, feed_request.revoked,
// incident.closed, activation.ended), or the countdown reaching the expiry. A stream the relay
// dropped while the feed is still allowed (a relay restart, a replaced stream) is watched again
// with a fresh credential.
//
// mountVideoWall(container, {api, session}) → {update({incident, feeds}), destroy()}
//   incident: the incident as GET /v1/incidents/{id} answers it (its approaches name the
//             cameras and their DORI levels), or null for none;
//   feeds:    its feed requests as GET /v1/incidents/{id}/feeds lists them; an item that holds
//             a `credential` (POST …/feeds with auto-approval) is watched with it, any other
//             provisioned one after POST /v1/feed-requests/{id}/credential; an approved one
//             not yet on the relay waits for its feed_session.live event.
// The wall refetches the list itself on every event of its incident.
import { clear, h } from "./dom.js";
import { currentLang } from "./i18n.js";
import { watchFeed } from "./janus-viewer.js";

const WORDS = {
  ko: {
    title: "영상 벽",
    empty: "요청한 영상이 아직 없습니다",
    connecting: "연결 중…",
    mediaAge: "영상 지연",
    noFrame: "프레임 없음",
    expiresIn: "만료까지",
    camera: "카메라",
    approach: "진입로",
    owner: "제공",
    ended: "종료됨",
    reason_revoked: "회수됨",
    reason_expired: "만료됨",
    reason_activation_ended: "법적 근거(발령) 종료",
    reason_incident_closed: "사건 종료",
    reason_failed: "중계 실패",
    reason_denied: "거부됨",
    reason_relay: "중계 연결 끊김",
    level_detect: "탐지",
    level_observe: "관찰",
    level_recognise: "인식",
    level_identify: "식별",
  },
  en: {
    title: "Video wall",
    empty: "No feed requested yet",
    connecting: "connecting…",
    mediaAge: "media age",
    noFrame: "no frame",
    expiresIn: "expires in",
    camera: "camera",
    approach: "approach",
    owner: "from",
    ended: "ended",
    reason_revoked: "revoked",
    reason_expired: "expired",
    reason_activation_ended: "activation (legal basis) ended",
    reason_incident_closed: "incident closed",
    reason_failed: "relay failed",
    reason_denied: "denied",
    reason_relay: "relay connection lost",
    level_detect: "detect",
    level_observe: "observe",
    level_recognise: "recognise",
    level_identify: "identify",
  },
};

const word = (key) => (WORDS[currentLang()] || WORDS.ko)[key] ?? key;
const VIEWABLE = new Set(["approved", "provisioned"]);
const REASONS = new Set(["revoked", "expired", "activation_ended", "incident_closed"]);
const ENDING_EVENTS = new Set(["feed_session.ended", "feed_request.revoked", "feed_request.expired"]);
const ENDED = new Set(["revoked", "expired", "failed", "denied"]);
// A dropped stream of a feed still allowed is watched again, at most this often.
const RENEW_AFTER_MS = 1500;
const RENEW_LIMIT = 3;

/** Why a feed request ended, as one of the wall's reasons. */
export function reasonOf(item) {
  const said = `${item?.reason || ""}`.toLowerCase();
  if (item?.status === "expired" || item?.viewer?.session_status === "expired") return "expired";
  if (item?.status === "failed") return "failed";
  if (item?.status === "denied") return "denied";
  if (said.includes("activation") || said.includes("legal basis")) return "activation_ended";
  if (said.includes("incident")) return "incident_closed";
  return "revoked";
}

function countdown(ms) {
  if (ms <= 0) return "00:00";
  const s = Math.floor(ms / 1000);
  const hh = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  return hh > 0 ? `${hh}:${mm}:${ss}` : `${mm}:${ss}`;
}

/** Camera id → {approach, road, level} of its best placement among the incident's approaches:
 * from the incident's stored approaches (each listing its cameras) or an answer's features (the
 * approaches and the cameras as features of their own, role "approach" / "camera"). */
function placements(incident) {
  const out = new Map();
  const roads = new Map();
  const place = (cam, approach) => {
    const seen = out.get(cam.camera_id);
    if (!seen || cam.rank < seen.rank) {
      out.set(cam.camera_id, { approach, level: cam.dori_level, rank: cam.rank });
    }
  };
  const features = [incident?.approaches, incident?.answer].flatMap((c) => c?.features || []);
  for (const feature of features) {
    const p = feature.properties || {};
    if (p.role === "camera") place(p, p.approach);
    else if (p.id !== undefined && (p.role === "approach" || p.cameras)) {
      roads.set(p.id, p.road_name || p.name || "");
      for (const cam of p.cameras || []) place(cam, p.id);
    }
  }
  for (const where of out.values()) where.road = roads.get(where.approach) || "";
  return out;
}

class Tile {
  constructor(wall, item) {
    this.wall = wall;
    this.id = item.id;
    this.cameraId = item.camera_id;
    this.viewer = null;
    this.expiresAt = null;
    this.lastFrameAt = null;
    this.renewals = 0;
    this.used = new Set();
    this.renewing = false;
    this.video = h("video", { muted: true, autoplay: true, playsinline: true });
    this.video.muted = true;
    this.title = h("span", { class: "tile-title" });
    this.meta = h("span", { class: "tile-meta" });
    this.age = h("span", { class: "tile-age" });
    this.expiry = h("span", { class: "tile-expiry" });
    this.overlay = h("div", { class: "tile-overlay" }, word("connecting"));
    this.el = h(
      "figure",
      { class: "vw-tile", dataset: { feedRequest: item.id, camera: item.camera_id, state: "connecting" } },
      h("div", { class: "tile-screen" }, this.video, this.overlay),
      h("figcaption", {}, h("div", { class: "tile-head" }, this.title, this.meta), h("div", { class: "tile-foot" }, this.age, this.expiry)),
    );
    this.trackFrames();
    this.label(item);
  }

  trackFrames() {
    const seen = () => {
      this.lastFrameAt = performance.now();
      if (this.el.dataset.state === "live") this.video.requestVideoFrameCallback(seen);
    };
    this.video.addEventListener("playing", () => {
      this.lastFrameAt = performance.now();
      if ("requestVideoFrameCallback" in this.video) this.video.requestVideoFrameCallback(seen);
    });
  }

  label(item) {
    const where = this.wall.placements.get(item.camera_id);
    const approach = where ? `${where.approach}${where.road ? ` ${where.road}` : ""}` : "";
    this.title.textContent = `${word("camera")} #${item.camera_id}${approach ? ` · ${approach}` : ""}`;
    const level = where?.level ? word(`level_${where.level}`) : "";
    this.meta.textContent = [item.owner?.name, level].filter(Boolean).join(" · ");
    this.activationId = item.activation_id;
    const expires = item.viewer?.expires_at || item.credential?.expires_at;
    if (expires) this.expiresAt = Date.parse(expires);
  }

  watch(offer) {
    this.viewer?.close();
    // The relay's WebSocket API when offered: a browser holds six HTTP connections per host,
    // and each feed's Janus session would keep one of them in a long poll.
    const endpoint =
      offer.viewer.find((v) => v.protocol === "janus-streaming-ws") ||
      offer.viewer.find((v) => v.protocol === "janus-streaming") ||
      offer.viewer[0];
    if (offer.expires_at) this.expiresAt = Date.parse(offer.expires_at);
    this.setState("connecting", word("connecting"));
    const viewer = watchFeed({
      server: endpoint.url,
      stream: endpoint.stream,
      pin: offer.credential.pin,
      token: offer.credential.token,
      video: this.video,
      onLive: () => {
        if (this.viewer === viewer) this.setState("live");
      },
      onEnded: (cause) => {
        if (this.viewer !== viewer || cause === "closed") return;
        this.viewer = null;
        // Dark at once; the API says why (or lets the wall watch a replaced stream again).
        this.dark("relay", cause);
        this.wall.refresh();
      },
    });
    this.viewer = viewer;
  }

  setState(state, text = "") {
    this.el.dataset.state = state;
    this.overlay.textContent = text;
    this.overlay.hidden = state === "live";
  }

  /** Dark with a reason; "relay" (the stream dropped, cause unknown yet) never hides a known one. */
  dark(reason, cause = "") {
    if (this.isDark && (reason === "relay" || this.el.dataset.reason === reason)) return;
    this.viewer?.close();
    this.viewer = null;
    this.video.srcObject = null;
    this.el.dataset.reason = reason;
    if (cause) this.el.dataset.cause = cause;
    this.age.textContent = "";
    this.expiry.textContent = "";
    // When it went dark (epoch ms): what the browser tests hold against the revocation.
    if (!this.el.dataset.darkAt) this.el.dataset.darkAt = String(Date.now());
    this.setState("dark", `${word("ended")}: ${word(`reason_${reason}`)}`);
  }

  get isDark() {
    return this.el.dataset.state === "dark";
  }

  tick(now) {
    if (this.isDark) {
      this.age.textContent = "";
      this.expiry.textContent = "";
      return;
    }
    if (this.expiresAt !== null) {
      const left = this.expiresAt - Date.now();
      this.expiry.textContent = `${word("expiresIn")} ${countdown(left)}`;
      // The server ends the session at its expiry (within half a second); the wall need not wait.
      if (left <= 0 && !this.isDark) this.dark("expired");
    }
    if (this.el.dataset.state === "live" && this.lastFrameAt !== null) {
      this.age.textContent = `${word("mediaAge")} ${Math.round(now - this.lastFrameAt)} ms`;
    } else {
      this.age.textContent = `${word("mediaAge")} —`;
    }
  }

  destroy() {
    this.viewer?.close();
    this.viewer = null;
    this.el.remove();
  }
}

export function mountVideoWall(container, { api }) {
  const tiles = new Map();
  const grid = h("div", { class: "vw-grid" });
  const empty = h("p", { class: "vw-empty" }, word("empty"));
  const root = h("section", { class: "vw", "aria-label": word("title") }, h("h2", {}, word("title")), empty, grid);
  container.append(root);

  const wall = { placements: new Map(), incident: null, refresh: () => refresh() };
  let refreshing = null;
  let again = false;

  const tileFor = (item) => {
    let tile = tiles.get(item.id);
    if (!tile) {
      tile = new Tile(wall, item);
      tiles.set(item.id, tile);
      grid.append(tile.el);
      empty.hidden = true;
    }
    return tile;
  };

  const collect = async (tile, item) => {
    if (tile.renewing) return;
    tile.renewing = true;
    try {
      // A credential is used once: after a drop, the one the caller still holds opens nothing.
      const given = item.credential && !tile.used.has(item.credential.credential?.token) ? item.credential : null;
      const offer = given || (await api.post(`/v1/feed-requests/${item.id}/credential`)).credential;
      if (offer) tile.used.add(offer.credential?.token);
      if (offer && (!tile.isDark || tile.el.dataset.reason === "relay")) tile.watch(offer);
    } catch (error) {
      // 409: not viewable any more (revoked, expired, closed); the list says why. Only a
      // provisioned feed is asked for a credential, so this does not loop on an approved one.
      if (error?.status !== 409) tile.dark("failed");
      refresh();
    } finally {
      tile.renewing = false;
    }
  };

  const reconcile = (items) => {
    for (const item of items) {
      const known = tiles.get(item.id);
      if (VIEWABLE.has(item.status)) {
        const tile = tileFor(item);
        tile.label(item);
        const dropped = tile.isDark && tile.el.dataset.reason === "relay";
        // Approved but not yet on the relay: the tile waits; the feed_session.live event that
        // follows the provisioning refreshes the list, and the credential is asked for then.
        const ready = item.status === "provisioned" || item.credential;
        if (ready && !tile.viewer && (!tile.isDark || dropped)) {
          if (dropped) {
            if (tile.renewals >= RENEW_LIMIT) continue;
            tile.renewals += 1;
            setTimeout(() => collect(tile, item), RENEW_AFTER_MS);
          } else {
            collect(tile, item);
          }
        }
      } else if (ENDED.has(item.status) && known) {
        known.dark(reasonOf(item));
      }
    }
  };

  async function refresh() {
    if (!wall.incident) return;
    if (refreshing) {
      again = true;
      return;
    }
    const incidentId = wall.incident.id;
    refreshing = (async () => {
      try {
        const listing = await api.get(`/v1/incidents/${incidentId}/feeds`);
        if (wall.incident?.id === incidentId) reconcile(listing.items || []);
      } catch {
        // the event stream's next event (or the next update) tries again
      }
    })();
    await refreshing;
    refreshing = null;
    if (again) {
      again = false;
      refresh();
    }
  }

  const darkAll = (reason) => {
    for (const tile of tiles.values()) tile.dark(reason);
  };

  const onEvent = (type, data = {}) => {
    const incident = wall.incident;
    if (!incident) return;
    const ofIncident = data.incident_id === undefined || Number(data.incident_id) === incident.id;
    if (type === "incident.closed" && ofIncident) darkAll("incident_closed");
    else if (type === "activation.ended" && data.activation_id !== undefined) {
      for (const tile of tiles.values()) {
        if (tile.activationId === Number(data.activation_id)) tile.dark("activation_ended");
      }
    } else if (ENDING_EVENTS.has(type)) {
      // The event names the reason (api/events.py); an older server's text is read as the list's.
      const reason = REASONS.has(data.reason) ? data.reason : reasonOf({ status: data.state, reason: data.message });
      tiles.get(Number(data.feed_request_id))?.dark(reason);
    }
    if (ofIncident) refresh();
  };
  const unsubscribe = api.onEvent ? api.onEvent(onEvent) : () => {};
  const timer = setInterval(() => {
    const now = performance.now();
    for (const tile of tiles.values()) tile.tick(now);
  }, 200);

  return {
    update({ incident = null, feeds = null } = {}) {
      if (incident?.id !== wall.incident?.id) {
        for (const tile of tiles.values()) tile.destroy();
        tiles.clear();
        clear(grid);
        empty.hidden = false;
      }
      wall.incident = incident;
      wall.placements = placements(incident);
      if (!incident) return;
      if (incident.status === "closed") darkAll("incident_closed");
      if (feeds) reconcile(feeds);
      else refresh();
    },
    destroy() {
      unsubscribe();
      clearInterval(timer);
      for (const tile of tiles.values()) tile.destroy();
      tiles.clear();
      root.remove();
    },
  };
}
