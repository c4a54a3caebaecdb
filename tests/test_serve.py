"""``gilmok serve``: gunicorn workers load the registry snapshot before they take requests, and
run the expiry loop themselves.

A national snapshot takes a minute or more to load; loaded inside the first request, it kept the
sync worker silent past gunicorn's timeout and the worker was killed and rebooted, again and
again. Here a real server (one worker) on the real central-Seoul registry must log the load
before it answers anything, then answer the spatial endpoint from that snapshot.

Feeds must end when the law says so with nothing but ``gilmok serve`` running: a real server
with two workers, the real Janus and the camera simulator, and no ``gilmok worker``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from real_registry import real_registry_url
from scratch_db import database_env, scratch_database
from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy import text
from sqlalchemy.engine import Engine

from api.feeds.loop import LOCK_KEY
from api.keys import issue_api_key
from api.relay.camsim import CameraSimulator
from api.relay.janus import JanusRelay
from api.relay.janus_process import JanusProcess
from api.relay.settings import RelaySettings
from api.settings import Settings
from geo.crs import DEFAULT_COUNTRY_BOUNDS
from geo.store import activations, camera_sources, connect, orgs

ROOT = Path(__file__).resolve().parents[1]

# the registry lives in a database of its own (no fixture of conftest's DB_FIXTURES)
pytestmark = pytest.mark.db


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, key: str | None = None, *, body: Any = None) -> tuple[int, bytes]:
    """GET, or POST ``body`` as JSON when it is given."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, headers=headers, data=data)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_workers_load_the_snapshot_before_serving(
    base_settings: Settings, data_dir: Path, tmp_path: Path
) -> None:
    url = real_registry_url(base_settings.owner_database_url, data_dir)
    engine = connect(url)
    name = f"serve test {uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        orgs.create_organization(conn, name=name, kind="military_unit", actor="test")
        key = issue_api_key(conn, organization=name, role="requester", actor="test")[1]
    engine.dispose()
    port = _free_port()
    log = tmp_path / "serve.log"
    env = {
        **os.environ,
        **database_env(url, base_settings),
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-m", "api.cli", "serve", "--workers", "1", "--port", str(port)]
    with log.open("wb") as out:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                status, _ = _get(f"{base}/healthz")
                break
            except OSError:
                time.sleep(0.2)
        # read as soon as the one worker first answered: it had logged the load already
        text = log.read_text()
        assert "registry snapshot loaded before serving" in text, text
        assert "WORKER TIMEOUT" not in text
        status, body = _get(f"{base}/v1/approaches?lon=126.9769&lat=37.5759&radius_m=500", key)
        assert status == 200, body[:300]
        assert b'"role":"approach"' in body
    finally:
        server.terminate()
        server.wait(timeout=30)


# ---- the expiry loop inside serve ------------------------------------------------------------

ACTOR = "test"
CENTRAL_SEOUL = MultiPolygon(
    [Polygon([(126.96, 37.555), (127.0, 37.555), (127.0, 37.58), (126.96, 37.58)])]
)
GWANGHWAMUN = (126.9769, 37.5759)
#: Seconds a feed session may last in the served app (GILMOK_FEED_SESSION_MAX_S).
SESSION_S = 4.0


def _until(check: Callable[[], Any], *, timeout_s: float, what: str, log: Path) -> Any:
    deadline = time.monotonic() + timeout_s
    while not (value := check()):
        assert time.monotonic() < deadline, f"{what}; serve's log:\n{log.read_text()[-4000:]}"
        time.sleep(0.02)
    return value


def _feed_world(engine: Engine, camsim: CameraSimulator) -> dict[str, Any]:
    """Organizations, an admin key, two cameras served by the simulator, an activation in
    force and an open incident under it."""
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        made = [
            ("gilmok 운영", "admin", None),
            ("수도권 광역통합운영센터", "regional_centre", None),
            ("서울특별시 종로구청", "municipal_centre", "수도권 광역통합운영센터"),
            ("제56보병사단", "military_unit", None),
        ]
        ids = [
            orgs.create_organization(conn, name=name, kind=kind, parent=parent, actor=ACTOR).id
            for name, kind, parent in made
        ]
        orgs.set_service_area_from(  # a centre activates only inside its service area
            conn, organization_id=ids[1], sido=["서울특별시"],
            country_bounds=DEFAULT_COUNTRY_BOUNDS, actor=ACTOR,
        )  # fmt: skip
        admin_key = issue_api_key(conn, organization="gilmok 운영", role="admin", actor=ACTOR)
        cameras = [
            conn.execute(
                text(
                    "INSERT INTO camera (source, source_key, site_key, owner_id, position, kind,"
                    " heading_source) VALUES ('manual', :key, :key, :owner,"
                    " ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 5179),"
                    " 'dome', 'unknown') RETURNING id"
                ),
                {
                    "key": f"serve-cam-{n}",
                    "owner": ids[2],
                    "lon": GWANGHWAMUN[0],
                    "lat": GWANGHWAMUN[1],
                },
            ).scalar_one()
            for n in (14, 15)
        ]
        sources = {c: camsim.url(n) for c, n in zip(cameras, (14, 15), strict=True)}
        camera_sources.set_camera_sources(conn, sources, actor=ACTOR)
        activation = activations.create_activation(
            conn,
            basis="alert_level_2",
            reference="합참-serve",
            area=CENTRAL_SEOUL,
            starts_at=now - dt.timedelta(minutes=1),
            ends_at=now + dt.timedelta(hours=1),
            issuer_id=ids[1],
            actor=ACTOR,
        )
        incident = conn.execute(
            text(
                "INSERT INTO incident (requester_id, location, radius_m, mode) VALUES (:r,"
                " ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 5179), 500,"
                " 'network') RETURNING id"
            ),
            {"r": ids[3], "lon": GWANGHWAMUN[0], "lat": GWANGHWAMUN[1]},
        ).scalar_one()
    return {
        "admin_key": admin_key[1],
        "cameras": cameras,
        "activation": activation.id,
        "incident": incident,
        "regional": ids[1],
        "owner": ids[2],
        "requester": ids[3],
    }


def _approved_request(engine: Engine, w: dict[str, Any], camera: int) -> int:
    """An approved request the way a centre leaves it: for the loop to provision."""
    with engine.begin() as conn:
        return int(
            conn.execute(
                text(
                    "INSERT INTO feed_request (incident_id, camera_id, requester_id,"
                    " routed_via_id, owner_id, activation_id, status, decided_at)"
                    " VALUES (:i, :c, :r, :via, :o, :a, 'approved', now()) RETURNING id"
                ),
                {
                    "i": w["incident"],
                    "c": camera,
                    "r": w["requester"],
                    "via": w["regional"],
                    "o": w["owner"],
                    "a": w["activation"],
                },
            ).scalar_one()
        )


def _live_session(engine: Engine, request: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT id, relay_stream_id, expires_at, status FROM feed_session"
                " WHERE feed_request_id = :id AND status = 'live'"
            ),
            {"id": request},
        ).first()


