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
    page.wait_for_function(
        f"() => {VIDEOS}.length === {count} && {VIDEOS}.every(v => v.videoWidth > 0)",
        timeout=timeout_s * 1000,
    )
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
        closing = time.time() * 1000
        world.call("POST", f"/v1/incidents/{incident['id']}/close", "requester", {"reason": "t"})
        # No event stream here: the relay's hangup darkens each tile, the API names the reason.
        assert_dark_within(page, closing, limit_s=1.0, reason="incident_closed")
        assert console_stack.relay_streams() == []
        assert console_stack.viewer_tokens() == []
        page.screenshot(path=str(SCREENSHOTS / "videowall-dark.png"))
    finally:
        browser.close()
