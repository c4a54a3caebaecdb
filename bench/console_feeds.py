"""Benchmark: the console's video wall, from the click on "request feeds" to the first decoded
frame in Chromium, for 1, 4 and 9 feeds; the console's first load; the bundle's size.

Everything runs as the browser tests run it (``tests/console_stack.py``): Janus, the camera
simulator, ``gilmok serve`` (1 worker) and Debian's Chromium in a network namespace of their own,
on the real central-Seoul registry. The owning centres approve alert-level-2 requests
automatically. Each round raises a new incident at Gwanghwamun and then:

- **browser** (each click after a random part of the simulator's 2 s GOP: a new mountpoint
  shows nothing before the source's next keyframe): a click on a page of the API's origin
  holding the video wall posts the feeds request (``POST /v1/incidents/{id}/feeds`` with N
  cameras) and hands the answer (with its credentials) to the wall; timed until every one of
  the N tiles has decoded a frame (``videoWidth > 0`` and ``totalVideoFrames > 0``), and until
  the first did;
- **baseline (API only)**, the same run: the same request from Python, timed to its answer
  (the feeds provisioned on Janus, credentials issued), then until Janus reports media flowing
  through every stream (``info``'s packet age, no WebRTC);

then closes the incident (every stream destroyed). The first load (:func:`first_loads`): a new
browser context (cold cache), signed in as the situation room, its window left to settle, from
the navigation to ``/`` until the map is interactive: MapLibre's ``load`` fired (the style and
every road tile in view fetched, parsed and drawn) with the view's overlays on it
(``[data-ready="yes"]``), and a click on the map then answered; with where the time went (the
page's Resource Timing, the road tiles as Playwright saw the worker fetch them). The bundle:
every file the page loads (``api/console/static/manifest.json``), gzipped at level 9.

Goals (issue 14): p95 < 2 s for 4 feeds; first load < 1.5 s; bundle < 1.5 MB gzipped.

Usage: ``.venv/bin/python bench/console_feeds.py [--rounds 5] [--sizes 1,4,9] [--loads 5]``;
``--rounds 0`` measures the first loads only (no activation, no video).
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from console_stack import ConsoleStack, open_wall, video_wall_script  # noqa: E402
from console_world import ConsoleWorld  # noqa: E402
from real_registry import real_registry_url  # noqa: E402

from api.demo import GWANGHWAMUN  # noqa: E402
from api.relay import wait_flowing  # noqa: E402
from api.relay.janus import JanusRelay  # noqa: E402
from api.settings import load_settings  # noqa: E402

STATIC = ROOT / "api" / "console" / "static"

#: Click → the wall's N tiles decoding, measured inside the page (performance.now()).
ARM_BUTTON = """([incident, body, n]) => { window.benchResult = new Promise((resolve, reject) => {
  setTimeout(() => reject(new Error(`${n} tiles not all decoding after 30 s`)), 30000);
  const button = document.createElement("button");
  button.id = "request-feeds";
  button.textContent = "request feeds";
  document.body.prepend(button);
  button.addEventListener("click", async () => {
    const clicked = performance.now();
    let answered = null;
    let first = null;
    try {
      const reply = await window.api.post(`/v1/incidents/${incident.id}/feeds`, body);
      answered = performance.now();
      window.wall.update({incident, feeds: reply.items});
    } catch (error) {
      reject(error);
      return;
    }
    const check = () => {
      const videos = [...document.querySelectorAll(".vw-tile video")];
      const decoding = videos.filter(
        (v) => v.videoWidth > 0 && v.getVideoPlaybackQuality().totalVideoFrames > 0);
      if (decoding.length > 0 && first === null) first = performance.now();
      if (videos.length === n && decoding.length === n) {
        button.remove();
        resolve({answer_s: (answered - clicked) / 1000, first_s: (first - clicked) / 1000,
                 all_s: (performance.now() - clicked) / 1000});
      } else setTimeout(check, 5);
    };
    check();
  }, {once: true});
}); }"""


def bundle_size() -> tuple[int, int]:
    """(raw, gzipped) bytes of the files the console page loads."""
    manifest = json.loads((STATIC / "manifest.json").read_text())
    raw = gz = 0
    for key in ("js", "css", "worker"):
        data = (STATIC / manifest[key]).read_bytes()
        raw += len(data)
        gz += len(gzip.compress(data, compresslevel=9))
    return raw, gz


#: Where the first load's time went, from the page's Resource Timing (ms since the navigation
#: began): the page, the bundle, the map's worker, the API calls, the road tiles, and the moment
#: the map said it was ready (the console's ``gilmok:map-ready`` mark).
LOAD_PROFILE = """() => {
  const entries = performance.getEntriesByType("resource");
  const nav = performance.getEntriesByType("navigation")[0];
  const end = (match) => {
    const e = entries.find((r) => match(r.name));
    return e ? e.responseEnd : null;
  };
  const bundle = entries.find((r) => /console-[^/]*[.]js$/.test(r.name));
  const mark = performance.getEntriesByName("gilmok:map-ready")[0];
  return {
    page: nav.responseEnd,
    bundle: end((n) => /console-[^/]*[.]js$/.test(n)),
    bundle_kb_on_wire: bundle ? bundle.transferSize / 1024 : null,
    worker: end((n) => n.includes("maplibre-gl-worker")),
    session: end((n) => n.endsWith("/v1/session")),
    incidents: end((n) => n.includes("/v1/incidents")),
    ready: mark ? mark.startTime : null,
    origin: performance.timeOrigin,
  };
}"""

#: Seconds a new window is left alone before the address is typed: headless Chromium builds
#: its own user interface's pages for each new window (its omnibox pop-up, a renderer of its
#: own, about a second of CPU on this machine), which a person's browser did long before.
SETTLE_S = 2.0


def _tile_timing(request: Any, out: list[tuple[float, float]]) -> None:
    """A road tile's (start, end), epoch milliseconds, from Playwright's timing of it."""
    if "/v1/tiles/" in request.url:
        timing = request.timing
        out.append((timing["startTime"], timing["startTime"] + timing["responseEnd"]))


def first_loads(
    stack: ConsoleStack, browser: Any, world: ConsoleWorld, loads: int
) -> list[dict[str, Any]]:
    """The console's first load, ``loads`` times, each in a new browser context (cold cache),
    signed in as the situation room.

    Interactive means: MapLibre's ``load`` has fired (the style, and every road tile in view
    fetched, parsed and drawn once) with the view's overlays added (``[data-ready="yes"]``),
    and then a click on the map is answered (the incident form takes the clicked point). The
    time is from the navigation's start to the map ready, as the test process sees it; a load
    whose click goes unanswered for 2 s fails the run. Each load's Resource Timing comes back
    with it (:data:`LOAD_PROFILE`) and the click's answer time (``click_s``, from sending it).
    """
    out = []
    for _ in range(loads):
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        try:
            signed = context.request.post(
                f"{stack.base_url}/v1/session", data={"api_key": world.keys["requester"]}
            )
            assert signed.ok, signed.text()
            page = context.new_page()
            time.sleep(SETTLE_S)
            tiles: list[tuple[float, float]] = []  # epoch ms: MapLibre's worker fetches them
            context.on("requestfinished", functools.partial(_tile_timing, out=tiles))
            started = time.perf_counter()
            page.goto(f"{stack.base_url}/", wait_until="commit")
            page.wait_for_selector('[data-ready="yes"]', timeout=30_000)
            ready = time.perf_counter() - started
            box = page.locator("#map").bounding_box()
            assert box is not None
            sent = time.perf_counter()
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.wait_for_function(
                "() => document.getElementById('incident-lon').value !== ''", timeout=2_000
            )
            clicked = time.perf_counter() - sent
            profile = page.evaluate(LOAD_PROFILE)
            origin = profile.pop("origin")
            profile["tiles"] = len(tiles)
            if tiles:
                profile["tiles_first_start"] = min(t[0] for t in tiles) - origin
                profile["tiles_last_end"] = max(t[1] for t in tiles) - origin
            out.append({"load_s": ready, "click_s": clicked, **profile})
        finally:
            context.close()
    return out


def api_round(
    stack: ConsoleStack, world: ConsoleWorld, relay: JanusRelay, cameras: list[int]
) -> dict[str, float]:
    """The baseline: the same request through the API alone, then media flowing on Janus."""
    incident = world.raise_incident(*GWANGHWAMUN)
    try:
        started = time.perf_counter()
        reply = world.call(
            "POST", f"/v1/incidents/{incident['id']}/feeds", "requester", {"camera_ids": cameras}
        )
        answered = time.perf_counter() - started
        streams = [i["credential"]["viewer"][0]["stream"] for i in reply["items"]]
        assert len(streams) == len(cameras), reply
        with stack.ns.inside():
            wait_flowing(relay, streams, timeout_s=10.0)
        return {"answer_s": answered, "all_s": time.perf_counter() - started}
    finally:
        world.call("POST", f"/v1/incidents/{incident['id']}/close", "requester", {"reason": "b"})


#: The simulator's GOP (key-int 30 at 15 fps): a new mountpoint shows nothing before the source's
#: next keyframe, so rounds at a fixed cadence would all land at one phase of it. Each round's
#: click waits a random part of a GOP, as a person's click would.
GOP_S = 2.0
_jitter = random.Random(14)


def browser_round(world: ConsoleWorld, page: Any, cameras: list[int]) -> dict[str, float]:
    """Click → every tile decoding, on the wall's page."""
    time.sleep(_jitter.uniform(0.0, GOP_S))
    incident = world.raise_incident(*GWANGHWAMUN)
    try:
        page.evaluate(ARM_BUTTON, [incident, {"camera_ids": cameras}, len(cameras)])
        page.click("#request-feeds")
        return dict(page.evaluate("() => window.benchResult"))
    finally:
        world.call("POST", f"/v1/incidents/{incident['id']}/close", "requester", {"reason": "b"})
        page.evaluate("() => window.wall.update({incident: null})")


