"""The feed lifecycle (:mod:`api.feeds`) on the real Janus: provision, credential, revoke and
expire, reconcile, the stream ledger and the loop.

Janus and the camera simulator are the session's (conftest.py). The database is a scratch one
for this module, because the loop and the stream ledger commit on connections of their own.
Each test raises its own incident under its own activation; afterwards nothing it provisioned
may be left on Janus or in the ledger (``relay`` fixture).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest
from relay_helpers import Viewer, free_tcp_port
from scratch_db import database_env, scratch_database
from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from api import create_app
from api.feeds.credential import issue_credential
from api.feeds.ledger import DbStreamLedger
from api.feeds.loop import Worker
from api.feeds.provision import RELAY_NOT_CONFIGURED, provision_request
from api.feeds.reconcile import reconcile
from api.feeds.revoke import expire_due, revoke_for
from api.feeds.streams import hash_credential
from api.keys import issue_api_key
from api.relay import ProvisionRecord, wait_flowing
from api.relay.camsim import CameraSimulator
from api.relay.janus import JanusRelay
from api.relay.janus_process import JanusProcess
from api.relay.settings import RelaySettings
from api.settings import Settings
from geo.errors import InvalidInput, NotFound
from geo.store import activations, audit, camera_sources, orgs, relay_streams
from geo.store.app_role import app_transaction
from geo.store.db import connect

pytestmark = pytest.mark.db

ACTOR = "test"
CENTRAL_SEOUL = MultiPolygon(
    [Polygon([(126.96, 37.555), (127.0, 37.555), (127.0, 37.58), (126.96, 37.58)])]
)
GWANGHWAMUN = (126.9769, 37.5759)
#: Simulated cameras this module uses (test_relay.py darkens cam 19 and 20 for a moment).
CAMS = range(1, 13)


@dataclass
class World:
    engine: Engine  # as the service's login role
    settings: Settings
    requester: int
    other_requester: int
    owner: int
    regional: int
    cameras: list[int]  # cameras[i] is served by simulated camera i + 1
    missing_camera: int  # its source URL is a path the simulator does not serve
    sourceless_camera: int


@pytest.fixture(scope="module")
def pengine(base_settings: Settings) -> Iterator[Engine]:
    with scratch_database(base_settings.owner_database_url) as url:
        engine = connect(url)
        yield engine
        engine.dispose()


@pytest.fixture(scope="module")
def service_pengine(pengine: Engine, base_settings: Settings) -> Iterator[Engine]:
    """The same database as the service's login role: what the app and the worker log in as."""
    engine = connect(base_settings.database_url.set(database=pengine.url.database))
    yield engine
    engine.dispose()


def _camera(conn: Connection, owner: int, n: int) -> int:
    lon, lat = GWANGHWAMUN[0] + n * 1e-4, GWANGHWAMUN[1]
    return int(
        conn.execute(
            text(
                "INSERT INTO camera (source, source_key, site_key, owner_id, position, kind,"
                " heading_source) VALUES ('manual', :key, :key, :owner,"
                " ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 5179),"
                " 'dome', 'unknown') RETURNING id"
            ),
            {"key": f"test-cam-{n}", "owner": owner, "lon": lon, "lat": lat},
        ).scalar_one()
    )


@pytest.fixture(scope="module")
def world(
    pengine: Engine,
    service_pengine: Engine,
    base_settings: Settings,
    relay_settings: RelaySettings,
    camsim: CameraSimulator,
) -> World:
    with pengine.begin() as conn:
        made = {
            "regional": ("수도권 광역통합운영센터", "regional_centre", None),
            "owner": ("서울특별시 종로구청", "municipal_centre", "수도권 광역통합운영센터"),
            "requester": ("제56보병사단", "military_unit", None),
            "other_requester": ("수도방위사령부", "military_unit", None),
        }
        ids = {
            role: orgs.create_organization(
                conn, name=name, kind=kind, parent=parent, actor=ACTOR
            ).id
            for role, (name, kind, parent) in made.items()
        }
        # The centres serve real ground: the pilot's capital region, and 종로구.
        for role, sido, sigungu in (
            ("regional", ["서울특별시"], ["용인시"]),
            ("owner", [], ["서울특별시 종로구"]),
        ):
            orgs.set_service_area_from(
                conn,
                organization_id=ids[role],
                sido=sido,
                sigungu=sigungu,
                country_bounds=base_settings.country_bounds,
                actor=ACTOR,
            )
        cameras = [_camera(conn, ids["owner"], n) for n in CAMS]
        missing, sourceless = _camera(conn, ids["owner"], 90), _camera(conn, ids["owner"], 91)
        sources: dict[int, str | None] = {
            c: camsim.url(n) for c, n in zip(cameras, CAMS, strict=True)
        }
        sources[missing] = camsim.missing_url()
        camera_sources.set_camera_sources(conn, sources, actor=ACTOR)
    settings = base_settings.with_overrides(
        relay=relay_settings.with_overrides(configured=True), feed_session_max_s=600.0
    )
    return World(
        service_pengine,
        settings,
        ids["requester"],
        ids["other_requester"],
        ids["owner"],
        ids["regional"],
        cameras,
        missing,
        sourceless,
    )


