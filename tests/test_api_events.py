"""The event stream (api.events, api.event_hub, geo.store.audit_events).

In process, on the Mapo world: every caller's stream, replayed from the trail, holds exactly the
events of the resources its reads show it (a property checked for every role over two requesters
and two centres), with the types and states each step makes.

For real: ``gilmok serve --workers 2`` on a scratch database, streams held open by a centre (API
key), another centre (browser session cookie) and the requester. Requests written by another
process, an approval through the API and the expiry loop's closing of requests reach the
streams allowed to see them within a second, and never another centre's; signing out and
revoking a key end their streams at once.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import queue
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from mapo_world import MAPO_AREA, MAPO_POINT, MapoWorld, build_mapo_world
from scratch_db import database_env, scratch_database
from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from api import create_app
from api.event_hub import stop_event_hub
from api.keys import issue_api_key
from api.snapshot import snapshot_cache
from geo.crs import DEFAULT_COUNTRY_BOUNDS
from geo.settings import Settings
from geo.store import activations, connect, orgs
from geo.store import feed_requests as request_store
from geo.store.audit_events import END_REASONS, EVENT_TYPES, end_reason
from geo.store.cameras import CameraRef

pytestmark = pytest.mark.db

ROOT = Path(__file__).resolve().parents[1]
READERS = (
    "admin",
    "auditor",
    "requester",
    "other_requester",
    "regional_centre",
    "municipal_centre",
    "other_municipal",
)
FRAME = re.compile(r"^(?:id: (?P<id>\d+)\n)?event: (?P<event>[\w.]+)\ndata: (?P<data>.*)$")


def _frames(body: str) -> list[tuple[int | None, str, dict[str, Any]]]:
    out = []
    for block in body.split("\n\n"):
        if not block or block.startswith((":", "retry:")):
            continue
        match = FRAME.match(block)
        assert match, block
        ident = match["id"]
        out.append((int(ident) if ident else None, match["event"], json.loads(match["data"])))
    return out


# --- in process: the stream replayed from the trail -------------------------------------------


@dataclass
class Scene:
    world: MapoWorld
    before: int
    incidents: dict[str, int]
    requests: dict[str, list[int]]


def _app(conn: Connection, world: MapoWorld, settings: Settings) -> Flask:
    app = create_app(settings, engine=conn)
    snapshot_cache(app).install(world.snapshot)
    return app


@pytest.fixture(scope="module")
def scene(engine: Engine, data_dir: Path, base_settings: Settings) -> Iterator[Scene]:
    """Two requesters' incidents; requests for cameras of two centres; one approved, one denied,
    one revoked by its centre; one incident closed; an activation started and one ended."""
    with engine.connect() as conn:
        outer = conn.begin()
        try:
            world = build_mapo_world(conn, data_dir, base_settings)
            before = conn.execute(text("SELECT max(id) FROM audit_record")).scalar_one()
            client = _app(conn, world, base_settings).test_client()
            now = dt.datetime.now(dt.UTC)
            for reference in ("경계 제1호", "경계 제2호"):
                made = client.post(
                    "/v1/activations",
                    json={
                        "basis": "alert_level_2",
                        "reference": reference,
                        "area": MAPO_AREA,
                        "starts_at": (now - dt.timedelta(hours=1)).isoformat(),
                        "ends_at": (now + dt.timedelta(days=1)).isoformat(),
                    },
                    headers=world.headers("regional_centre"),
                )
                assert made.status_code == 201, made.json
            lon, lat = MAPO_POINT
            incidents = {}
            for name, who in (("a", "requester"), ("b", "other_requester")):
                made = client.post(
                    "/v1/incidents",
                    json={"lon": lon, "lat": lat, "radius_m": 400, "mode": "euclidean"},
                    headers=world.headers(who),
                )
                assert made.status_code == 201, made.json
                incidents[name] = made.json["id"]
            box = ",".join(f"{v:.4f}" for v in (lon - 0.002, lat - 0.002, lon + 0.002, lat + 0.002))
            near = client.get(f"/v1/cameras?bbox={box}", headers=world.headers("planner")).json
            cameras = sorted(f["id"] for f in near["features"])
            conn.execute(
                text("UPDATE camera SET owner_id = :o WHERE id = ANY(:ids)"),
                {"o": world.orgs["other_municipal"], "ids": cameras[2:4]},
            )
            requests = {}
            for name, who, chosen in (
                ("a", "requester", cameras[:4]),
                ("b", "other_requester", cameras[4:6]),
            ):
                feeds = client.post(
                    f"/v1/incidents/{incidents[name]}/feeds",
                    json={"camera_ids": chosen},
                    headers=world.headers(who),
                )
                assert feeds.status_code == 201, feeds.json
                requests[name] = [i["id"] for i in feeds.json["items"]]
            a = requests["a"]
            steps = [
                (f"/v1/feed-requests/{a[0]}/approve", {}, "municipal_centre"),
                (f"/v1/feed-requests/{a[1]}/deny", {"reason": "화질 불량"}, "municipal_centre"),
                (f"/v1/feed-requests/{a[2]}/revoke", {"reason": "보안"}, "other_municipal"),
                (f"/v1/incidents/{incidents['b']}/close", {}, "other_requester"),
                (f"/v1/activations/{made_activation(conn)}/end", {}, "regional_centre"),
            ]
            for url, body, who in steps:
                response = client.post(url, json=body, headers=world.headers(who))
                assert response.status_code == 200, (url, response.json)
            yield Scene(world, before, incidents, requests)
        finally:
            outer.rollback()


def made_activation(conn: Connection) -> int:
    """The second activation (no request rests on it: ending it revokes nothing)."""
    return int(conn.execute(text("SELECT max(id) FROM activation")).scalar_one())


@pytest.fixture
def client(scene: Scene, base_settings: Settings) -> Iterator[FlaskClient]:
    savepoint = scene.world.conn.begin_nested()
    try:
        yield _app(scene.world.conn, scene.world, base_settings).test_client()
    finally:
        savepoint.rollback()


def _replay(client: FlaskClient, scene: Scene, who: str) -> list[tuple[int | None, str, Any]]:
    response = client.get(
        "/v1/events", headers={**scene.world.headers(who), "Last-Event-ID": str(scene.before)}
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/event-stream"
    frames = _frames(response.get_data(as_text=True))
    assert frames[-1][1:] == ("end", {"type": "end", "at": frames[-1][2]["at"], "reason": "replay"})
    return frames[:-1]


def _readable(client: FlaskClient, who: str, headers: dict[str, str], url: str) -> bool:
    return client.get(url, headers=headers).status_code == 200


@pytest.mark.parametrize("who", READERS)
def test_a_stream_holds_exactly_the_events_of_what_the_caller_may_read(
    client: FlaskClient, scene: Scene, who: str
) -> None:
    headers = scene.world.headers(who)
    frames = _replay(client, scene, who)
    ids = [f[0] for f in frames]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    seen: dict[str, set[int]] = {"incident": set(), "feed_request": set()}
    for _, kind, data in frames:
        assert kind == data["type"]
        assert kind in EVENT_TYPES
        if "feed_request_id" in data:
            seen["feed_request"].add(data["feed_request_id"])
        elif kind.startswith("incident."):
            seen["incident"].add(data["incident_id"])
    # Against the reads, over every incident and request of the scene (brute force both ways).
    all_incidents = scene.incidents.values()
    all_requests = [r for rs in scene.requests.values() for r in rs]
    may_incidents = {
        i for i in all_incidents if _readable(client, who, headers, f"/v1/incidents/{i}")
    }
    may_requests = {
        r for r in all_requests if _readable(client, who, headers, f"/v1/feed-requests/{r}")
    }
    assert seen["incident"] == may_incidents
    assert seen["feed_request"] == may_requests
    # Activations are every reader's business.
    assert [d["state"] for _, k, d in frames if k.startswith("activation.")] == [
        "active",
        "active",
        "ended",
    ]


def test_each_step_makes_its_event(client: FlaskClient, scene: Scene) -> None:
    frames = _replay(client, scene, "requester")
    a = scene.requests["a"]
    by_request: dict[int, list[tuple[str, Any]]] = {}
    for _, kind, data in frames:
        if "feed_request_id" in data:
            by_request.setdefault(data["feed_request_id"], []).append((kind, data))
    assert [k for k, _ in by_request[a[0]]] == [
        "feed_request.created",
        "feed_request.approved",
        "feed_request.deferred",  # no relay configured here
    ]
    deferred = by_request[a[0]][-1][1]
    assert deferred["state"] == "approved"
    assert deferred["incident_id"] == scene.incidents["a"]
    assert [k for k, _ in by_request[a[1]]] == ["feed_request.created", "feed_request.denied"]
    assert "화질 불량" in by_request[a[1]][-1][1]["message"]
    revoked = by_request[a[2]][-1]
    assert revoked[0] == "feed_request.revoked"
    assert revoked[1]["reason"] == "revoked"
    assert revoked[1]["state"] == "revoked"
    assert "보안" in revoked[1]["message"]
    created = [d for _, k, d in frames if k == "incident.opened"]
    assert [d["incident_id"] for d in created] == [scene.incidents["a"]]


def test_closing_an_incident_ends_its_requests_with_the_reason(
    client: FlaskClient, scene: Scene
) -> None:
    frames = _replay(client, scene, "other_requester")
    closed = [d for _, k, d in frames if k == "incident.closed"]
    assert [d["incident_id"] for d in closed] == [scene.incidents["b"]]
    ended = [d for _, k, d in frames if k == "feed_request.revoked"]
    assert sorted(d["feed_request_id"] for d in ended) == sorted(scene.requests["b"])
    assert {d["reason"] for d in ended} == {"incident_closed"}


def test_after_id_and_last_event_id_resume_and_are_checked(
    client: FlaskClient, scene: Scene
) -> None:
    headers = scene.world.headers("admin")
    frames = _replay(client, scene, "admin")
    middle = frames[len(frames) // 2][0]
    rest = _frames(
        client.get(f"/v1/events?after_id={middle}", headers=headers).get_data(as_text=True)
    )
    assert [f[0] for f in rest[:-1]] == [f[0] for f in frames if f[0] > middle]  # type: ignore[operator]
    for bad in ({"Last-Event-ID": "x1"}, {"Last-Event-ID": "-1"}):
        response = client.get("/v1/events", headers={**headers, **bad})
        assert response.status_code == 422
        assert response.json["code"] == "validation_error"
    assert client.get("/v1/events?after_id=-1", headers=headers).status_code == 422
    planner = client.get("/v1/events", headers=scene.world.headers("planner"))
    assert planner.status_code == 403


@pytest.mark.parametrize(
    ("status", "message", "reason"),
    [
        ("revoked", "revoked by 마포구: 보안 (incident closed)", "revoked"),
        ("revoked", "incident closed: 상황 종료", "incident_closed"),
        ("revoked", "the incident was closed", "incident_closed"),
        ("revoked", "activation (legal basis) ended: 해제", "activation_ended"),
        ("expired", "the activation (legal basis) ran out", "activation_ended"),
        ("expired", "the session reached its expiry", "expired"),
        ("revoked", "the feed request was revoked", "revoked"),
    ],
)
def test_end_reasons_are_named(status: str, message: str, reason: str) -> None:
    assert end_reason(status, message) == reason
    assert reason in END_REASONS


# --- for real: gilmok serve with two workers --------------------------------------------------

CENTRAL = MultiPolygon(
    [Polygon([(126.96, 37.555), (127.0, 37.555), (127.0, 37.58), (126.96, 37.58)])]
)
POINT = (126.9769, 37.5759)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SseClient:
    """An event stream read in a thread: (arrival time, event, data) on ``frames``."""

    def __init__(self, port: int, headers: dict[str, str]) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.conn.request("GET", "/v1/events", headers=headers)
        self.response = self.conn.getresponse()
        self.frames: queue.Queue[tuple[float, str, dict[str, Any]]] = queue.Queue()
        self.comments = 0
        assert self.response.status == 200, self.response.read()[:300]
        assert self.response.getheader("Content-Type", "").startswith("text/event-stream")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        lines: list[str] = []
        try:
            while raw := self.response.readline():
                line = raw.decode("utf-8").rstrip("\n")
                if line:
                    lines.append(line)
                    continue
                fields = dict(
                    x.split(": ", 1) for x in lines if not x.startswith(":") and ": " in x
                )
                self.comments += any(x.startswith(":") for x in lines)
                lines = []
                if "event" in fields:
                    self.frames.put((time.time(), fields["event"], json.loads(fields["data"])))
        except (OSError, ValueError, AttributeError):
            pass  # the test closed the connection (http.client drops its file then)

    def next(self, timeout_s: float = 5.0) -> tuple[float, str, dict[str, Any]]:
        return self.frames.get(timeout=timeout_s)

    def drain(self, wait_s: float) -> list[tuple[float, str, dict[str, Any]]]:
        out = []
        deadline = time.time() + wait_s
        while (left := deadline - time.time()) > 0:
            try:
                out.append(self.frames.get(timeout=left))
            except queue.Empty:
                break
        return out

    def close(self) -> None:
        self.conn.close()


def _call(
    port: int, method: str, path: str, headers: dict[str, str], body: Any = None
) -> tuple[int, Any, http.client.HTTPResponse]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    data = json.dumps(body).encode() if body is not None else None
    all_headers = {**headers, **({"Content-Type": "application/json"} if data else {})}
    conn.request(method, path, body=data, headers=all_headers)
    response = conn.getresponse()
    raw = response.read()
    conn.close()
    return response.status, (json.loads(raw) if raw else None), response


def _world(engine: Engine) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        made = [
            ("gilmok 운영", "admin", None),
            ("수도권 광역통합운영센터", "regional_centre", None),
            ("서울특별시 종로구청", "municipal_centre", "수도권 광역통합운영센터"),
            ("서울특별시 중구", "municipal_centre", "수도권 광역통합운영센터"),
            ("제56보병사단", "military_unit", None),
        ]
        ids = {
            name: orgs.create_organization(conn, name=name, kind=kind, parent=p, actor="test").id
            for name, kind, p in made
        }
        orgs.set_service_area_from(  # a centre activates only inside its service area
            conn,
            organization_id=ids["수도권 광역통합운영센터"],
            sido=["서울특별시"],
            country_bounds=DEFAULT_COUNTRY_BOUNDS,
            actor="test",
        )
        roles = {
            "admin": ("gilmok 운영", "admin"),
            "jongno": ("서울특별시 종로구청", "municipal_centre"),
            "jung": ("서울특별시 중구", "municipal_centre"),
            "requester": ("제56보병사단", "requester"),
        }
        keys = {
            label: issue_api_key(conn, organization=org, role=role, actor="test")[1]
            for label, (org, role) in roles.items()
        }
        cameras = {}
        for label, owner in (("jongno", "서울특별시 종로구청"), ("jung", "서울특별시 중구")):
            cameras[label] = conn.execute(
                text(
                    "INSERT INTO camera (source, source_key, site_key, owner_id, position, kind,"
                    " heading_source) VALUES ('manual', :key, :key, :owner,"
                    " ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 5179),"
                    " 'dome', 'unknown') RETURNING id"
                ),
                {"key": f"events-{label}", "owner": ids[owner], "lon": POINT[0], "lat": POINT[1]},
            ).scalar_one()
        activation = activations.create_activation(
            conn,
            basis="alert_level_2",
            reference="합참-events",
            area=CENTRAL,
            starts_at=now - dt.timedelta(minutes=1),
            ends_at=now + dt.timedelta(hours=1),
            issuer_id=ids["수도권 광역통합운영센터"],
            actor="test",
        )
        incident = conn.execute(
            text(
                "INSERT INTO incident (requester_id, location, radius_m, mode) VALUES (:r,"
                " ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 5179), 500,"
                " 'network') RETURNING id"
            ),
            {"r": ids["제56보병사단"], "lon": POINT[0], "lat": POINT[1]},
        ).scalar_one()
    return {"ids": ids, "keys": keys, "cameras": cameras, "activation": activation.id,
            "incident": incident}  # fmt: skip


def _request_cameras(engine: Engine, w: dict[str, Any]) -> dict[str, int]:
    """Feed requests for both centres' cameras, written by this process (not the server)."""
    refs = []
    with engine.begin() as conn:
        for label in ("jongno", "jung"):
            owner = conn.execute(
                text(
                    "SELECT c.owner_id, o.name FROM camera c JOIN organization o"
                    " ON o.id = c.owner_id WHERE c.id = :id"
                ),
                {"id": w["cameras"][label]},
            ).one()
            refs.append(
                CameraRef(w["cameras"][label], owner[0], owner[1], "online", POINT[0], POINT[1])
            )
        made, _ = request_store.create_requests(
            conn,
            incident_id=w["incident"],
            cameras=refs,
            requester_id=w["ids"]["제56보병사단"],
            activation_id=w["activation"],
            basis="alert_level_2",
            actor="test",
        )
    return {label: r.id for label, r in zip(("jongno", "jung"), made, strict=True)}


