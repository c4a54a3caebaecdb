// One live feed through the Janus streaming plugin, as the feed's viewer credential allows: a Janus
// session opened with the feed's own token, "watch" with the mountpoint's pin, the relay's offer
// answered receive-only, "start"; the video track is played in the given <video>. The feed ends
// once, with the cause, when the relay ends it (mountpoint destroyed: "stopped" event, hangup),
// refuses it (wrong pin, token removed) or cannot be reached, or when the page closes it.
import Janus from "janus-gateway";
import adapter from "webrtc-adapter";

const STREAMING = "janus.plugin.streaming";
// Janus's streaming plugin errors: no such mountpoint, unauthorized (pin).
const NO_SUCH_MOUNTPOINT = 455;
const UNAUTHORIZED = 457;

let initialised = null;

function initJanus() {
  initialised ??= new Promise((resolve) => {
    Janus.init({
      debug: false,
      dependencies: Janus.useDefaultDependencies({ adapter }),
      callback: resolve,
    });
  });
  return initialised;
}

/**
 * Watch one relayed stream.
 *
 * @param {object} feed
 * @param {string} feed.server the relay's HTTP API (the offer's viewer url)
 * @param {string} feed.stream the mountpoint id
 * @param {string} feed.pin the mountpoint's pin
 * @param {string} feed.token the Janus token of this stream
 * @param {HTMLVideoElement} feed.video where the video plays
 * @param {() => void} [feed.onLive] the first video track arrived
 * @param {(cause: string) => void} [feed.onEnded] called once: "stopped" (the relay destroyed
 *   the stream), "hangup", "gone" (no such stream), "refused", "unreachable", "closed" (by us)
 * @returns {{close: () => void}}
 */
export function watchFeed({ server, stream, pin, token, video, onLive, onEnded }) {
  let janus = null;
  let handle = null;
  let ended = false;

  const end = (cause) => {
    if (ended) return;
    ended = true;
    video.srcObject = null;
    try {
      handle?.hangup();
      janus?.destroy({ cleanupHandles: true, notifyDestroyed: false });
    } catch {
      // the relay may have forgotten the session already (token removed): nothing to release
    }
    onEnded?.(cause);
  };

  const answer = (jsep) => {
    handle.createAnswer({
      jsep,
      // Receive only: no audio or video of ours; a data channel only if the relay offers one.
      tracks: [{ type: "data" }],
      success: (ours) => handle.send({ message: { request: "start" }, jsep: ours }),
      error: () => end("refused"),
    });
  };

  const attached = {
    plugin: STREAMING,
    success: (h) => {
      handle = h;
      if (ended) return;
      handle.send({ message: { request: "watch", id: stream, pin } });
    },
    error: () => end("unreachable"),
    onmessage: (message, jsep) => {
      const code = message?.error_code;
      if (code === NO_SUCH_MOUNTPOINT) return end("gone");
      if (code === UNAUTHORIZED || message?.error) return end("refused");
      if (message?.result?.status === "stopped") return end("stopped");
      if (jsep) answer(jsep);
      return undefined;
    },
    onremotetrack: (track, _mid, on) => {
      if (track.kind !== "video" || !on || ended) return;
      video.srcObject = new MediaStream([track]);
      video.play().catch(() => {
        // autoplay of a muted video is allowed; a refusal leaves the frame to the next play()
      });
      onLive?.();
    },
    webrtcState: (up) => {
      if (!up) end("hangup");
    },
    oncleanup: () => end("hangup"),
    ondetached: () => end("hangup"),
  };

  initJanus().then(() => {
    if (ended) return;
    janus = new Janus({
      server,
      token,
      withCredentials: false,
      // Fail fast when the relay goes away: a tile must not pretend to be live.
      longPollTimeout: 30000,
      success: () => {
        if (!ended) janus.attach(attached);
      },
      error: () => end("unreachable"),
      destroyed: () => end("closed"),
    });
  });

  return { close: () => end("closed") };
}