class TrackingLedger(DbStreamLedger):
    """The database ledger, remembering every stream id it was ever given."""

    def __init__(self, bind: Engine) -> None:
        super().__init__(bind)
        self.ever: set[str] = set()

    def put(self, record: ProvisionRecord) -> None:
        self.ever.add(record.relay_stream_id)
        super().put(record)


@pytest.fixture
def relay(world: World, janus: JanusProcess, relay_settings: RelaySettings) -> Iterator[JanusRelay]:
    """The adapter on the database ledger; afterwards nothing may be left anywhere."""
    ledger = TrackingLedger(world.engine)
    adapter = JanusRelay(relay_settings, ledger=ledger)
    yield adapter
    if janus.pid() is None:
        janus.start()
    # End this test's feeds the way production does, then check nothing is left.
    with app_transaction(world.engine) as conn:
        conn.execute(text("UPDATE incident SET status = 'closed' WHERE status = 'open'"))
        expire_due(conn, adapter)
        reconcile(conn, adapter, settings=world.settings)
    left_on_janus = [sid for sid in ledger.ever if adapter.status(sid).present]
    left_in_ledger = [r.relay_stream_id for r, _ in adapter.survey()]
    left_tokens = [t for t in adapter.stored_tokens() if t.split(".")[0] in ledger.ever]
    for sid in {*left_on_janus, *left_in_ledger, *(t.split(".")[0] for t in left_tokens)}:
        adapter.revoke(sid)
    adapter.close()
    assert not left_on_janus, f"orphaned on Janus: {left_on_janus}"
    assert not left_in_ledger, f"left in the ledger: {left_in_ledger}"
    assert not left_tokens, f"{len(left_tokens)} viewer tokens left on Janus"


@dataclass
class Scene:
    activation: int
    incident: int


def _scene(world: World, *, ends_in: dt.timedelta = dt.timedelta(hours=1)) -> Scene:
    now = dt.datetime.now(dt.UTC)
    with app_transaction(world.engine) as conn:
        activation = activations.create_activation(
            conn,
            basis="alert_level_2",
            reference=f"합참-{time.monotonic_ns()}",
            area=CENTRAL_SEOUL,
            starts_at=now - dt.timedelta(minutes=1),
            ends_at=now + ends_in,
            issuer_id=world.regional,
            actor=ACTOR,
        )
        incident = conn.execute(
            text(
                "INSERT INTO incident (requester_id, location, radius_m, mode) VALUES (:r,"
                " ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 5179), 500,"
                " 'network') RETURNING id"
            ),
            {"r": world.requester, "lon": GWANGHWAMUN[0], "lat": GWANGHWAMUN[1]},
        ).scalar_one()
    return Scene(activation.id, int(incident))


def _request(
    world: World,
    scene: Scene,
    camera: int,
    *,
    requester: int | None = None,
    status: str = "approved",
) -> int:
    """A feed request (approved unless told), committed."""
    with app_transaction(world.engine) as conn:
        return int(
            conn.execute(
                text(
                    "INSERT INTO feed_request (incident_id, camera_id, requester_id,"
                    " routed_via_id, owner_id, activation_id, status, decided_at)"
                    " VALUES (:i, :c, :r, :via, :o, :a, :status,"
                    " CASE WHEN :status = 'pending' THEN NULL ELSE now() END) RETURNING id"
                ),
                {
                    "i": scene.incident,
                    "c": camera,
                    "r": requester or world.requester,
                    "via": world.regional,
                    "o": world.owner,
                    "a": scene.activation,
                    "status": status,
                },
            ).scalar_one()
        )


def _provision(world: World, relay: JanusRelay | None, request: int) -> dict[str, Any] | None:
    with app_transaction(world.engine) as conn:
        return provision_request(conn, relay, request, settings=world.settings)


def _row(world: World, sql: str, **params: Any) -> Any:
    with world.engine.connect() as conn:
        return conn.execute(text(sql), params).one()


def _request_state(world: World, request: int) -> tuple[str, str]:
    row = _row(world, "SELECT status, reason FROM feed_request WHERE id = :id", id=request)
    return row.status, row.reason


def _session(world: World, request: int) -> Any:
    return _row(
        world,
        "SELECT * FROM feed_session WHERE feed_request_id = :id ORDER BY id DESC LIMIT 1",
        id=request,
    )


def _actions(world: World, subject_type: str, subject_id: int) -> list[str]:
    with world.engine.connect() as conn:
        records = audit.list_records(
            conn, subject_type=subject_type, subject_id=str(subject_id), limit=1000
        )
    return [r.action for r in records]