def _of(frames: list[tuple[float, str, dict[str, Any]]], kind: str) -> list[dict[str, Any]]:
    return [d for _, k, d in frames if k == kind]


def test_serve_pushes_each_step_to_the_streams_allowed_within_a_second(
    base_settings: Settings, tmp_path: Path
) -> None:
    with scratch_database(base_settings.owner_database_url) as url:
        engine = connect(url)
        w = _world(engine)
        port = _free_port()
        log = tmp_path / "serve.log"
        env = {
            **os.environ,
            **database_env(url, base_settings),
            "PYTHONUNBUFFERED": "1",
            "GILMOK_SESSION_COOKIE_SECURE": "false",
            "GILMOK_EVENTS_HEARTBEAT_S": "0.5",
        }
        env.pop("GILMOK_RELAY_BACKEND", None)
        command = [
            sys.executable, "-m", "api.cli", "serve", "--workers", "2", "--port", str(port),
        ]  # fmt: skip
        with log.open("wb") as out:
            server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
        streams: list[SseClient] = []
        latency: dict[str, float] = {}
        try:
            deadline = time.monotonic() + 120
            while True:
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                try:
                    if _call(port, "GET", "/healthz", {})[0] in (200, 503):
                        break
                except OSError:
                    time.sleep(0.2)
            keys = w["keys"]
            jongno = SseClient(port, {"Authorization": f"Bearer {keys['jongno']}"})
            requester = SseClient(port, {"X-API-Key": keys["requester"]})
            status, session, signed = _call(
                port, "POST", "/v1/session", {}, {"api_key": keys["jung"]}
            )
            assert status == 200, session
            cookie = signed.getheader("Set-Cookie").split(";", 1)[0]
            jung = SseClient(port, {"Cookie": cookie})
            streams += [jongno, requester, jung]
            time.sleep(0.5)  # the streams are subscribed

            # 1. Requests written by another process reach each stream allowed, at once.
            written = time.time()
            rid = _request_cameras(engine, w)
            got = {name: s.drain(1.0) for name, s in
                   (("jongno", jongno), ("jung", jung), ("requester", requester))}  # fmt: skip
            for name in ("jongno", "jung"):
                created = _of(got[name], "feed_request.created")
                assert [d["feed_request_id"] for d in created] == [rid[name]], got[name]
                assert all(t - written < 1.0 for t, _, _ in got[name])
                latency[f"written by another process → {name}"] = got[name][-1][0] - written
            assert sorted(
                d["feed_request_id"] for d in _of(got["requester"], "feed_request.created")
            ) == sorted(rid.values())

            # 2. An approval through the API reaches the owner and the requester, not the
            # other centre.
            sent = time.time()
            status, body, _ = _call(
                port, "POST", f"/v1/feed-requests/{rid['jongno']}/approve",
                {"Authorization": f"Bearer {keys['jongno']}"}, {},
            )  # fmt: skip
            assert status == 200, body
            arrived, kind, data = jongno.next(1.0)
            assert (kind, data["feed_request_id"], data["state"]) == (
                "feed_request.approved", rid["jongno"], "approved",
            )  # fmt: skip
            assert arrived - sent < 1.0
            latency["approval through the API → owner"] = arrived - sent
            mine = requester.drain(1.0)
            assert "feed_request.approved" in [k for _, k, _ in mine]
            assert all(d.get("feed_request_id") != rid["jongno"] for _, _, d in jung.drain(0.5))

            # 3. The expiry loop closes both requests when the activation runs its course.
            with engine.begin() as conn:
                conn.execute(
                    text("UPDATE activation SET ends_at = now() + interval '1 second'"
                         " WHERE id = :id"),
                    {"id": w["activation"]},
                )  # fmt: skip
            for name, stream in (("jongno", jongno), ("jung", jung)):
                arrived, kind, data = stream.next(5.0)
                while kind != "feed_request.expired":
                    arrived, kind, data = stream.next(5.0)
                assert data["feed_request_id"] == rid[name]
                assert data["reason"] == "activation_ended"
                written_at = dt.datetime.fromisoformat(data["at"]).timestamp()
                assert arrived - written_at < 1.0, (name, arrived - written_at)
                latency[f"expiry loop's commit → {name}"] = arrived - written_at
            assert jongno.comments > 0  # heartbeats while idle

            # 4. Signing out ends the session's stream at once; revoking a key ends its streams.
            csrf = session["csrf_token"]
            sent = time.time()
            status, _, _ = _call(port, "DELETE", "/v1/session",
                                 {"Cookie": cookie, "X-CSRF-Token": csrf})  # fmt: skip
            assert status == 204
            ends = [f for f in jung.drain(2.0) if f[1] == "end"]
            assert ends
            assert ends[0][2]["reason"] == "session_ended"
            assert ends[0][0] - sent < 1.0
            latency["sign-out → end of its stream"] = ends[0][0] - sent
            sent = time.time()
            with engine.begin() as conn:
                orgs.revoke_api_key(conn, prefix=keys["jongno"].split("_")[1], actor="test")
            ends = [f for f in jongno.drain(2.0) if f[1] == "end"]
            assert ends
            assert ends[0][2]["reason"] == "key_revoked"
            assert ends[0][0] - sent < 1.0
            latency["key revoked → end of its stream"] = ends[0][0] - sent
            print("\n".join(f"{ms * 1000:7.1f} ms  {what}" for what, ms in latency.items()))
            status, _, _ = _call(port, "GET", "/v1/events",
                                 {"Authorization": f"Bearer {keys['jongno']}"})  # fmt: skip
            assert status == 401
        finally:
            for stream in streams:
                stream.close()
            server.terminate()
            server.wait(timeout=30)
            engine.dispose()
        text_log = log.read_text()
        assert "Traceback" not in text_log, text_log[-4000:]


