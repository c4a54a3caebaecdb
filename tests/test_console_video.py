"""The console's video wall in Debian's Chromium: live WebRTC from Janus, frames decoded, dark
within a second of the revocation.

Janus, the camera simulator, ``gilmok serve`` and Chromium run inside a network namespace of the
test's own (``tests/netns.py``, ``tests/console_stack.py``): Janus gathers no ICE candidate on
loopback. The database is the real central-Seoul registry (roads and the Seoul CCTV), reached
through PostgreSQL's unix socket.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from console_stack import ConsoleStack, open_wall, video_wall_script
from console_world import ConsoleWorld

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "out" / "screenshots"

pytestmark = [pytest.mark.db, pytest.mark.relay]

TILES = "[...document.querySelectorAll('.vw-tile')]"
VIDEOS = "[...document.querySelectorAll('.vw-tile video')]"


@pytest.fixture
def world(console_stack: ConsoleStack, console_registry_url: Any) -> Iterator[ConsoleWorld]:
    w = ConsoleWorld(console_stack, console_registry_url)
    try:
        yield w
    finally:
        w.close()


def _frames(page: Any) -> list[int]:
    return list(page.evaluate(f"{VIDEOS}.map(v => v.getVideoPlaybackQuality().totalVideoFrames)"))


def assert_tiles_decode(page: Any, count: int, *, timeout_s: float = 20.0) -> None:
    """``count`` tiles show video: a frame size, and decoded frames rising over 2 s."""
    try:
        page.wait_for_function(
            f"() => {VIDEOS}.length === {count} && {VIDEOS}.every(v => v.videoWidth > 0)",
            timeout=timeout_s * 1000,
        )
    except Exception:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "failed-tiles.png"))
        tiles = page.evaluate(f"{TILES}.map(t => ({{...t.dataset}}))")
        requests = page.evaluate(
            "() => [...document.querySelectorAll('#feed-requests li')].map(li => li.innerText)"
        )
        raise AssertionError(f"tiles {tiles}; requests {requests}") from None
    before = _frames(page)
    time.sleep(2.0)
    after = _frames(page)
    sizes = page.evaluate(f"{VIDEOS}.map(v => [v.videoWidth, v.videoHeight])")
    assert all(w > 0 and h > 0 for w, h in sizes), sizes
    # 15 fps from the simulator: ~30 in 2 s; a stalled tile adds none.
    assert all(b - a >= 10 for a, b in zip(before, after, strict=True)), (before, after)


def assert_dark_within(page: Any, since_ms: float, *, limit_s: float, reason: str) -> list[float]:
    """Every tile went dark with ``reason``, each less than ``limit_s`` after ``since_ms``
    (epoch ms); the delays in seconds."""
    page.wait_for_function(
        f"() => {TILES}.every(t => t.dataset.state === 'dark' && t.dataset.reason === '{reason}')",
        timeout=10_000,
    )
    dark_at = page.evaluate(f"{TILES}.map(t => Number(t.dataset.darkAt))")
    delays = [(d - since_ms) / 1000 for d in dark_at]
    assert all(d < limit_s for d in delays), delays
    return delays


def test_the_wall_plays_auto_approved_feeds_and_goes_dark_when_the_incident_closes(
    console_stack: ConsoleStack, world: ConsoleWorld, tmp_path: Path
) -> None:
    world.activate()
    incident = world.raise_incident()
    cameras = world.video_from_simulator(incident)
    owners = world.owners(cameras)
    world.auto_approve(list(owners), on=True)
    try:
        feeds = world.call(
            "POST", f"/v1/incidents/{incident['id']}/feeds", "requester", {"best": 1}
        )
    finally:
        world.auto_approve(list(owners), on=False)
    items = feeds["items"]
    assert [i["status"] for i in items] == ["provisioned", "provisioned"]
    assert all("credential" in i for i in items)

    browser = console_stack.browser()
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        open_wall(
            page, console_stack.base_url, world.keys["requester"], video_wall_script(tmp_path)
        )
        page.evaluate(
            "([incident, feeds]) => window.wall.update({incident, feeds})", [incident, items]
        )
        assert_tiles_decode(page, 2)
        labels = page.evaluate(f"{TILES}.map(t => t.innerText)")
        assert any("A5" in text and "#601" in text for text in labels), labels
        assert any("A8" in text and "#688" in text for text in labels), labels
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "videowall-live.png"))

        streams = {i["credential"]["viewer"][0]["stream"] for i in items}
        assert set(console_stack.relay_streams()) == streams

        # One feed revoked: its tile alone goes dark, within a second, saying so.
        first = items[0]["id"]
        revoking = time.time() * 1000
        world.call("POST", f"/v1/feed-requests/{first}/revoke", "requester", {"reason": "t"})
        page.wait_for_function(
            f"() => {TILES}.find(t => t.dataset.feedRequest === '{first}')"
            ".dataset.reason === 'revoked'",
            timeout=10_000,
        )
        dark_at = page.evaluate(
            f"() => Number({TILES}.find(t => t.dataset.feedRequest === '{first}').dataset.darkAt)"
        )
        assert (dark_at - revoking) / 1000 < 1.0
        states = page.evaluate(f"{TILES}.map(t => t.dataset.state)")
        assert sorted(states) == ["dark", "live"], states
        assert len(console_stack.relay_streams()) == 1

        closing = time.time() * 1000
        world.call("POST", f"/v1/incidents/{incident['id']}/close", "requester", {"reason": "t"})
        # No event stream here: the relay's hangup darkens each tile, the API names the reason.
        page.wait_for_function(
            f"() => {TILES}.find(t => t.dataset.feedRequest !== '{first}')"
            ".dataset.reason === 'incident_closed'",
            timeout=10_000,
        )
        last = page.evaluate(
            f"() => Number({TILES}.find(t => t.dataset.feedRequest !== '{first}').dataset.darkAt)"
        )
        assert (last - closing) / 1000 < 1.0
        assert console_stack.relay_streams() == []
        assert console_stack.viewer_tokens() == []
        page.screenshot(path=str(SCREENSHOTS / "videowall-dark.png"))
    finally:
        browser.close()


# ---- the whole console: two roles, two browser contexts --------------------------------------

#: Epoch ms at which the page received the answer to its last request whose URL ends so.
ANSWERED_AT = """(suffix) => {
  const done = performance.getEntriesByType("resource").filter((e) => e.name.endsWith(suffix));
  return done.length ? performance.timeOrigin + done[done.length - 1].responseEnd : null;
}"""
#: Records (epoch ms) when each element matching a selector first appears in the page.
WATCH_APPEARING = """(selector) => {
  window.appeared = window.appeared || {};
  const note = () => document.querySelectorAll(selector).forEach((el) => {
    const id = el.dataset.requestId;
    if (id && !(id in window.appeared)) window.appeared[id] = Date.now();
  });
  new MutationObserver(note).observe(document.body, {childList: true, subtree: true});
  note();
  // When the push itself arrived, to tell the event stream's delay from the page's rendering.
  window.pushed = window.pushed || {};
  const events = new EventSource("/v1/events");
  events.addEventListener("feed_request.created", (m) => {
    const id = JSON.parse(m.data).feed_request_id;
    if (!(id in window.pushed)) window.pushed[id] = Date.now();
  });
}"""


def _sign_in(context: Any, base_url: str, key: str) -> Any:
    page = context.new_page()
    page.goto(f"{base_url}/")
    page.fill("#api-key", key)
    page.click("form.signin button[type=submit]")
    return page


def test_a_situation_room_watches_the_feeds_a_centre_approved_live(
    console_stack: ConsoleStack, world: ConsoleWorld
) -> None:
    world.activate()  # the regional centre: alert level 2 over central Seoul
    browser = console_stack.browser()
    try:
        room = _sign_in(
            browser.new_context(viewport={"width": 1280, "height": 800}),
            console_stack.base_url,
            world.keys["requester"],
        )
        room.wait_for_selector('#map[data-ready="yes"]', timeout=30_000)
        # A click on Gwanghwamun (the map opens centred on it), then the incident is raised.
        box = room.locator("#map").bounding_box()
        assert box is not None
        room.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        lon, lat = (
            float(room.input_value("#incident-lon")),
            float(room.input_value("#incident-lat")),
        )
        assert abs(lon - 126.9769) < 1e-4, lon
        assert abs(lat - 37.5759) < 1e-4, lat
        room.click("#raise-incident")
        room.wait_for_selector("#approach-list li[data-approach-id]", timeout=30_000)

        # The same approaches as the API answers for that point.
        status, listed = world.stack.api("GET", "/v1/incidents?state=open", world.keys["requester"])
        assert status == 200, listed
        items = listed["items"] if isinstance(listed, dict) else listed
        [incident] = [i for i in items if i["status"] == "open"]
        ilon, ilat = incident["location"]["coordinates"]
        status, api = world.stack.api(
            "GET", f"/v1/approaches?lon={ilon}&lat={ilat}&radius_m={incident['radius_m']}",
            world.keys["requester"],
        )  # fmt: skip
        assert status == 200, api
        expected = {
            f["properties"]["id"]: f["properties"]["blind"]
            for f in api["features"]
            if f["properties"]["role"] == "approach"
        }
        shown = dict(
            room.evaluate(
                "() => [...document.querySelectorAll('#approach-list > li')]"
                ".map((li) => [li.dataset.approachId, li.dataset.blind === 'yes'])"
            )
        )
        assert shown == expected
        assert len(shown) == 15
        assert sum(shown.values()) == 13

        # The owning centre, in a second context, signed in before the request is made.
        cameras = world.video_from_simulator(
            world.call("GET", f"/v1/incidents/{incident['id']}", "requester")
        )
        owners = world.owners(cameras)
        assert len(owners) == 1, owners
        [owner_name] = owners.values()
        world.keys["owner"] = world.issue_key(owner_name, "municipal_centre")
        centre = _sign_in(
            browser.new_context(viewport={"width": 1280, "height": 800}),
            console_stack.base_url,
            world.keys["owner"],
        )
        centre.wait_for_selector("#queue", timeout=30_000)
        centre.evaluate(WATCH_APPEARING, ".queue-item[data-request-id]")

        # The best camera of each watched approach: two requests, pending with the centre.
        room.fill("#best-k", "1")
        room.evaluate("() => performance.clearResourceTimings()")  # a map fills the buffer
        room.click("#request-best")
        room.wait_for_function(
            "() => document.querySelectorAll('#feed-requests li[data-state=pending]').length === 2"
        )
        requested_at = room.evaluate(ANSWERED_AT, "/feeds")
        centre.wait_for_function(
            "() => document.querySelectorAll('.queue-item[data-request-id]').length === 2",
            timeout=5_000,
        )
        seen = centre.evaluate("() => window.appeared")
        delays = [(at - requested_at) / 1000 for at in seen.values()]
        pushed = [
            (at - requested_at) / 1000 for at in centre.evaluate("() => window.pushed").values()
        ]
        # No reload: the event stream told it.
        assert all(d < 1.0 for d in delays), f"shown after {delays} s, pushed after {pushed} s"
        centre.screenshot(path=str(SCREENSHOTS / "console-centre-queue.png"))
        for request_id in seen:
            item = f'.queue-item[data-request-id="{request_id}"]'
            centre.click(f"{item} button.approve")
            centre.wait_for_selector(item, state="detached", timeout=10_000)

        # The situation room's two tiles decode real frames.
        assert_tiles_decode(room, 2, timeout_s=30)
        # the base map under the incident's view holds its roads (the README shows this picture)
        room.wait_for_selector('#map[data-roads="loaded"]', timeout=10_000)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        room.screenshot(path=str(SCREENSHOTS / "console-requester-videowall.png"))
        assert len(console_stack.relay_streams()) == 2

        # Closing the incident: both tiles dark within 1 s, and Janus holds no stream.
        # From the click: the relay hangs the viewers up before the close is even answered.
        clicked = room.evaluate("() => Date.now()")
        room.click("#close-incident")
        assert_dark_within(room, clicked, limit_s=1.0, reason="incident_closed")
        assert console_stack.relay_streams() == []
        assert console_stack.viewer_tokens() == []
        room.screenshot(path=str(SCREENSHOTS / "console-requester-closed.png"))
    finally:
        browser.close()