@pytest.fixture
def worker(world: World, relay: JanusRelay) -> Iterator[Worker]:
    """The worker loop in a thread, as ``gilmok worker`` runs it."""
    loop = Worker(world.engine, relay, world.settings, interval_s=0.1)
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(stop,), daemon=True)
    thread.start()
    yield loop
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()


def _eventually(read: Callable[[], Any], ok: Callable[[Any], bool], timeout_s: float = 2.0) -> Any:
    """``read()`` once ``ok`` holds for it (the worker commits just after the relay call)."""
    deadline = time.monotonic() + timeout_s
    while not ok(value := read()) and time.monotonic() < deadline:
        time.sleep(0.01)
    return value


def _gone_within(relay: JanusRelay, stream_ids: list[str], *, timeout_s: float) -> float:
    """Seconds until none of the streams is on the relay any more (fails past the timeout)."""
    start = time.monotonic()
    while any(relay.status(s).present for s in stream_ids):
        assert time.monotonic() - start < timeout_s, "the relay still has the stream"
        time.sleep(0.01)
    return time.monotonic() - start


# ---- provisioning ----------------------------------------------------------------------------


def test_an_approved_request_becomes_a_flowing_feed_that_only_its_credential_opens(
    world: World, relay: JanusRelay, camsim: CameraSimulator, relay_settings: RelaySettings
) -> None:
    scene = _scene(world)
    mine = _request(world, scene, world.cameras[0])
    theirs = _request(world, scene, world.cameras[1], requester=world.other_requester)
    start = time.monotonic()
    offer = _provision(world, relay, mine)
    assert offer is not None
    wait_flowing(relay, [offer["viewer"][0]["stream"]], timeout_s=2.0)
    flowing_s = time.monotonic() - start
    assert flowing_s < 2.0
    other = _provision(world, relay, theirs)
    assert other is not None

    stream = offer["viewer"][0]["stream"]
    status = relay.status(stream)
    assert status.flowing
    assert status.media_age_ms is not None
    assert status.media_age_ms < 1000
    # The offer: where to watch, a credential, an expiry within the session limit.
    assert set(offer) == {
        "feed_request_id", "feed_session_id", "camera_id", "expires_at", "viewer", "credential"
    }  # fmt: skip
    assert offer["viewer"][0]["protocol"] == "janus-streaming"
    expires = dt.datetime.fromisoformat(offer["expires_at"])
    assert expires <= dt.datetime.now(dt.UTC) + dt.timedelta(seconds=600)
    # The database: a live session with the credential's hash only; the request provisioned.
    session = _session(world, mine)
    assert session.status == "live"
    assert session.relay_stream_id == stream
    assert bytes(session.credential_hash) == hash_credential(offer["credential"])
    assert _request_state(world, mine) == ("provisioned", "")
    assert "feed.provisioned" in _actions(world, "feed_request", mine)
    assert "feed.credential_issued" in _actions(world, "feed_session", session.id)
    # The source URL and the credential are nowhere but in the offer.
    with world.engine.connect() as conn:
        trail = str([r.as_dict() for r in audit.list_records(conn, limit=10_000)])
        ledger = str(relay_streams.relay_stream_rows(conn))
    for secret in (
        camsim.url(1),
        "rtsp://",
        offer["credential"]["pin"],
        offer["credential"]["token"],
    ):
        assert secret not in trail
        assert secret not in ledger
    assert camsim.url(1) not in str(offer)

    # Only its own credential opens it.
    viewer = Viewer(relay_settings, offer["credential"]["token"])
    assert viewer.watch(stream, "not-the-pin")["plugindata"]["data"]["error_code"] == 457
    wrong = viewer.watch(stream, other["credential"]["pin"])
    assert wrong["plugindata"]["data"]["error_code"] == 457
    right = viewer.watch(stream, offer["credential"]["pin"])
    assert right["jsep"]["type"] == "offer"

    # Provisioning again is a no-op: the request is no longer 'approved'.
    assert _provision(world, relay, mine) is None
    with app_transaction(world.engine) as conn:
        assert revoke_for(conn, relay, incident_id=scene.incident, reason="drill over") == 2
    assert not relay.status(stream).present
    assert _request_state(world, mine) == ("revoked", "drill over")
    assert _session(world, mine).status == "revoked"


def test_expiry_is_capped_by_the_activation_and_the_session_limit(
    world: World, relay: JanusRelay
) -> None:
    scene = _scene(world, ends_in=dt.timedelta(minutes=5))
    request = _request(world, scene, world.cameras[2])
    offer = _provision(world, relay, request)
    assert offer is not None
    ends_at = _row(world, "SELECT ends_at FROM activation WHERE id = :id", id=scene.activation)[0]
    assert dt.datetime.fromisoformat(offer["expires_at"]) == ends_at.replace(
        microsecond=ends_at.microsecond
    )
    short = replace(world, settings=world.settings.with_overrides(feed_session_max_s=30))
    second = _request(world, scene, world.cameras[3])
    offer2 = _provision(short, relay, second)
    assert offer2 is not None
    assert dt.datetime.fromisoformat(offer2["expires_at"]) < ends_at - dt.timedelta(minutes=4)