def summary(values: list[float]) -> str:
    a = np.asarray(values)
    return f"median {np.median(a):.3f} s, p95 {np.percentile(a, 95):.3f} s (n={a.size})"


def measure(
    stack: ConsoleStack, world: ConsoleWorld, tmp: Path, sizes: list[int], rounds: int, loads: int
) -> tuple[list[tuple[int, list[dict[str, float]], list[dict[str, float]]]], list[dict[str, Any]]]:
    """The video wall's rounds (none with ``rounds`` 0: no activation, no video), then the
    first loads."""
    rows = []
    browser = stack.browser()
    try:
        if rounds:
            rows = video_rounds(stack, world, tmp, browser, sizes, rounds)
        first = first_loads(stack, browser, world, loads) if loads else []
    finally:
        browser.close()
    return rows, first


def video_rounds(
    stack: ConsoleStack, world: ConsoleWorld, tmp: Path, browser: Any, sizes: list[int], rounds: int
) -> list[tuple[int, list[dict[str, float]], list[dict[str, float]]]]:
    world.activate()
    cameras = world.cameras_within(*GWANGHWAMUN, 500.0, max(sizes))  # the cordon's radius
    if len(cameras) < max(sizes):
        raise SystemExit(f"only {len(cameras)} cameras within 500 m of the incident")
    world.video_from_simulator(cameras)
    owners = list(world.owners(cameras))
    world.auto_approve(owners, on=True)
    relay = JanusRelay(stack.relay)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        open_wall(page, stack.base_url, world.keys["requester"], video_wall_script(tmp))
        browser_round(world, page, cameras[:1])  # warm-up: Janus.init, the first connection
        rows = []
        for n in sizes:
            web = [browser_round(world, page, cameras[:n]) for _ in range(rounds)]
            api = [api_round(stack, world, relay, cameras[:n]) for _ in range(rounds)]
            rows.append((n, web, api))
            print(f"{n} feeds: {summary([r['all_s'] for r in web])}", flush=True)
        page.close()
    finally:
        world.auto_approve(owners, on=False)
    return rows


