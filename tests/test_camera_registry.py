"""``POST /v1/cameras`` and ``DELETE /v1/cameras/{id}``: a centre adds and retires its own cameras.

On the real Mapo world (tests/mapo_world.py), through the app: 마포구's centre adds a camera on a
blind approach, which then watches it; its source URL is kept for the relay and appears in no
answer, audit record or change log; the same key twice is 409; bad values are 422 naming the
field; another centre neither adds for 마포구 nor retires its cameras. A retired camera is no
longer offered, and cannot be requested. The part with live feeds runs on the real Janus, on a
scratch database of its own: retiring a camera ends its relay streams in the request itself,
audited as a revocation, and revokes its requests still open.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
import shapely
from flask import Flask
from flask.testing import FlaskClient
from mapo_world import MAPO_POINT, MapoWorld, mapo_fixtures
from scratch_db import database_env, scratch_database
from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy import text
from sqlalchemy.engine import Connection

from api import create_app
from api.feeds.ledger import DbStreamLedger
from api.feeds.provision import provision_request
from api.keys import issue_api_key
from api.relay import wait_flowing
from api.relay.camsim import CameraSimulator
from api.relay.janus import JanusRelay
from api.relay.janus_process import JanusProcess
from api.relay.settings import RelaySettings
from api.settings import Settings
from api.snapshot import snapshot_cache
from geo.store import activations, orgs
from geo.store.app_role import app_transaction
from geo.store.db import connect

pytestmark = pytest.mark.db
SECRET_URL = "rtsp://admin:s3cret-pw@127.0.0.1:8554/added-cam"


world, db, app, client = mapo_fixtures()


def _answer(client: FlaskClient, world: MapoWorld) -> dict[str, Any]:
    lon, lat = MAPO_POINT
    r = client.get(
        f"/v1/approaches?lon={lon}&lat={lat}&radius_m=500", headers=world.headers("requester")
    )
    assert r.status_code == 200, r.json
    return dict(r.json)


def _watching(answer: dict[str, Any]) -> dict[int, set[str]]:
    """camera id -> the approaches it watches."""
    out: dict[int, set[str]] = {}
    for f in answer["features"]:
        p = f["properties"]
        if p["role"] == "camera":
            out.setdefault(int(p["camera_id"]), set()).add(p["approach"])
    return out


def _blind_stretch(answer: dict[str, Any]) -> tuple[str, tuple[float, float]]:
    """A blind approach and the middle of its watch stretch (lon, lat)."""
    blind = {
        f["properties"]["id"]
        for f in answer["features"]
        if f["properties"]["role"] == "approach" and f["properties"]["blind"]
    }
    for f in answer["features"]:
        p = f["properties"]
        if p["role"] == "watch_stretch" and p["approach"] in blind:
            mid = shapely.geometry.shape(f["geometry"]).interpolate(0.5, normalized=True)
            return p["approach"], (mid.x, mid.y)
    raise AssertionError("no blind approach here")


def _refresh(app: Flask) -> None:
    with app.app_context():  # what the listener does on NOTIFY
        snapshot_cache(app).refresh_changes()


def _count(db: Connection, sql: str, **params: Any) -> int:
    return int(db.execute(text(sql), params).scalar_one())


def test_a_centre_adds_a_camera_that_watches_a_blind_approach_and_never_shows_its_source(
    client: FlaskClient, app: Flask, world: MapoWorld, db: Connection
) -> None:
    approach, (lon, lat) = _blind_stretch(_answer(client, world))
    r = client.post(
        "/v1/cameras",
        json={"key": "MP-0001", "lon": lon, "lat": lat, "kind": "dome", "resolution_px_h": 1080,
              "purpose": "방범", "source_url": SECRET_URL},
        headers=world.headers("municipal_centre"),
    )  # fmt: skip
    assert r.status_code == 201, r.json
    body = r.json
    cam = body["camera_id"]
    assert body["outcome"] == "added"
    assert body["seq"] > 0
    assert body["owner_id"] == world.orgs["municipal_centre"]
    assert (body["status"], body["heading_source"], body["has_source_url"]) == (
        "online", "unknown", True
    )  # fmt: skip
    row = db.execute(
        text("SELECT source, owner_id, status, source_url, sigungu_name, purpose FROM camera"
             " WHERE id = :id"), {"id": cam},
    ).one()  # fmt: skip
    assert (row.source, row.owner_id, row.status) == (
        "manual", world.orgs["municipal_centre"], "online"
    )  # fmt: skip
    assert row.source_url == SECRET_URL  # kept for the relay
    assert row.sigungu_name == "서울특별시 마포구"
    assert _count(db, "SELECT count(*) FROM coverage WHERE camera_id = :c", c=cam) == 1
    # the secret is in no answer, audit record or change log
    assert "s3cret" not in r.get_data(as_text=True)
    audit_text = db.execute(
        text("SELECT string_agg(action || details::text, ' ') FROM audit_record"
             " WHERE subject_id = :s"), {"s": str(cam)},
    ).scalar_one()  # fmt: skip
    assert "camera.added" in audit_text
    assert "camera.source_set" in audit_text
    assert "s3cret" not in audit_text
    change = db.execute(
        text("SELECT change, via, current FROM camera_change WHERE camera_id = :c"), {"c": cam}
    ).one()
    assert (change.change, change.via) == ("added", "api")
    assert "s3cret" not in json.dumps(change.current)
    # it now watches the approach that was blind
    _refresh(app)
    answer = _answer(client, world)
    assert approach in _watching(answer)[cam]
    listed = client.get(
        f"/v1/cameras?bbox={lon - 0.001:.6f},{lat - 0.001:.6f},{lon + 0.001:.6f},{lat + 0.001:.6f}",
        headers=world.headers("requester"),
    )
    assert listed.status_code == 200, listed.json
    assert cam in [f["id"] for f in listed.json["features"]]
    assert "s3cret" not in listed.get_data(as_text=True)


def test_a_key_taken_is_409_and_nothing_is_written(
    client: FlaskClient, world: MapoWorld, db: Connection
) -> None:
    lon, lat = MAPO_POINT
    body = {"key": "MP-7", "lon": lon, "lat": lat, "kind": "ptz"}
    first = client.post("/v1/cameras", json=body, headers=world.headers("municipal_centre"))
    assert first.status_code == 201, first.json
    cameras = _count(db, "SELECT count(*) FROM camera")
    again = client.post("/v1/cameras", json=body, headers=world.headers("municipal_centre"))
    assert again.status_code == 409, again.json
    assert set(again.json) == {"code", "message", "details"}
    assert again.json["details"] == {"field": "key", "camera_id": first.json["camera_id"]}
    assert _count(db, "SELECT count(*) FROM camera") == cameras
    # another centre's numbering is its own
    theirs = client.post("/v1/cameras", json=body, headers=world.headers("other_municipal"))
    assert theirs.status_code == 201, theirs.json
    # a retired camera keeps its key
    gone = client.delete(
        f"/v1/cameras/{first.json['camera_id']}?reason=replaced",
        headers=world.headers("municipal_centre"),
    )
    assert gone.status_code == 200, gone.json
    again = client.post("/v1/cameras", json=body, headers=world.headers("municipal_centre"))
    assert again.status_code == 409
    assert "retired" in again.json["message"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "tower"}, "kind"),
        ({"heading_deg": 360}, "heading_deg"),
        ({"fov_deg": 0}, "fov_deg"),
        ({"resolution_px_h": 0}, "resolution_px_h"),
        ({"resolution_px_h": 1080.5}, "resolution_px_h"),
        ({"lon": 140.0}, "lon,lat"),
        ({"key": "   "}, "key"),
        ({"key": None}, "key"),
        ({"source_url": "ftp://10.0.0.1/x"}, "source_url"),
        ({"source_url": "rtsp://"}, "source_url"),
        ({"lat": "37.5"}, "lat"),
    ],
)
def test_bad_values_are_refused_naming_the_field_and_change_nothing(
    client: FlaskClient, world: MapoWorld, db: Connection, change: dict[str, Any], field: str
) -> None:
    lon, lat = MAPO_POINT
    body = {"key": "MP-bad", "lon": lon, "lat": lat, "kind": "fixed", **change}
    body = {k: v for k, v in body.items() if v is not None}
    before = (_count(db, "SELECT count(*) FROM camera"),
              _count(db, "SELECT count(*) FROM camera_change"))  # fmt: skip
    r = client.post("/v1/cameras", json=body, headers=world.headers("municipal_centre"))
    assert r.status_code == 422, r.json
    assert set(r.json) == {"code", "message", "details"}
    details = r.json["details"]
    named = details.get("field") or ",".join(sorted(details.get("fields", {}).get("json", {})))
    assert named == field, r.json
    assert "10.0.0.1" not in r.get_data(as_text=True)
    assert (_count(db, "SELECT count(*) FROM camera"),
            _count(db, "SELECT count(*) FROM camera_change")) == before  # fmt: skip


def test_only_a_centre_or_an_admin_adds_and_a_centre_only_its_own(
    client: FlaskClient, world: MapoWorld, db: Connection
) -> None:
    lon, lat = MAPO_POINT
    body = {"key": "X-1", "lon": lon, "lat": lat, "kind": "dome"}
    mapo = world.orgs["municipal_centre"]
    for who in ("requester", "planner", "auditor", "regional_centre"):
        r = client.post("/v1/cameras", json=body, headers=world.headers(who))
        assert r.status_code == 403, (who, r.json)
    r = client.post(
        "/v1/cameras", json={**body, "owner_id": mapo}, headers=world.headers("other_municipal")
    )
    assert r.status_code == 403
    assert r.json["details"] == {"field": "owner_id"}
    r = client.post("/v1/cameras", json=body, headers=world.headers("admin"))
    assert r.status_code == 422
    assert r.json["details"] == {"field": "owner_id"}
    r = client.post(
        "/v1/cameras", json={**body, "owner_id": 2_000_000_000}, headers=world.headers("admin")
    )
    assert r.status_code == 422
    assert r.json["details"] == {"field": "owner_id"}
    r = client.post("/v1/cameras", json={**body, "owner_id": mapo}, headers=world.headers("admin"))
    assert r.status_code == 201, r.json
    assert r.json["owner_id"] == mapo
    added_by = db.execute(
        text("SELECT organization_id FROM camera_change WHERE camera_id = :c"),
        {"c": r.json["camera_id"]},
    ).scalar_one()
    assert added_by == world.orgs["admin"]  # the log says who acted, the row whose it is


def test_a_retired_camera_is_no_longer_offered_nor_requested_and_only_its_centre_retires_it(
    client: FlaskClient, app: Flask, world: MapoWorld, db: Connection
) -> None:
    watching = _watching(_answer(client, world))
    cam = next(iter(sorted(watching)))
    other = client.delete(
        f"/v1/cameras/{cam}?reason=mine now", headers=world.headers("other_municipal")
    )
    assert other.status_code == 404, other.json  # as a missing one, as PATCH answers
    missing = client.delete(
        "/v1/cameras/999999999?reason=gone", headers=world.headers("municipal_centre")
    )
    assert missing.status_code == 404
    assert other.json["message"].replace(str(cam), "N") == missing.json["message"].replace(
        "999999999", "N"
    )
    no_reason = client.delete(f"/v1/cameras/{cam}", headers=world.headers("municipal_centre"))
    assert no_reason.status_code == 422
    assert "reason" in json.dumps(no_reason.json["details"])
    assert db.execute(text("SELECT status FROM camera WHERE id = :c"), {"c": cam}).scalar_one() == (
        "online"
    )

    r = client.delete(
        f"/v1/cameras/{cam}?reason=pole taken down", headers=world.headers("municipal_centre")
    )
    assert r.status_code == 200, r.json
    assert (r.json["outcome"], r.json["reason"], r.json["feeds_ended"]) == (
        "removed", "pole taken down", 0
    )  # fmt: skip
    row = db.execute(
        text("SELECT status, status_reason FROM camera WHERE id = :c"), {"c": cam}
    ).one()
    assert tuple(row) == ("retired", "pole taken down")
    actions = db.execute(
        text("SELECT action FROM audit_record WHERE subject_id = :s ORDER BY id"), {"s": str(cam)}
    ).scalars().all()  # fmt: skip
    assert actions[-1] == "camera.removed"
    _refresh(app)
    assert cam not in _watching(_answer(client, world))
    lon, lat = db.execute(
        text("SELECT ST_X(p), ST_Y(p) FROM camera, ST_Transform(position, 4326) p WHERE id = :c"),
        {"c": cam},
    ).one()
    listed = client.get(
        f"/v1/cameras?bbox={lon - 0.0005:.6f},{lat - 0.0005:.6f},{lon + 0.0005:.6f},{lat + 0.0005:.6f}",
        headers=world.headers("requester"),
    )
    assert listed.status_code == 200, listed.json
    assert cam not in [f["id"] for f in listed.json["features"]]
    again = client.delete(
        f"/v1/cameras/{cam}?reason=again", headers=world.headers("municipal_centre")
    )
    assert again.status_code == 404
    patch = client.patch(
        f"/v1/cameras/{cam}", json={"status": "online"}, headers=world.headers("municipal_centre")
    )
    assert patch.status_code == 404


def test_the_openapi_document_names_the_roles_and_hides_the_source(client: FlaskClient) -> None:
    doc = client.get("/openapi.json").json
    post = doc["paths"]["/v1/cameras"]["post"]
    delete = doc["paths"]["/v1/cameras/{camera_id}"]["delete"]
    assert "get" in doc["paths"]["/v1/cameras"]  # the listing is still there
    assert "patch" in doc["paths"]["/v1/cameras/{camera_id}"]
    for op in (post, delete):
        assert sorted(op["x-gilmok-roles"]) == ["admin", "municipal_centre"]
    schemas = doc["components"]["schemas"]
    assert schemas["CameraIn"]["properties"]["source_url"]["writeOnly"] is True
    assert "source_url" not in schemas["CameraAddedOut"]["properties"]


# ---- a retired camera's live feeds, on the real Janus ----------------------------------------

CENTRAL_SEOUL = MultiPolygon(
    [Polygon([(126.96, 37.555), (127.0, 37.555), (127.0, 37.58), (126.96, 37.58)])]
)
GWANGHWAMUN = (126.9769, 37.5759)


@pytest.fixture(scope="module")
def feed_world(
    base_settings: Settings, relay_settings: RelaySettings, camsim: CameraSimulator
) -> Iterator[dict[str, Any]]:
    with scratch_database(base_settings.owner_database_url) as url:
        owner_engine = connect(url)
        with owner_engine.begin() as conn:
            ids = {
                role: orgs.create_organization(conn, name=n, kind=k, parent=p, actor="test").id
                for role, (n, k, p) in {
                    "regional": ("수도권 광역통합운영센터", "regional_centre", None),
                    "owner": ("서울특별시 종로구청", "municipal_centre", "수도권 광역통합운영센터"),
                    "requester": ("제56보병사단", "military_unit", None),
                }.items()
            }
            orgs.set_service_area_from(
                conn, organization_id=ids["regional"], sido=["서울특별시"], sigungu=[],
                country_bounds=base_settings.country_bounds, actor="test",
            )  # fmt: skip
            keys = {
                label: issue_api_key(conn, organization=name, role=role, actor="test")[1]
                for label, (name, role) in {
                    "owner": ("서울특별시 종로구청", "municipal_centre"),
                    "requester": ("제56보병사단", "requester"),
                }.items()
            }
        owner_engine.dispose()
        engine = connect(base_settings.database_url.set(database=url.database))
        settings = base_settings.with_overrides(
            relay=relay_settings.with_overrides(configured=True), feed_session_max_s=600.0
        )
        yield {"engine": engine, "settings": settings, "ids": ids, "keys": keys, "camsim": camsim}
        engine.dispose()


def _requests(feed_world: dict[str, Any], per_incident: list[list[tuple[int, str]]]) -> list[Any]:
    """Under a new activation, one incident per list of (camera, request status): the requests'
    ids, committed, in the same shape."""
    engine, ids = feed_world["engine"], feed_world["ids"]
    now = dt.datetime.now(dt.UTC)
    with app_transaction(engine) as conn:
        activation = activations.create_activation(
            conn, basis="alert_level_2", reference=f"합참-{time.monotonic_ns()}",
            area=CENTRAL_SEOUL, starts_at=now - dt.timedelta(minutes=1),
            ends_at=now + dt.timedelta(hours=1), issuer_id=ids["regional"], actor="test",
        )  # fmt: skip
        out = []
        for wanted in per_incident:
            incident = conn.execute(
                text("INSERT INTO incident (requester_id, location, radius_m, mode) VALUES (:r,"
                     " ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 5179), 500,"
                     " 'network') RETURNING id"),
                {"r": ids["requester"], "lon": GWANGHWAMUN[0], "lat": GWANGHWAMUN[1]},
            ).scalar_one()  # fmt: skip
            out.append([
                int(conn.execute(
                    text("INSERT INTO feed_request (incident_id, camera_id, requester_id,"
                         " routed_via_id, owner_id, activation_id, status, decided_at) VALUES"
                         " (:i, :c, :r, :v, :o, :a, :s, now()) RETURNING id"),
                    {"i": incident, "c": camera, "r": ids["requester"], "v": ids["regional"],
                     "o": ids["owner"], "a": activation.id, "s": status},
                ).scalar_one())
                for camera, status in wanted
            ])  # fmt: skip
    return out


def _close_all(feed_world: dict[str, Any], relay: JanusRelay) -> None:
    """End every feed the way production does (the incidents closed, the loop's expiry)."""
    from api.feeds.revoke import expire_due

    with app_transaction(feed_world["engine"]) as conn:
        conn.execute(text("UPDATE incident SET status = 'closed'"))
        expire_due(conn, relay)


def test_retiring_a_camera_ends_its_live_feeds_now_audited_as_a_revocation(
    feed_world: dict[str, Any], janus: JanusProcess, relay_settings: RelaySettings
) -> None:
    engine, settings, keys = (feed_world[k] for k in ("engine", "settings", "keys"))
    camsim: CameraSimulator = feed_world["camsim"]
    relay = JanusRelay(relay_settings, ledger=DbStreamLedger(engine))
    client = create_app(settings, engine=engine, relay=relay).test_client()
    owner = {"Authorization": f"Bearer {keys['owner']}"}
    added = [
        client.post(
            "/v1/cameras",
            json={"key": f"JR-{n}", "lon": GWANGHWAMUN[0] + n * 1e-4, "lat": GWANGHWAMUN[1],
                  "kind": "dome", "source_url": camsim.url(n)},
            headers=owner,
        )
        for n in (1, 2)
    ]  # fmt: skip
    assert all(r.status_code == 201 for r in added), [r.json for r in added]
    gone, kept = (r.json["camera_id"] for r in added)
    (live, other), (waiting,) = _requests(feed_world, [[(gone, "approved"), (kept, "approved")],
                                                       [(gone, "pending")]])  # fmt: skip
    streams = []
    for r in (live, other):
        with app_transaction(engine) as conn:
            offer = provision_request(conn, relay, r, settings=settings)
        assert offer is not None
        streams.append(offer["viewer"][0]["stream"])
    try:
        wait_flowing(relay, streams)
        # No loop runs: only the request itself can take the stream down.
        r = client.delete(f"/v1/cameras/{gone}?reason=dismantled", headers=owner)
        assert r.status_code == 200, r.json
        assert r.json["feeds_ended"] == 1
        assert not relay.status(streams[0]).present
        assert relay.status(streams[1]).present  # the other camera's feed is untouched
        with engine.connect() as conn:
            session = conn.execute(
                text("SELECT id, status, last_error FROM feed_session WHERE feed_request_id = :r"),
                {"r": live},
            ).one()
            assert (session.status, session.last_error) == ("revoked", "")
            states = dict(
                conn.execute(
                    text("SELECT id, status FROM feed_request WHERE id = ANY(:ids)"),
                    {"ids": [live, waiting, other]},
                ).all()
            )
            assert states == {live: "revoked", waiting: "revoked", other: "provisioned"}
            revoked = conn.execute(
                text("SELECT details FROM audit_record WHERE action = 'feed.revoked'"
                     " AND subject_type = 'feed_session' AND subject_id = :s"),
                {"s": str(session.id)},
            ).scalar_one()  # fmt: skip
            assert revoked["relay_stream_destroyed"] is True
            assert revoked["reason"] == "the camera was removed from the registry: dismantled"
        # the requester is told the feed is over
        again = client.post(
            f"/v1/feed-requests/{live}/credential",
            headers={"Authorization": f"Bearer {keys['requester']}"},
        )
        assert again.status_code == 409, again.json
    finally:
        _close_all(feed_world, relay)
        relay.close()


def test_a_moved_camera_is_located_again_in_its_new_district(
    client: FlaskClient, world: MapoWorld, db: Connection
) -> None:
    cam = db.execute(
        text("SELECT id FROM camera WHERE owner_id = :o ORDER BY id LIMIT 1"),
        {"o": world.orgs["municipal_centre"]},
    ).scalar_one()
    before = db.execute(
        text("SELECT sigungu_name FROM camera WHERE id = :c"), {"c": cam}
    ).scalar_one()
    assert before.startswith("서울특별시 ")
    assert before != "서울특별시 종로구"
    r = client.patch(
        f"/v1/cameras/{cam}", json={"lon": 126.9769, "lat": 37.5759},  # Gwanghwamun
        headers=world.headers("municipal_centre"),
    )  # fmt: skip
    assert r.status_code == 200, r.json
    row = db.execute(
        text("SELECT sigungu_code, sigungu_name, emd_name FROM camera WHERE id = :c"), {"c": cam}
    ).one()
    assert (row.sigungu_code, row.sigungu_name) == ("11110", "서울특별시 종로구")
    assert row.emd_name != ""


def test_gilmok_cameras_add_and_remove_keep_the_source_secret_and_end_the_feeds(
    feed_world: dict[str, Any], janus: JanusProcess, relay_settings: RelaySettings
) -> None:
    engine, settings = feed_world["engine"], feed_world["settings"]
    camsim: CameraSimulator = feed_world["camsim"]
    env = {
        **os.environ, **database_env(engine.url, settings),
        "GILMOK_RELAY_BACKEND": "janus", "GILMOK_RELAY_PORT": str(relay_settings.port),
        "GILMOK_RELAY_ADMIN_PORT": str(relay_settings.admin_port),
        "GILMOK_RELAY_SECRET": str(relay_settings.secret),
        "GILMOK_RELAY_RUNTIME_DIR": str(relay_settings.runtime_dir),
    }  # fmt: skip

    def gilmok(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "api.cli", "cameras", *args], input=stdin, env=env,
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    centre = "서울특별시 종로구청"
    lon, lat = GWANGHWAMUN[0] + 5e-4, GWANGHWAMUN[1]
    added = gilmok("add", "--centre", centre, "--key", "CLI-1", "--lon", str(lon), "--lat",
                   str(lat), "--kind", "dome", "--source-stdin", stdin=camsim.url(3) + "\n")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert camsim.url(3) not in added.stdout + added.stderr
    cam = int(added.stdout.split()[1])
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT source_url, status FROM camera WHERE id = :c"), {"c": cam}
        ).one()
    assert tuple(stored) == (camsim.url(3), "online")
    outside = gilmok("add", "--centre", centre, "--key", "CLI-2", "--lon", "140", "--lat",
                     "37", "--kind", "dome")  # fmt: skip
    assert outside.returncode == 1
    assert outside.stderr.strip().count("\n") == 0
    assert "outside the country bounds" in outside.stderr

    ((live,),) = _requests(feed_world, [[(cam, "approved")]])
    relay = JanusRelay(relay_settings, ledger=DbStreamLedger(engine))
    try:
        with app_transaction(engine) as conn:
            offer = provision_request(conn, relay, live, settings=settings)
        assert offer is not None
        stream = offer["viewer"][0]["stream"]
        wait_flowing(relay, [stream])
        theirs = gilmok("remove", str(cam), "--reason", "x", "--centre", "제56보병사단")
        assert theirs.returncode == 1
        assert f"no camera of 제56보병사단 has the id {cam}" in theirs.stderr
        assert relay.status(stream).present
        removed = gilmok("remove", str(cam), "--reason", "replaced", "--centre", centre)
        assert removed.returncode == 0, removed.stderr
        assert "1 live feed(s) ended" in removed.stdout
        assert not relay.status(stream).present
        with engine.connect() as conn:
            session = conn.execute(
                text("SELECT status, last_error FROM feed_session WHERE feed_request_id = :r"),
                {"r": live},
            ).one()
        assert tuple(session) == ("revoked", "")
        again = gilmok("remove", str(cam), "--reason", "again")
        assert again.returncode == 1
        assert again.stderr.strip() == f"gilmok: error: camera {cam} is retired already"
    finally:
        _close_all(feed_world, relay)
        relay.close()