def test_a_camera_source_down_fails_that_feed_only(world: World, relay: JanusRelay) -> None:
    scene = _scene(world)
    good = [_request(world, scene, c) for c in world.cameras[4:6]]
    bad = _request(world, scene, world.missing_camera)
    sourceless = _request(world, scene, world.sourceless_camera)
    offers = [_provision(world, relay, r) for r in (good[0], bad, sourceless, good[1])]
    assert offers[1] is None
    assert offers[2] is None
    status, reason = _request_state(world, bad)
    assert status == "failed"
    assert "cannot pull" in reason
    assert "rtsp" not in reason
    assert _request_state(world, sourceless) == (
        "failed",
        "the camera has no source URL registered",
    )
    assert "feed.failed" in _actions(world, "feed_request", bad)
    # the camera the relay cannot open is offline from now on, with the reason (never its URL)
    state = _row(world, "SELECT status, status_reason FROM camera WHERE id = :id",
                 id=world.missing_camera)  # fmt: skip
    assert tuple(state) == ("offline", "the relay cannot open the camera's video source")
    via = _row(world, "SELECT via FROM camera_change WHERE camera_id = :id ORDER BY id DESC",
               id=world.missing_camera)  # fmt: skip
    assert via[0] == "relay"
    streams = [o["viewer"][0]["stream"] for o in (offers[0], offers[3]) if o]
    wait_flowing(relay, streams)
    assert [_request_state(world, r)[0] for r in good] == ["provisioned", "provisioned"]


def test_no_relay_configured_keeps_the_request_approved_with_the_reason(
    world: World, relay: JanusRelay
) -> None:
    scene = _scene(world)
    request = _request(world, scene, world.cameras[6])
    assert _provision(world, None, request) is None
    assert _request_state(world, request) == ("approved", RELAY_NOT_CONFIGURED)
    assert _actions(world, "feed_request", request) == ["feed.provision_deferred"]


def test_unknown_request_and_revoke_without_a_target_are_errors(world: World) -> None:
    with app_transaction(world.engine) as conn:
        with pytest.raises(NotFound):
            provision_request(conn, None, 2_000_000_000, settings=world.settings)
        with pytest.raises(InvalidInput):
            revoke_for(conn, None, reason="everything")


def test_camera_source_urls_are_checked_and_never_audited(world: World) -> None:
    secret_url = "rtsp://admin:hunter2@10.1.2.3:554/Streaming/101"
    with app_transaction(world.engine) as conn:
        with pytest.raises(InvalidInput) as info:
            camera_sources.set_camera_sources(
                conn, {world.sourceless_camera: "ftp://admin:hunter2@x/"}, actor=ACTOR
            )
        assert "hunter2" not in info.value.message
        with pytest.raises(NotFound):
            camera_sources.set_camera_sources(conn, {2_000_000_000: secret_url}, actor=ACTOR)
        assert (
            camera_sources.set_camera_sources(
                conn, {world.sourceless_camera: secret_url}, actor=ACTOR
            )
            == 1
        )
        record = audit.list_records(conn, action="camera.source_set", limit=1000)[-1]
        assert "hunter2" not in str(record.as_dict())
        assert record.details["schemes"] == ["rtsp"]
        camera_sources.set_camera_sources(conn, {world.sourceless_camera: None}, actor=ACTOR)


# ---- revocation and expiry through the worker -----------------------------------------------


def _close_incident(conn: Connection, scene: Scene) -> None:
    conn.execute(
        text("UPDATE incident SET status = 'closed', closed_at = now() WHERE id = :id"),
        {"id": scene.incident},
    )


def _end_activation(conn: Connection, scene: Scene) -> None:
    activations.end_activation(
        conn, scene.activation, actor=ACTOR, organization_id=1, reason="stand down"
    )


def _centre_revokes(conn: Connection, scene: Scene) -> None:
    conn.execute(
        text(
            "UPDATE feed_request SET status = 'revoked', reason = 'centre revoked' WHERE incident_id = :id"
        ),
        {"id": scene.incident},
    )


@pytest.mark.parametrize(
    ("trigger", "status"),
    [(_close_incident, "revoked"), (_end_activation, "revoked"), (_centre_revokes, "revoked")],
    ids=["incident closed", "activation ended", "centre revoked"],
)
def test_the_worker_removes_revoked_feeds_within_a_second(
    world: World,
    relay: JanusRelay,
    worker: Worker,
    trigger: Callable[[Connection, Scene], None],
    status: str,
) -> None:
    scene = _scene(world)
    requests = [_request(world, scene, c) for c in world.cameras[7:9]]
    # The worker provisions approved requests by itself.
    deadline = time.monotonic() + 3
    while any(_request_state(world, r)[0] != "provisioned" for r in requests):
        assert time.monotonic() < deadline, [_request_state(world, r) for r in requests]
        time.sleep(0.02)
    streams = [_session(world, r).relay_stream_id for r in requests]
    wait_flowing(relay, streams)
    with app_transaction(world.engine) as conn:
        trigger(conn, scene)
    # Committed: from here the relay must drop the streams within a second.
    took = _gone_within(relay, streams, timeout_s=1.0)
    assert took < 1.0
    for request in requests:
        session = _eventually(lambda r=request: _session(world, r), lambda s: s.status != "live")
        assert session.status == status
        assert session.ended_at is not None
        assert f"feed.{status}" in _actions(world, "feed_session", session.id)