def print_loads(loads: list[dict[str, Any]]) -> None:
    """The first loads' figure, each load's, and where the time went (medians)."""
    figure = summary([r["load_s"] for r in loads])
    print(f"\nfirst load to an interactive map (cold cache): {figure}")
    print("  each: " + ", ".join(f"{r['load_s']:.3f}" for r in loads))
    print(f"  the click answered after: {summary([r['click_s'] for r in loads])}")
    print("  where the time went (median ms since the navigation began):")
    keys = ("page", "bundle", "session", "incidents", "worker", "tiles_first_start",
            "tiles_last_end", "ready", "tiles", "bundle_kb_on_wire")  # fmt: skip
    for key in keys:
        values = [r[key] for r in loads if r.get(key) is not None]
        shown = f"{np.median(values):8.1f}" if values else "       -"
        print(f"    {key:<18} {shown}")


def main() -> None:
    # `kill` ends the run as Ctrl-C does: through the finally blocks that stop the stack.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rounds", type=int, default=5, help="video-wall rounds per size; 0: the first loads only"
    )
    parser.add_argument("--sizes", default="1,4,9")
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    settings = load_settings()
    data_dir = Path(os.environ.get("GILMOK_DATA_DIR", ROOT.parent / "shared" / "data"))
    print(f"load before: {os.getloadavg()}", flush=True)
    url = real_registry_url(settings.owner_database_url, data_dir)
    with (
        tempfile.TemporaryDirectory(prefix="gilmok-console-bench-") as tmp,
        ConsoleStack(url, settings, Path(tmp), cameras=max(sizes)) as stack,
    ):
        world = ConsoleWorld(stack, url)
        try:
            rows, loads = measure(stack, world, Path(tmp), sizes, args.rounds, args.loads)
        finally:
            world.close()
    raw, gz = bundle_size()
    print(f"\nload after: {os.getloadavg()}")
    if rows:
        print_rows(rows)
    if loads:
        print_loads(loads)
    print(f"bundle: {raw / 1e6:.2f} MB raw, {gz / 1e6:.3f} MB gzipped (goal < 1.5 MB)")


def print_rows(rows: list[tuple[int, list[dict[str, float]], list[dict[str, float]]]]) -> None:
    print(
        "\n| feeds | click → all tiles decoding | click → first tile | API answer (browser) |"
        " baseline: API only, answer | baseline: API only, media flowing |"
    )
    print("|---|---|---|---|---|---|")
    for n, web, api in rows:
        print(
            f"| {n} | {summary([r['all_s'] for r in web])} | {summary([r['first_s'] for r in web])}"
            f" | {summary([r['answer_s'] for r in web])} | {summary([r['answer_s'] for r in api])}"
            f" | {summary([r['all_s'] for r in api])} |"
        )


if __name__ == "__main__":
    main()