def _lock_holders(engine: Engine) -> int:
    """Database sessions holding the expiry loop's advisory lock."""
    key = LOCK_KEY & 0xFFFFFFFFFFFFFFFF
    with engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                    " AND database = (SELECT oid FROM pg_database WHERE datname ="
                    " current_database()) AND classid = :hi AND objid = :lo"
                ),
                {"hi": key >> 32, "lo": key & 0xFFFFFFFF},
            ).scalar_one()
        )


def _leaders(log: Path) -> list[int]:
    return [int(p) for p in re.findall(r"expiry loop: leading \(pid (\d+)\)", log.read_text())]


@pytest.mark.db
def test_serve_alone_ends_feeds_on_time_with_one_leader(
    base_settings: Settings,
    relay_settings: RelaySettings,
    janus: JanusProcess,
    camsim: CameraSimulator,
    tmp_path: Path,
) -> None:
    relay = JanusRelay(relay_settings)
    with scratch_database(base_settings.owner_database_url) as url:
        engine = connect(url)
        w = _feed_world(engine, camsim)
        port = _free_port()
        log = tmp_path / "serve.log"
        env = {
            **os.environ,
            **database_env(url, base_settings),
            "GILMOK_RELAY_BACKEND": "janus",
            "GILMOK_RELAY_PORT": str(relay_settings.port),
            "GILMOK_RELAY_ADMIN_PORT": str(relay_settings.admin_port),
            "GILMOK_RELAY_SECRET": str(relay_settings.secret),
            "GILMOK_RELAY_RUNTIME_DIR": str(relay_settings.runtime_dir),
            "GILMOK_FEED_SESSION_MAX_S": str(SESSION_S),
            "PYTHONUNBUFFERED": "1",
        }
        command = [sys.executable, "-m", "api.cli", "serve", "--workers", "2", "--port", str(port)]
        with log.open("wb") as out:
            server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
        base = f"http://127.0.0.1:{port}"
        try:
            # Both workers up: one leads the loop, the other stands by.
            _until(
                lambda: len(_leaders(log)) == 1 and "standing by" in log.read_text(),
                timeout_s=60,
                what="no leader and standby",
                log=log,
            )
            assert _lock_holders(engine) == 1
            # The loop provisions an approved request by itself ...
            expiring = _approved_request(engine, w, w["cameras"][0])
            session = _until(
                lambda: _live_session(engine, expiring),
                timeout_s=5,
                what="not provisioned",
                log=log,
            )
            assert relay.status(session.relay_stream_id).present
            # ... and ends it at its expiry: the mountpoint is gone within a second of it.
            _until(
                lambda: not relay.status(session.relay_stream_id).present,
                timeout_s=SESSION_S + 3,
                what="the stream outlived its expiry",
                log=log,
            )
            late_s = (dt.datetime.now(dt.UTC) - session.expires_at).total_seconds()
            assert late_s < 1.0, late_s

            def session_status() -> str:
                with engine.connect() as conn:
                    return str(
                        conn.execute(
                            text("SELECT status FROM feed_session WHERE id = :id"),
                            {"id": session.id},
                        ).scalar_one()
                    )

            # The relay call comes first, the commit just after it.
            _until(lambda: session_status() != "live", timeout_s=2, what="still live", log=log)
            assert session_status() == "expired"

            # The leader dies: the standby takes over, and the loop keeps working.
            [leader] = _leaders(log)
            os.kill(leader, signal.SIGKILL)
            _until(lambda: len(_leaders(log)) == 2, timeout_s=10, what="no take-over", log=log)
            assert _leaders(log)[1] != leader
            ended = _approved_request(engine, w, w["cameras"][1])
            live = _until(
                lambda: _live_session(engine, ended),
                timeout_s=5,
                what="not provisioned",
                log=log,
            )
            assert relay.status(live.relay_stream_id).present
            # Ending the activation through the API takes the stream down in the request.
            status_code, body = _get(
                f"{base}/v1/activations/{w['activation']}/end", w["admin_key"], body={}
            )
            assert status_code == 200, body
            assert not relay.status(live.relay_stream_id).present
            assert _lock_holders(engine) == 1
        finally:
            server.terminate()
            server.wait(timeout=30)
            relay.close()
        # Stopped cleanly: each worker's loop stopped and let go of the lock.
        assert server.returncode == 0, log.read_text()[-4000:]
        assert log.read_text().count("expiry loop stopped") == 2, log.read_text()[-4000:]
        assert _lock_holders(engine) == 0
        assert "Traceback" not in log.read_text()
        engine.dispose()