def test_the_worker_ends_a_session_at_its_expiry(
    world: World, relay: JanusRelay, worker: Worker
) -> None:
    scene = _scene(world)
    short = replace(world, settings=world.settings.with_overrides(feed_session_max_s=1.0))
    request = _request(world, scene, world.cameras[9])
    offer = _provision(short, relay, request)
    assert offer is not None
    stream = offer["viewer"][0]["stream"]
    expires = dt.datetime.fromisoformat(offer["expires_at"])
    wait_flowing(relay, [stream])
    while relay.status(stream).present:
        time.sleep(0.01)
    late = (dt.datetime.now(dt.UTC) - expires).total_seconds()
    assert late < 1.0
    assert _eventually(lambda: _session(world, request), lambda s: s.status != "live").status == (
        "expired"
    )
    assert _request_state(world, request)[0] == "expired"


def test_the_worker_ends_the_feed_of_a_camera_retired_outside_the_api(
    world: World, relay: JanusRelay, worker: Worker
) -> None:
    """A camera retired by a path that ends no session itself (a direct edit, a future
    import) stops being relayed at the worker's next turn, with the reason."""
    scene = _scene(world)
    camera = world.cameras[8]
    request = _request(world, scene, camera)
    offer = _provision(world, relay, request)
    assert offer is not None
    stream = offer["viewer"][0]["stream"]
    wait_flowing(relay, [stream])
    with world.engine.begin() as conn:
        conn.execute(text("UPDATE camera SET status = 'retired' WHERE id = :id"), {"id": camera})
    session = _eventually(lambda: _session(world, request), lambda s: s.status != "live")
    assert session.status == "revoked"
    assert "the camera was removed from the registry" in _request_state(world, request)[1]
    assert not relay.status(stream).present


# ---- recovery --------------------------------------------------------------------------------


def test_a_relay_restart_is_reconciled_and_a_new_credential_opens_the_feed(
    world: World, relay: JanusRelay, janus: JanusProcess, relay_settings: RelaySettings
) -> None:
    scene = _scene(world)
    requests = [_request(world, scene, c) for c in world.cameras[10:12]]
    offers = [_provision(world, relay, r) for r in requests]
    old = [o["viewer"][0]["stream"] for o in offers if o]
    wait_flowing(relay, old)
    janus.kill()
    janus.start()
    assert not any(relay.status(s).present for s in old)
    # A restarted Janus forgot the viewers' tokens with the mountpoints: the old credential
    # opens no session; only a credential issued after the restart does.
    assert relay.stored_tokens() == []
    for offer in offers:
        assert offer is not None
        refused = Viewer(relay_settings, offer["credential"]["token"]).post("", {"janus": "create"})
        assert refused["error"]["code"] == 403
    with app_transaction(world.engine) as conn:
        done = reconcile(conn, relay, settings=world.settings)
    assert done["relay_up"]
    assert done["reprovisioned"] == 2
    new = [_session(world, r).relay_stream_id for r in requests]
    assert set(new).isdisjoint(old)
    wait_flowing(relay, new)
    assert {r.relay_stream_id for r in relay.list_provisioned()} >= set(new)
    assert not set(old) & {r.relay_stream_id for r in relay.list_provisioned()}
    # The requester fetches a fresh credential for the restored feed; it opens the stream,
    # and it is the only token of that feed on Janus (the reprovisioned stream's went with it).
    with app_transaction(world.engine) as conn:
        fresh = issue_credential(conn, relay, requests[0])
    assert fresh is not None
    streams_now = {_session(world, r).relay_stream_id for r in requests}
    tokens = [t for t in relay.stored_tokens() if t.split(".")[0] in streams_now]
    assert len(tokens) == 2
    assert fresh["credential"]["token"] in tokens
    viewer = Viewer(relay_settings, fresh["credential"]["token"])
    answer = viewer.watch(fresh["viewer"][0]["stream"], fresh["credential"]["pin"])
    assert answer["jsep"]["type"] == "offer"
    assert bytes(_session(world, requests[0]).credential_hash) == hash_credential(
        fresh["credential"]
    )
    # Reconciling again changes nothing.
    with app_transaction(world.engine) as conn:
        again = reconcile(conn, relay, settings=world.settings)
    assert again == {
        "relay_up": True,
        "orphans_destroyed": 0,
        "reprovisioned": 0,
        "failed": 0,
        "provisioned": 0,
    }


