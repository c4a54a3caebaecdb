"""The relay layer against a real Janus 1.1 and the GStreamer camera simulator.

Both run for the whole session on free ports of their own, so a developer's running relay is
not disturbed (fixtures in conftest.py). Every test gets a fresh adapter whose teardown checks that nothing it ever
provisioned is left on Janus or in its ledger. Nothing here skips: missing packages fail
with the command that installs them.
"""

from __future__ import annotations

import socketserver
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from relay_helpers import CAMERAS, Viewer, free_tcp_port, grant

from api.relay import InMemoryLedger, ProvisionRecord, make_relay, wait_flowing
from api.relay.camsim import CameraSimulator, map_cameras
from api.relay.errors import CameraSourceUnavailable, RelayRefused, RelayUnavailable
from api.relay.janus import JanusRelay
from api.relay.janus_process import JanusProcess, janus_secrets
from api.relay.settings import RelaySettings
from api.settings import load_settings
from geo.errors import ConfigurationError


class RecordingLedger(InMemoryLedger):
    """An in-memory ledger that also remembers every stream id it ever held."""

    def __init__(self) -> None:
        super().__init__()
        self.ever: set[str] = set()

    def put(self, record: ProvisionRecord) -> None:
        self.ever.add(record.relay_stream_id)
        super().put(record)


@pytest.fixture
def relay(janus: JanusProcess, relay_settings: RelaySettings) -> Iterator[JanusRelay]:
    """A fresh adapter; afterwards nothing it provisioned may remain anywhere."""
    ledger = RecordingLedger()
    adapter = JanusRelay(relay_settings, ledger=ledger)
    yield adapter
    if janus.pid() is None:  # a test that stopped the relay must leave it running again
        janus.start()
    left_on_janus = [sid for sid in ledger.ever if adapter.status(sid).present]
    left_in_ledger = [r.relay_stream_id for r in ledger.records()]
    left_tokens = [t for t in adapter.stored_tokens() if t.split(".")[0] in ledger.ever]
    for sid in {*left_on_janus, *left_in_ledger, *(t.split(".")[0] for t in left_tokens)}:
        adapter.revoke(sid)
    adapter.close()
    assert not left_on_janus, f"orphaned on Janus: {left_on_janus}"
    assert not left_in_ledger, f"left in the ledger: {left_in_ledger}"
    assert not left_tokens, f"{len(left_tokens)} viewer tokens left on Janus"


# ---- provisioning and media ----------------------------------------------------------------


def test_media_flows_through_a_provisioned_stream(
    relay: JanusRelay, camsim: CameraSimulator
) -> None:
    start = time.monotonic()
    stream = relay.provision("feed-1", camsim.url(1), grant())
    seen = wait_flowing(relay, [stream.relay_stream_id], timeout_s=2.0)
    assert time.monotonic() - start < 2.0
    status = relay.status(stream.relay_stream_id)
    assert status.present
    assert status.flowing
    assert status.media_age_ms is not None
    assert status.media_age_ms < 1000
    assert status.codec == "h264"
    assert status.viewers == 0
    assert seen[stream.relay_stream_id] < 2.0
    # What the caller gets: the viewer endpoint and a credential of its own, nothing more.
    # (Janus's HTTP API, and its WebSocket API for browsers.)
    assert [e.protocol for e in stream.viewer] == ["janus-streaming", "janus-streaming-ws"]
    assert all(e.stream == stream.relay_stream_id for e in stream.viewer)
    assert set(stream.credential) == {"pin", "token"}
    assert "feed-1" not in stream.relay_stream_id  # the id is visible to viewers
    assert stream.credential["pin"] not in repr(stream)
    assert camsim.url(1) not in repr(stream) + repr(status) + repr(relay.list_provisioned())
    [record] = relay.list_provisioned()
    assert record.key == "feed-1"
    assert record.state == "live"
    relay.revoke(stream.relay_stream_id)


def test_sixteen_streams_at_once_all_flow_and_all_go(
    relay: JanusRelay, camsim: CameraSimulator
) -> None:
    start = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        streams = list(
            pool.map(
                lambda cam: relay.provision(f"feed-{cam}", camsim.url(cam), grant()), range(1, 17)
            )
        )
    wait_flowing(relay, [s.relay_stream_id for s in streams], timeout_s=2.0)
    assert time.monotonic() - start < 2.0
    assert len(relay.list_provisioned()) == 16
    start = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(relay.revoke, [s.relay_stream_id for s in streams]))
    assert time.monotonic() - start < 1.0
    assert not any(relay.status(s.relay_stream_id).present for s in streams)