# --- in process, on a live hub: the stream cap, heartbeats, resuming ---------------------------


def _chunks(response: Any) -> Iterator[str]:
    for chunk in response.iter_encoded():
        yield chunk.decode("utf-8")


def _until_event(chunks: Iterator[str], timeout_s: float) -> tuple[str, int]:
    """Text read until a frame with an id arrives; the text and the id."""
    seen = ""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        seen += next(chunks)
        match = re.search(r"^id: (\d+)$", seen, re.MULTILINE)
        if match:
            return seen, int(match[1])
    raise AssertionError(f"no event within {timeout_s} s: {seen[-500:]!r}")


def test_a_process_holds_at_most_its_streams_and_a_stream_resumes(
    base_settings: Settings,
) -> None:
    with scratch_database(base_settings.owner_database_url) as url:
        owner = connect(url)
        with owner.begin() as conn:
            orgs.create_organization(conn, name="gilmok 운영", kind="admin", actor="test")
            key = issue_api_key(conn, organization="gilmok 운영", role="admin", actor="test")[1]
        service = connect(base_settings.database_url.set(database=url.database))
        settings = base_settings.with_overrides(events_max_streams=2, events_heartbeat_s=0.2)
        app = create_app(settings, engine=service)
        client = app.test_client()
        headers = {"Authorization": f"Bearer {key}"}
        try:
            first = client.get("/v1/events", headers=headers, buffered=False)
            second = client.get("/v1/events", headers=headers, buffered=False)
            assert first.status_code == second.status_code == 200
            first_chunks, second_chunks = _chunks(first), _chunks(second)
            assert next(first_chunks).startswith("retry: ")
            assert next(second_chunks).startswith("retry: ")
            third = client.get("/v1/events", headers=headers)
            assert third.status_code == 503
            assert third.json["code"] == "too_many_streams"
            assert third.headers["Retry-After"] == "5"
            first.close()  # the client goes away: its thread and its place are freed
            fourth = client.get("/v1/events", headers=headers, buffered=False)
            assert fourth.status_code == 200
            fourth.close()
            # An event written by another connection reaches the open stream; heartbeats
            # came meanwhile.
            with owner.begin() as conn:
                made = activations.create_activation(
                    conn,
                    basis="terrorism",
                    reference="대테러-1",
                    area=CENTRAL,
                    starts_at=dt.datetime.now(dt.UTC),
                    ends_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
                    issuer_id=orgs.get_organization(conn, "gilmok 운영").id,
                    actor="test",
                )
            text_seen, event_id = _until_event(second_chunks, 5.0)
            assert "event: activation.started" in text_seen
            assert f'"activation_id":{made.id}' in text_seen
            second.close()
            # A reconnecting client gets what it missed first.
            resumed = client.get(
                "/v1/events",
                headers={**headers, "Last-Event-ID": str(event_id - 1)},
                buffered=False,
            )
            chunks = _chunks(resumed)
            _, again = _until_event(chunks, 2.0)
            assert again == event_id
            resumed.close()
        finally:
            stop_event_hub(app)
            service.dispose()
            owner.dispose()