def test_relay_down_at_approval_then_provisioned_when_it_returns(
    world: World, relay: JanusRelay, janus: JanusProcess
) -> None:
    scene = _scene(world)
    request = _request(world, scene, world.cameras[0])
    janus.stop()
    try:
        assert _provision(world, relay, request) is None
        assert _provision(world, relay, request) is None  # retried: audited once
        status, reason = _request_state(world, request)
        assert status == "approved"
        assert reason.startswith("approved, not provisioned: the stream relay")
        assert _actions(world, "feed_request", request) == ["feed.provision_deferred"]
        with app_transaction(world.engine) as conn:
            assert reconcile(conn, relay, settings=world.settings)["relay_up"] is False
    finally:
        janus.start()
    with app_transaction(world.engine) as conn:
        done = reconcile(conn, relay, settings=world.settings)
    assert done["provisioned"] == 1
    assert _request_state(world, request) == ("provisioned", "")
    wait_flowing(relay, [_session(world, request).relay_stream_id])


def test_orphans_are_destroyed_and_unreachable_revocations_completed(
    world: World, relay: JanusRelay, relay_settings: RelaySettings
) -> None:
    scene = _scene(world)
    rolled_back, revoked = (_request(world, scene, c) for c in world.cameras[2:4])
    # A provisioning whose transaction rolls back leaves a stream on the relay.
    with world.engine.connect() as conn, conn.begin() as tx:
        assert provision_request(conn, relay, rolled_back, settings=world.settings)
        tx.rollback()
    [orphan] = [
        r.relay_stream_id
        for r in relay.list_provisioned()
        if r.key == f"feed_request:{rolled_back}"
    ]
    assert relay.status(orphan).present
    # A revocation while the relay cannot be reached ends the session in the database only.
    offer = _provision(world, relay, revoked)
    assert offer is not None
    unreachable = JanusRelay(
        relay_settings.with_overrides(port=free_tcp_port()), ledger=relay.ledger
    )
    with app_transaction(world.engine) as conn:
        assert revoke_for(conn, unreachable, feed_request_id=revoked, reason="centre revoked") == 1
    session = _session(world, revoked)
    assert session.status == "revoked"
    assert "not destroyed" in session.last_error
    assert relay.status(offer["viewer"][0]["stream"]).present
    with app_transaction(world.engine) as conn:
        done = reconcile(conn, relay, settings=world.settings)
    assert done["orphans_destroyed"] == 2
    assert not relay.status(orphan).present
    assert not relay.status(offer["viewer"][0]["stream"]).present
    # The rolled-back request was still approved: the same round provisioned it for real.
    assert done["provisioned"] == 1
    assert _request_state(world, rolled_back) == ("provisioned", "")


# ---- the worker command and the app ----------------------------------------------------------


def test_gilmok_worker_provisions_and_stops_cleanly_on_sigterm(
    world: World, relay: JanusRelay, relay_settings: RelaySettings
) -> None:
    scene = _scene(world)
    request = _request(world, scene, world.cameras[5])
    env = {
        **os.environ,
        **database_env(world.engine.url, world.settings),
        "GILMOK_RELAY_BACKEND": "janus",
        "GILMOK_RELAY_PORT": str(relay_settings.port),
        "GILMOK_RELAY_ADMIN_PORT": str(relay_settings.admin_port),  # viewers' tokens
        "GILMOK_RELAY_SECRET": str(relay_settings.secret),
        "GILMOK_RELAY_RUNTIME_DIR": str(relay_settings.runtime_dir),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "worker", "--interval", "0.1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 10
        while _request_state(world, request)[0] != "provisioned":
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            if time.monotonic() > deadline:
                proc.send_signal(signal.SIGTERM)
                pytest.fail(f"the worker did not provision: {proc.communicate(timeout=5)[0]}")
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=5)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert "worker stopped" in out
    assert "provisioned 1" in out


def test_the_app_wires_the_configured_relay_into_its_health(
    world: World, janus: JanusProcess
) -> None:
    app = create_app(world.settings, engine=world.engine)
    assert app.extensions["gilmok"].relay is not None
    body = app.test_client().get("/healthz").get_json()
    assert body["checks"]["relay"]["status"] == "ok"
    unconfigured = world.settings.with_overrides(
        relay=world.settings.relay.with_overrides(configured=False)
    )
    assert create_app(unconfigured, engine=world.engine).extensions["gilmok"].relay is None


def test_credential_hash_is_sha256_of_canonical_json() -> None:
    assert (
        hash_credential({"token": "t", "pin": "p"})
        == hashlib.sha256(b'{"pin":"p","token":"t"}').digest()
    )