# ---- credentials -----------------------------------------------------------------------------


def test_wrong_pin_is_refused_and_the_right_one_gets_an_offer(
    relay: JanusRelay, camsim: CameraSimulator, relay_settings: RelaySettings
) -> None:
    mine = relay.provision("feed-a", camsim.url(2), grant("army-ops-room"))
    theirs = relay.provision("feed-b", camsim.url(3), grant("other-centre"))
    viewer = Viewer(relay_settings, mine.credential["token"])
    wrong = viewer.watch(mine.relay_stream_id, "not-the-pin")
    assert wrong["plugindata"]["data"]["error_code"] == 457
    # Another organization's pin does not open my stream.
    other = viewer.watch(mine.relay_stream_id, theirs.credential["pin"])
    assert other["plugindata"]["data"]["error_code"] == 457
    right = viewer.watch(mine.relay_stream_id, mine.credential["pin"])
    assert "error_code" not in right["plugindata"]["data"]
    assert right["jsep"]["type"] == "offer"
    assert "H264" in right["jsep"]["sdp"]
    relay.revoke(mine.relay_stream_id)
    relay.revoke(theirs.relay_stream_id)


def test_each_stream_has_a_token_of_its_own_that_dies_with_it(
    relay: JanusRelay, camsim: CameraSimulator, relay_settings: RelaySettings
) -> None:
    a = relay.provision("feed-a", camsim.url(6), grant("army-ops-room"))
    b = relay.provision("feed-b", camsim.url(7), grant("army-ops-room"))  # same viewer, expiry
    assert a.credential["token"] != b.credential["token"]
    assert a.credential["pin"] != b.credential["pin"]
    assert {a.credential["token"], b.credential["token"]} <= set(relay.stored_tokens())
    viewer_a = Viewer(relay_settings, a.credential["token"])
    # A's token and pin open A ...
    assert viewer_a.watch(a.relay_stream_id, a.credential["pin"])["jsep"]["type"] == "offer"
    # ... and not B: Janus binds the token to the streaming plugin, the pin to the mountpoint.
    other = viewer_a.watch(b.relay_stream_id, a.credential["pin"])
    assert other["plugindata"]["data"]["error_code"] == 457
    # A session A's viewer holds when A is revoked can do nothing more.
    session, _ = viewer_a.attach()
    relay.revoke(a.relay_stream_id)
    assert a.credential["token"] not in relay.stored_tokens()
    for path, body in (("", {"janus": "create"}), (f"/{session}", {"janus": "keepalive"})):
        refused = viewer_a.post(path, body)
        assert refused["janus"] == "error", refused
        assert refused["error"]["code"] == 403
    # B is untouched; a made-up token of B's form opens nothing.
    viewer_b = Viewer(relay_settings, b.credential["token"])
    assert viewer_b.watch(b.relay_stream_id, b.credential["pin"])["jsep"]["type"] == "offer"
    for forged in (f"{b.relay_stream_id}.not-the-random-part", "", b.relay_stream_id):
        refused = Viewer(relay_settings, forged).post("", {"janus": "create"})
        assert refused["error"]["code"] == 403
    relay.revoke(b.relay_stream_id)
    assert b.credential["token"] not in relay.stored_tokens()
    refused = viewer_b.post("", {"janus": "create"})
    assert refused["error"]["code"] == 403


def test_wrong_relay_secret_is_refused_without_echoing_it(
    janus: JanusProcess, relay_settings: RelaySettings, camsim: CameraSimulator
) -> None:
    wrong = relay_settings.with_overrides(secret="wrong-secret-0123456789")
    adapter = JanusRelay(wrong)
    with pytest.raises(RelayRefused) as info:
        adapter.provision("feed-x", camsim.url(1), grant())
    text = info.value.message
    for value in (wrong.secret, *janus_secrets(str(wrong.secret)).values()):
        assert str(value) not in text
    assert adapter.list_provisioned() == []
    assert not adapter.health().up


# ---- revocation ------------------------------------------------------------------------------