def test_cameras_set_source_reads_the_url_from_stdin_and_never_prints_it(world: World) -> None:
    from click.testing import CliRunner

    from api.cli import main

    env = {"GILMOK_DATABASE_URL": world.engine.url.render_as_string(hide_password=False)}
    secret_url = "rtsp://viewer:s3cret@192.0.2.7:554/live"
    camera = world.sourceless_camera
    result = CliRunner().invoke(
        main, ["cameras", "set-source", str(camera)], input=secret_url + "\n", env=env
    )
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.output
    with world.engine.connect() as conn:
        stored = conn.execute(
            text("SELECT source_url FROM camera WHERE id = :id"), {"id": camera}
        ).scalar()
    assert stored == secret_url
    bad = CliRunner().invoke(
        main, ["cameras", "set-source", str(camera), "file:///etc/passwd"], env=env
    )
    assert bad.exit_code == 1
    assert "passwd" not in bad.output
    cleared = CliRunner().invoke(main, ["cameras", "set-source", str(camera), "--clear"], env=env)
    assert cleared.exit_code == 0, cleared.output


def test_the_api_and_the_worker_racing_for_approved_requests_neither_deadlock_nor_double_provision(
    world: World, relay: JanusRelay
) -> None:
    scene = _scene(world)
    requests = [_request(world, scene, c) for c in world.cameras[:6]]
    loop = Worker(world.engine, relay, world.settings, interval_s=0.01)
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(stop,), daemon=True)
    thread.start()
    try:
        # As the credential endpoint does for approved requests, all in one transaction,
        # while the worker provisions the same requests.
        with app_transaction(world.engine) as conn:
            for request in requests:
                provision_request(conn, relay, request, settings=world.settings)
                time.sleep(0.03)  # the worker gets its chance at the others meanwhile
        deadline = time.monotonic() + 3
        while any(_request_state(world, r)[0] != "provisioned" for r in requests):
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        stop.set()
        thread.join(timeout=5)
    with world.engine.connect() as conn:
        per_request = dict(
            conn.execute(
                text(
                    "SELECT feed_request_id, count(*) FROM feed_session"
                    " WHERE feed_request_id = ANY(:ids) GROUP BY feed_request_id"
                ),
                {"ids": requests},
            ).all()
        )
    assert per_request == dict.fromkeys(requests, 1)
    # An incident closed (audited first, as the API does) then its feeds revoked.
    with app_transaction(world.engine) as conn:
        _close_incident(conn, scene)
        audit.append(conn, actor=ACTOR, organization_id=None, action="incident.closed",
                     subject_type="incident", subject_id=scene.incident)  # fmt: skip
        assert revoke_for(conn, relay, incident_id=scene.incident, reason="closed") == 6


def test_a_camera_going_silent_is_marked_on_its_session_and_cleared_when_it_returns(
    world: World, relay: JanusRelay, camsim: CameraSimulator
) -> None:
    scene = _scene(world)
    cam = CAMS[-1]
    silent, steady = (
        _request(world, scene, world.cameras[-1]),
        _request(world, scene, world.cameras[0]),
    )
    offers = [_provision(world, relay, r) for r in (silent, steady)]
    wait_flowing(relay, [o["viewer"][0]["stream"] for o in offers if o])

    def reconciled() -> dict[str, Any]:
        with app_transaction(world.engine) as conn:
            return reconcile(conn, relay, settings=world.settings)

    camsim.down(cam)
    try:
        session = _eventually(
            lambda: (reconciled(), _session(world, silent))[1],
            lambda s: s.last_error != "",
            timeout_s=5,
        )
        assert session.last_error.startswith("the camera's video source sends no media")
        assert session.status == "live"  # kept: the relay reconnects by itself
        assert _session(world, steady).last_error == ""
        assert "feed.source_lost" in _actions(world, "feed_session", session.id)
    finally:
        camsim.up(cam)
    # Janus pulls the camera again by itself; the mark goes once media flows.
    session = _eventually(
        lambda: (reconciled(), _session(world, silent))[1],
        lambda s: s.last_error == "",
        timeout_s=15,
    )
    assert session.last_error == ""
    assert "feed.source_restored" in _actions(world, "feed_session", session.id)


# ---- the legal basis ends: in the request, and by the loop that gilmok serve runs -------------


@pytest.fixture(scope="module")
def keys(world: World) -> dict[str, str]:
    """API keys: an admin, the requester, and the centre that owns the cameras."""
    with app_transaction(world.engine) as conn:
        orgs.create_organization(conn, name="gilmok 운영", kind="admin", actor=ACTOR)
        made = {
            "admin": ("gilmok 운영", "admin"),
            "requester": ("제56보병사단", "requester"),
            "owner": ("서울특별시 종로구청", "municipal_centre"),
        }
        return {
            label: issue_api_key(conn, organization=name, role=role, actor=ACTOR)[1]
            for label, (name, role) in made.items()
        }


def _api(world: World, relay: JanusRelay, keys: dict[str, str]) -> Callable[..., Any]:
    """POST to an app on this module's database and relay, as one of ``keys``.

    The app has answered once already: the tests timing short sessions must not count the
    first request's imports.
    """
    client = create_app(world.settings, engine=world.engine, relay=relay).test_client()
    client.get("/healthz")

    def post(who: str, url: str, body: Any = None) -> Any:
        return client.post(url, json=body, headers={"Authorization": f"Bearer {keys[who]}"})

    return post