def test_revoke_removes_the_stream_within_a_second_and_is_idempotent(
    relay: JanusRelay, camsim: CameraSimulator
) -> None:
    stream = relay.provision("feed-r", camsim.url(4), grant())
    wait_flowing(relay, [stream.relay_stream_id])
    start = time.monotonic()
    relay.revoke(stream.relay_stream_id)
    assert not relay.status(stream.relay_stream_id).present
    assert time.monotonic() - start < 1.0
    relay.revoke(stream.relay_stream_id)  # again: already gone is done
    relay.revoke("g-never-existed")
    assert relay.list_provisioned() == []


# ---- camera sources that fail ----------------------------------------------------------------


@pytest.mark.parametrize("where", ["unknown path", "closed port"])
def test_a_bad_source_is_a_camera_error_and_leaves_nothing(
    relay: JanusRelay, camsim: CameraSimulator, where: str
) -> None:
    url = camsim.missing_url() if where == "unknown path" else (
        f"rtsp://user:pw@127.0.0.1:{free_tcp_port()}/cam1")  # fmt: skip
    tokens_before = set(relay.stored_tokens())
    with pytest.raises(CameraSourceUnavailable) as info:
        relay.provision("feed-bad", url, grant())
    assert url not in info.value.message
    assert "pw" not in info.value.message
    assert relay.list_provisioned() == []
    assert set(relay.stored_tokens()) == tokens_before  # its token was taken back
    # The relay is fine: the next camera works.
    good = relay.provision("feed-good", camsim.url(5), grant())
    wait_flowing(relay, [good.relay_stream_id])
    relay.revoke(good.relay_stream_id)


def test_a_camera_going_dark_stops_only_its_own_stream(
    relay: JanusRelay, camsim: CameraSimulator
) -> None:
    cam_dark, cam_lit = CAMERAS, CAMERAS - 1
    dark = relay.provision("feed-dark", camsim.url(cam_dark), grant())
    lit = relay.provision("feed-lit", camsim.url(cam_lit), grant())
    wait_flowing(relay, [dark.relay_stream_id, lit.relay_stream_id])
    camsim.down(cam_dark)
    try:
        deadline = time.monotonic() + 3
        while relay.status(dark.relay_stream_id).flowing and time.monotonic() < deadline:
            time.sleep(0.05)
        status = relay.status(dark.relay_stream_id)
        assert status.present
        assert not status.flowing
        assert (status.media_age_ms or 0) >= 1000
        assert relay.status(lit.relay_stream_id).flowing
        # A reconciler sees it the same way.
        by_id = {record.relay_stream_id: st for record, st in relay.survey()}
        assert not by_id[dark.relay_stream_id].flowing
        assert by_id[lit.relay_stream_id].flowing
    finally:
        camsim.up(cam_dark)
        relay.revoke(dark.relay_stream_id)
        relay.revoke(lit.relay_stream_id)