def _is_conflict(response: Any) -> bool:
    body = response.get_json()
    return response.status_code == 409 and set(body) == {"code", "message", "details"}


def test_ending_an_activation_destroys_its_streams_in_the_request_itself(
    world: World, relay: JanusRelay, keys: dict[str, str]
) -> None:
    scene = _scene(world)
    live = [_request(world, scene, c) for c in world.cameras[3:5]]
    offers = [_provision(world, relay, r) for r in live]
    streams = [o["viewer"][0]["stream"] for o in offers if o]
    wait_flowing(relay, streams)
    waiting = _request(world, scene, world.cameras[5])  # approved, relay not reached yet
    pending = _request(world, scene, world.cameras[6], status="pending")
    post = _api(world, relay, keys)
    # No worker, no loop: only the request itself can take the streams down.
    start = time.monotonic()
    ended = post("admin", f"/v1/activations/{scene.activation}/end", {"reason": "stand down"})
    answered_s = time.monotonic() - start
    assert ended.status_code == 200, ended.get_json()
    assert ended.get_json()["state"] == "ended"
    assert not any(relay.status(s).present for s in streams)
    assert answered_s < 1.0
    for request in live:
        session = _session(world, request)
        assert session.status == "revoked"
        assert session.last_error == ""
        assert "feed.revoked" in _actions(world, "feed_session", session.id)
        assert _request_state(world, request) == (
            "revoked", "activation (legal basis) ended: stand down"
        )  # fmt: skip
    for request in (waiting, pending):
        assert _request_state(world, request)[0] == "revoked"
        assert _actions(world, "feed_request", request)[-1] == "feed.revoked"
    # Nothing comes back: no credential, no approval.
    for request in (*live, waiting):
        again = post("requester", f"/v1/feed-requests/{request}/credential")
        assert _is_conflict(again), again.get_json()
    approve = post("owner", f"/v1/feed-requests/{pending}/approve")
    assert _is_conflict(approve), approve.get_json()
    assert _request_state(world, pending)[0] == "revoked"


def test_a_credential_is_refused_once_the_session_expired_even_before_the_loop_ends_it(
    world: World, relay: JanusRelay, keys: dict[str, str]
) -> None:
    post = _api(world, relay, keys)
    scene = _scene(world)
    short = replace(world, settings=world.settings.with_overrides(feed_session_max_s=3.0))
    request = _request(world, scene, world.cameras[7])
    offer = _provision(short, relay, request)
    assert offer is not None
    fresh = post("requester", f"/v1/feed-requests/{request}/credential")
    assert fresh.status_code == 200, fresh.get_json()
    assert fresh.get_json()["credential"]["credential"]["pin"] != offer["credential"]["pin"]
    expires = dt.datetime.fromisoformat(offer["expires_at"])
    time.sleep(max(0.0, (expires - dt.datetime.now(dt.UTC)).total_seconds()) + 0.05)
    late = post("requester", f"/v1/feed-requests/{request}/credential")
    assert _is_conflict(late), late.get_json()
    assert "reached its expiry" in late.get_json()["message"]
    # Refused without a change: the session is still the loop's to end.
    assert _session(world, request).status == "live"
    with app_transaction(world.engine) as conn:
        assert expire_due(conn, relay) == 1
    assert _session(world, request).status == "expired"


def test_a_request_outliving_its_activation_cannot_be_approved_and_the_loop_closes_it(
    world: World, relay: JanusRelay, keys: dict[str, str]
) -> None:
    post = _api(world, relay, keys)
    ends = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3)
    scene = _scene(world, ends_in=ends - dt.datetime.now(dt.UTC))
    pending = _request(world, scene, world.cameras[8], status="pending")
    approved = _request(world, scene, world.cameras[9], status="pending")
    assert post("owner", f"/v1/feed-requests/{approved}/approve").status_code == 200
    assert _request_state(world, approved)[0] == "provisioned"
    time.sleep(max(0.0, (ends - dt.datetime.now(dt.UTC)).total_seconds()) + 0.1)
    # The activation ran its course; nobody ended it.
    late = post("owner", f"/v1/feed-requests/{pending}/approve")
    assert _is_conflict(late), late.get_json()
    assert "no longer in force" in late.get_json()["message"]
    assert _request_state(world, pending)[0] == "pending"
    with app_transaction(world.engine) as conn:
        assert expire_due(conn, relay) == 2  # the pending request and the live session
    assert _request_state(world, pending) == ("expired", "the activation (legal basis) ran out")
    assert _actions(world, "feed_request", pending)[-1] == "feed.expired"
    assert _session(world, approved).status == "expired"
    assert _is_conflict(post("owner", f"/v1/feed-requests/{pending}/approve"))