class _SilentRTSP(socketserver.StreamRequestHandler):
    """Answers RTSP like a camera but never sends a packet (a hung encoder)."""

    SDP = (
        "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=silent\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
        "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:track1\r\n"
    )

    def handle(self) -> None:
        while lines := self._read_request():
            headers = {k.lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
            method, body = lines[0].split()[0], ""
            reply = f"RTSP/1.0 200 OK\r\nCSeq: {headers.get('cseq')}\r\nSession: 1\r\n"
            if method == "DESCRIBE":
                body = self.SDP
                reply += "Content-Type: application/sdp\r\n"
            if method == "SETUP":
                reply += f"Transport: {headers['transport']};server_port=9-10\r\n"
            self.wfile.write(f"{reply}Content-Length: {len(body)}\r\n\r\n{body}".encode())

    def _read_request(self) -> list[str]:
        lines: list[str] = []
        while (line := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
            lines.append(line.decode().strip())
        return lines


def test_a_silent_source_is_present_but_not_flowing(relay: JanusRelay) -> None:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SilentRTSP)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        stream = relay.provision("feed-silent", f"rtsp://127.0.0.1:{port}/x", grant())
        status = relay.status(stream.relay_stream_id)
        assert status.present
        assert not status.flowing
        assert status.media_age_ms is None
        with pytest.raises(CameraSourceUnavailable, match="no media"):
            wait_flowing(relay, [stream.relay_stream_id], timeout_s=0.3)
        relay.revoke(stream.relay_stream_id)
    finally:
        server.shutdown()
        server.server_close()


# ---- the relay itself failing ----------------------------------------------------------------


def test_relay_down_is_relay_unavailable_and_leaves_no_record(
    relay_settings: RelaySettings, camsim: CameraSimulator
) -> None:
    nowhere = relay_settings.with_overrides(port=free_tcp_port())
    adapter = JanusRelay(nowhere)
    health = adapter.health()
    assert not health.up
    assert "cannot be reached" in health.detail
    for call in (
        lambda: adapter.provision("feed-1", camsim.url(1), grant()),
        lambda: adapter.status("gsomething"),
        lambda: adapter.revoke("gsomething"),
    ):
        with pytest.raises(RelayUnavailable, match="cannot be reached") as info:
            call()
        assert str(nowhere.secret) not in info.value.message
    # The request never reached a relay: nothing can exist there, so nothing is recorded.
    assert adapter.list_provisioned() == []


def test_relay_restart_loses_streams_and_the_adapter_reports_it(
    relay: JanusRelay, janus: JanusProcess, camsim: CameraSimulator
) -> None:
    streams = [relay.provision(f"feed-{cam}", camsim.url(cam), grant()) for cam in (6, 7)]
    wait_flowing(relay, [s.relay_stream_id for s in streams])
    janus.kill()
    with pytest.raises(RelayUnavailable):
        relay.status(streams[0].relay_stream_id)
    assert not relay.health().up
    janus.start()
    assert relay.health().up  # a new API session, transparently
    survey = relay.survey()
    assert {r.relay_stream_id for r, _ in survey} == {s.relay_stream_id for s in streams}
    assert not any(status.present for _, status in survey)
    # What a reconciler does with that: drop the lost ones, provision again.
    for stream in streams:
        relay.revoke(stream.relay_stream_id)
    again = relay.provision("feed-6", camsim.url(6), grant())
    wait_flowing(relay, [again.relay_stream_id])
    relay.revoke(again.relay_stream_id)


def test_the_api_session_is_recreated_when_janus_forgets_it(
    relay: JanusRelay, camsim: CameraSimulator
) -> None:
    stream = relay.provision("feed-s", camsim.url(8), grant())
    session = relay._handle()
    relay._http.post(f"/{session[0]}", {"janus": "destroy"})  # as a session timeout would
    assert relay.status(stream.relay_stream_id).present
    assert relay._handle() != session
    relay.revoke(stream.relay_stream_id)


# ---- construction ----------------------------------------------------------------------------


def test_make_relay_knows_janus_and_names_the_known_ones(
    janus: JanusProcess, relay_settings: RelaySettings
) -> None:
    adapter = make_relay("janus", relay_settings)
    assert isinstance(adapter, JanusRelay)
    assert adapter.health().up
    adapter.close()
    with pytest.raises(ConfigurationError, match="known relays: janus"):
        make_relay("wowza", relay_settings)


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        ({"GILMOK_RELAY_PORT": "80000"}, "GILMOK_RELAY_PORT"),
        ({"GILMOK_RELAY_SOURCE_PORTS": "30000"}, "GILMOK_RELAY_SOURCE_PORTS"),
        ({"GILMOK_RELAY_SOURCE_PORTS": "3-2"}, "GILMOK_RELAY_SOURCE_PORTS"),
        ({"GILMOK_RELAY_SECRET": "short"}, "GILMOK_RELAY_SECRET"),
    ],
)
def test_bad_relay_settings_name_the_variable(environ: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigurationError, match=names):
        load_settings(environ)


def test_relay_settings_from_the_environment_hide_the_secret() -> None:
    settings = load_settings(
        {"GILMOK_RELAY_SECRET": "s" * 20, "GILMOK_RELAY_PORT": "9088", "GILMOK_CAMSIM_PORT": "9554"}
    ).relay
    assert (settings.port, settings.camsim_port, settings.secret) == (9088, 9554, "s" * 20)
    assert "s" * 20 not in repr(settings)


def test_simulated_sources_for_real_cameras() -> None:
    urls = map_cameras(["11-1", "11-2", "11-3"], cameras=2, port=8554)
    assert urls == {
        "11-1": "rtsp://127.0.0.1:8554/cam1",
        "11-2": "rtsp://127.0.0.1:8554/cam2",
        "11-3": "rtsp://127.0.0.1:8554/cam1",
    }
