"""The situation-room API on the real Seoul data: spatial endpoints, incidents, feed requests
routed and decided, traffic-control points, roles, no source URL anywhere, and a schema fuzz.

The real road network (seoul_central_drive.graphml) and CCTV registry (seoul_cctv_2018.csv) are
imported once for the module into a transaction on one connection; every test runs in a
savepoint of it that is rolled back, and the app is bound to that connection.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from api import create_app
from api.keys import issue_api_key
from api.relay.base import (
    Grant,
    Relay,
    RelayedStream,
    RelayHealth,
    StreamStatus,
    ViewerEndpoint,
)
from api.settings import Settings
from api.snapshot import SnapshotCache, snapshot_cache
from geo.ingest.cameras import CameraRead
from geo.ingest.cctv import read_cctv
from geo.ingest.osm import read_road_network
from geo.registry import RegistrySnapshot
from geo.store import orgs
from geo.store.imports import import_cameras, import_road_network
from geo.store.snapshot import load_snapshot

pytestmark = pytest.mark.db

ACTOR = "test"
ERROR_KEYS = {"code", "message", "details"}
GWANGHWAMUN = (126.9769, 37.5759)
# In the road data, west of the activation's area (Seodaemun).
OUTSIDE_ACTIVATION = (126.9545, 37.5650)
CENTRAL_SEOUL = {
    "type": "Polygon",
    "coordinates": [
        [[126.96, 37.555], [127.0, 37.555], [127.0, 37.58], [126.96, 37.58], [126.96, 37.555]]
    ],
}
JONGNO = "서울특별시 종로구청"
JUNG = "서울특별시 중구"
SECRET = "secret-src-7f3a"  # part of every camera's source URL: must never leave the server


@dataclass
class World:
    conn: Connection
    snapshot: RegistrySnapshot
    keys: dict[str, str]
    orgs: dict[str, int]


def _within(read: CameraRead, bounds: tuple[float, float, float, float]) -> CameraRead:
    """The cameras of the sites inside the road data's box (the others watch no approach here):
    a quarter of Seoul's, imported in a quarter of the time. The report is cut to match."""
    x0, y0, x1, y1 = bounds
    cams = read.cameras
    inside = cams["lon"].between(x0, x1) & cams["lat"].between(y0, y1)
    sites = cams.loc[inside, "site_key"].nunique()
    report = replace(
        read.report,
        rows_kept=sites,
        rows_read=sites + read.report.rows_merged + len(read.report.rejected),
    )
    return replace(read, cameras=cams[inside].reset_index(drop=True), report=report)


@pytest.fixture(scope="module")
def world(engine: Engine, data_dir: Path, base_settings: Settings) -> Iterator[World]:
    with engine.connect() as conn:
        outer = conn.begin()
        try:
            roads = data_dir / "seoul_central_drive.graphml"
            read = read_road_network(roads)
            import_road_network(conn, read, path=roads)
            cctv = data_dir / "seoul_cctv_2018.csv"
            import_cameras(
                conn,
                _within(read_cctv(cctv), read.bounds),
                path=cctv,
                max_range_m=base_settings.max_coverage_range_m,
            )
            conn.execute(
                text("UPDATE camera SET source_url = 'rtsp://admin:' || :s || '@10.1.2.3/' || id"),
                {"s": SECRET},
            )
            orgs.seed_pilot(conn, actor=ACTOR)
            conn.execute(
                text(
                    "UPDATE organization SET auto_approve_bases = '[\"alert_level_2\"]'"
                    " WHERE name = :name"
                ),
                {"name": JONGNO},
            )
            made = {
                "admin": ("gilmok 운영", "admin", "admin"),
                "auditor": ("감사관실", "admin", "auditor"),
                "planner": ("서울연구원", "planner", "planner"),
                "requester": ("제56보병사단", None, "requester"),
                "other_requester": ("제52보병사단", None, "requester"),
                "regional_centre": (orgs.REGIONAL_CENTRE, None, "regional_centre"),
                "jongno": (JONGNO, None, "municipal_centre"),
                "jung": (JUNG, None, "municipal_centre"),
                "seoul": (orgs.SEOUL_CENTRE, None, "municipal_centre"),
            }
            keys, ids = {}, {}
            for label, (name, kind, role) in made.items():
                if kind is not None:
                    orgs.create_organization(conn, name=name, kind=kind, actor=ACTOR)
                ids[label] = orgs.get_organization(conn, name).id
                keys[label] = issue_api_key(conn, organization=name, role=role, actor=ACTOR)[1]
            snapshot = load_snapshot(
                conn,
                crs=base_settings.working_crs,
                max_range_m=base_settings.max_coverage_range_m,
            )
            yield World(conn, snapshot, keys, ids)
        finally:
            outer.rollback()


@pytest.fixture
def db(world: World) -> Iterator[Connection]:
    savepoint = world.conn.begin_nested()
    try:
        yield world.conn
    finally:
        savepoint.rollback()


@pytest.fixture
def bodies() -> list[bytes]:
    return []


@pytest.fixture
def app(db: Connection, world: World, base_settings: Settings, bodies: list[bytes]) -> Flask:
    app = create_app(base_settings, engine=db)
    snapshot_cache(app).install(world.snapshot)

    @app.after_request
    def keep(response: Response) -> Response:
        if not response.direct_passthrough:
            bodies.append(response.get_data())
        return response

    return app


@pytest.fixture
def client(app: Flask, bodies: list[bytes]) -> Iterator[FlaskClient]:
    yield app.test_client()
    # No response of any test in this module holds a camera's source URL.
    leaked = [b[:200] for b in bodies if SECRET.encode() in b or b"rtsp://" in b]
    assert not leaked, leaked


class Api:
    def __init__(self, client: FlaskClient, keys: dict[str, str]) -> None:
        self.client, self.keys = client, keys

    def _h(self, who: str | None, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.keys[who]}"} if who else {}
        return {**headers, **(extra or {})}

    def get(self, who: str | None, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers=self._h(who, kw.pop("headers", None)), **kw)

    def post(self, who: str | None, url: str, body: Any = None, **kw: Any) -> Any:
        return self.client.post(url, json=body, headers=self._h(who), **kw)


@pytest.fixture
def api(client: FlaskClient, world: World) -> Api:
    return Api(client, world.keys)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert set(response.json) == ERROR_KEYS
    assert response.json["code"] == code, response.json
    return dict(response.json)


def _activate(api: Api, **changes: Any) -> dict[str, Any]:
    body = {
        "basis": "alert_level_2",
        "reference": "수방사 경계태세 2급 발령 제2026-17호",
        "area": CENTRAL_SEOUL,
        "starts_at": (_now() - dt.timedelta(hours=1)).isoformat(),
        "ends_at": (_now() + dt.timedelta(days=1)).isoformat(),
        **changes,
    }
    response = api.post("regional_centre", "/v1/activations", body)
    assert response.status_code == 201, response.json
    return dict(response.json)


def _incident(api: Api, point: tuple[float, float] = GWANGHWAMUN, **changes: Any) -> Any:
    body = {
        "location": {"type": "Point", "coordinates": list(point)},
        "radius_m": 1000,
        "note": "거동수상자 신고",
        **changes,
    }
    response = api.post("requester", "/v1/incidents", body)
    assert response.status_code == 201, response.json
    return response.json


def _by_role(features: list[dict[str, Any]], role: str) -> list[dict[str, Any]]:
    return [f for f in features if f["properties"].get("role") == role]


# --- spatial endpoints ------------------------------------------------------------------------


def test_approaches_answers_the_core_query_as_geojson(api: Api) -> None:
    lon, lat = GWANGHWAMUN
    response = api.get("planner", f"/v1/approaches?lon={lon}&lat={lat}&radius_m=1000")
    assert response.status_code == 200, response.json
    doc = response.json
    assert doc["type"] == "FeatureCollection"
    approaches = _by_role(doc["features"], "approach")
    cameras = _by_role(doc["features"], "camera")
    assert len(approaches) >= 10
    assert len(cameras) >= 20
    assert any(a["properties"]["main"] for a in approaches)
    x, y = cameras[0]["geometry"]["coordinates"]
    assert 126.9 < x < 127.1
    assert 37.5 < y < 37.7
    # time-based, euclidean, both directions, foot: accepted
    response = api.get(
        "requester",
        f"/v1/approaches?lon={lon}&lat={lat}&minutes=5&speed_kmh=6&mode=euclidean"
        "&direction=both&travel=foot&level=recognise",
    )
    assert response.status_code == 200, response.json
    incident = _by_role(response.json["features"], "incident")[0]["properties"]
    assert incident["radius_m"] == 500
    assert incident["level"] == "recognise"


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("lon=126.9769&lat=37.5759&radius_m=49", 422, "validation_error"),
        ("lon=126.9769&lat=37.5759&radius_m=5001", 422, "validation_error"),
        ("lon=126.9769&lat=37.5759&radius_m=500&minutes=5&speed_kmh=30", 422, "validation_error"),
        ("lon=126.9769&lat=37.5759&minutes=5", 422, "validation_error"),
        ("lon=126.9769&lat=37.5759&minutes=600&speed_kmh=300", 422, "validation_error"),
        ("lon=226.9&lat=37.5759", 422, "validation_error"),
        ("lon=nan&lat=37.5759", 422, "validation_error"),
        ("lon=abc&lat=37.5759", 422, "validation_error"),
        ("lat=37.5759", 422, "validation_error"),
        ("lon=126.9769&lat=37.5759&mode=teleport", 422, "validation_error"),
        ("lon=126.9769&lat=37.5759&bogus=1", 422, "validation_error"),
        ("lon=129.0756&lat=35.1796", 422, "outside_coverage_area"),  # Busan: no roads loaded
    ],
)
def test_approaches_refuses_what_a_caller_gets_wrong(
    api: Api, query: str, status: int, code: str
) -> None:
    _error(api.get("planner", f"/v1/approaches?{query}"), status, code)


def test_spatial_endpoints_need_a_key(api: Api) -> None:
    for url in (
        "/v1/approaches?lon=126.9769&lat=37.5759",
        "/v1/cameras?bbox=126.97,37.57,126.98,37.58",
        "/v1/coverage?bbox=126.97,37.57,126.98,37.58",
    ):
        _error(api.get(None, url), 401, "unauthenticated")


def test_cameras_by_bbox_are_paged_and_public(api: Api) -> None:
    bbox = "126.970,37.570,126.985,37.580"
    first = api.get("planner", f"/v1/cameras?bbox={bbox}&limit=25")
    assert first.status_code == 200, first.json
    page = first.json
    assert page["type"] == "FeatureCollection"
    assert len(page["features"]) == 25
    assert page["next_after_id"] == page["features"][-1]["id"]
    props = page["features"][0]["properties"]
    assert "source_url" not in props
    assert "provenance" not in props
    assert props["owner_name"]
    second = api.get(
        "planner", f"/v1/cameras?bbox={bbox}&limit=25&after_id={page['next_after_id']}"
    )
    ids = [f["id"] for f in second.json["features"]]
    assert ids
    assert min(ids) > page["next_after_id"]
    for f in page["features"] + second.json["features"]:
        lon, lat = f["geometry"]["coordinates"]
        assert 126.970 <= lon <= 126.985
        assert 37.570 <= lat <= 37.580
    coverage = api.get("requester", f"/v1/coverage?bbox={bbox}&limit=10")
    assert coverage.status_code == 200, coverage.json
    assert len(coverage.json["features"]) == 10
    assert coverage.json["features"][0]["geometry"]["type"] == "Polygon"
    assert coverage.json["features"][0]["properties"]["level"] == "observe"


@pytest.mark.parametrize(
    "bbox",
    ["126.9,37.5,127.5,37.6", "127,37,126,38", "1,2,3", "a,b,c,d", "126.9,37.5,126.95,nan"],
)
def test_bbox_is_checked(api: Api, bbox: str) -> None:
    _error(api.get("planner", f"/v1/cameras?bbox={bbox}"), 422, "validation_error")
    _error(api.get("planner", f"/v1/coverage?bbox={bbox}"), 422, "validation_error")


# --- the scenario -----------------------------------------------------------------------------


def test_end_to_end_scenario(api: Api, world: World) -> None:
    activation = _activate(api)
    # 1. A division raises an incident at Gwanghwamun.
    incident = _incident(api)
    assert incident["status"] == "open"
    assert incident["requester"]["name"] == "제56보병사단"
    approaches = incident["approaches"]["features"]
    assert len(approaches) >= 10
    watched = [a for a in approaches if a["properties"]["cameras"]]
    assert watched
    assert incident["answer"]["type"] == "FeatureCollection"
    incident_id = incident["id"]
    assert (
        api.get("requester", f"/v1/incidents/{incident_id}").json["approaches"]
        == (incident["approaches"])
    )

    # 2-3. Feeds requested: the two best online cameras per approach, across two districts.
    response = api.post("requester", f"/v1/incidents/{incident_id}/feeds", {"best": 2})
    assert response.status_code == 201, response.json
    feeds = response.json["items"]
    assert response.json["activation"]["id"] == activation["id"]
    owners = {f["owner"]["name"] for f in feeds}
    assert owners == {JONGNO, JUNG}
    regional = world.orgs["regional_centre"]
    assert all(f["routed_via"]["id"] == regional for f in feeds)
    assert all(f["legal_basis"] == "alert_level_2" for f in feeds)
    jongno = [f for f in feeds if f["owner"]["name"] == JONGNO]
    jung = [f for f in feeds if f["owner"]["name"] == JUNG]
    # Jongno auto-approves alert level 2; no relay in the tests: approved, not provisioned.
    assert {f["status"] for f in jongno} == {"approved"}
    assert all("relay not configured" in f["reason"] for f in jongno)
    assert {f["status"] for f in jung} == {"pending"}
    assert len(jung) >= 2

    # The same cameras again: nothing new.
    again = api.post(
        "requester",
        f"/v1/incidents/{incident_id}/feeds",
        {"camera_ids": [f["camera_id"] for f in feeds[:3]]},
    )
    assert again.status_code == 201
    assert again.json["items"] == []
    assert len(again.json["already_requested"]) == 3

    # Each centre sees what is addressed to it; the regional centre what it routes.
    seen = api.get("jung", f"/v1/incidents/{incident_id}/feeds").json["items"]
    assert {f["id"] for f in seen} == {f["id"] for f in jung}
    seen = api.get("regional_centre", f"/v1/incidents/{incident_id}/feeds").json["items"]
    assert len(seen) == len(feeds)
    assert api.get("jung", f"/v1/incidents/{incident_id}").status_code == 200

    # 4. Jung-gu decides by hand; for Jongno, Jung-gu's requests do not exist.
    _error(api.post("jongno", f"/v1/feed-requests/{jung[0]['id']}/approve"), 404, "not_found")
    approved = api.post("jung", f"/v1/feed-requests/{jung[0]['id']}/approve", {"reason": "OK"})
    assert approved.status_code == 200, approved.json
    assert approved.json["status"] == "approved"
    assert "credential" not in approved.json
    denied = api.post("jung", f"/v1/feed-requests/{jung[1]['id']}/deny", {"reason": "사생활"})
    assert denied.json["status"] == "denied"
    assert "사생활" in denied.json["reason"]
    _error(api.post("jung", f"/v1/feed-requests/{jung[1]['id']}/approve"), 409, "conflict")
    # Without a relay there is no credential to take yet.
    _error(api.post("requester", f"/v1/feed-requests/{jung[0]['id']}/credential"), 409, "conflict")
    _error(api.post("requester", f"/v1/feed-requests/{jung[1]['id']}/credential"), 409, "conflict")

    listed = {
        f["id"]: f for f in api.get("requester", f"/v1/incidents/{incident_id}/feeds").json["items"]
    }
    assert listed[jung[0]["id"]]["status"] == "approved"
    assert listed[jung[1]["id"]]["status"] == "denied"

    # Traffic-control points: main approaches first, with their cameras; GeoJSON and CSV.
    points = api.get("jongno", f"/v1/incidents/{incident_id}/control-points")
    assert points.status_code == 200, points.json
    props = [f["properties"] for f in points.json["features"]]
    mains = [p["main"] for p in props]
    assert mains == sorted(mains, reverse=True)
    assert all(0 <= p["inbound_bearing_deg"] < 360 for p in props)
    as_csv = api.get(
        "jongno", f"/v1/incidents/{incident_id}/control-points", headers={"Accept": "text/csv"}
    )
    assert as_csv.mimetype == "text/csv"
    assert as_csv.get_data().startswith(b"\xef\xbb\xbf")  # a BOM: Excel reads the Hangul right
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data().decode("utf-8-sig"))))
    assert {r["main"] for r in rows} <= {"true", "false"}
    assert rows[0]["sigungu_code"] == props[0]["sigungu_code"]
    assert [r["id"] for r in rows] == [p["id"] for p in props]
    assert rows[0]["road_name"] == props[0]["road_name"]
    by_query = api.get("requester", f"/v1/incidents/{incident_id}/control-points?format=csv")
    assert by_query.get_data() == as_csv.get_data()

    # 5. The incident closes: everything not final is revoked.
    closed = api.post("requester", f"/v1/incidents/{incident_id}/close", {"reason": "상황 종료"})
    assert closed.status_code == 200, closed.json
    assert closed.json["status"] == "closed"
    statuses = {
        f["status"]
        for f in api.get("requester", f"/v1/incidents/{incident_id}/feeds").json["items"]
    }
    assert statuses == {"revoked", "denied"}
    _error(api.post("requester", f"/v1/incidents/{incident_id}/close"), 409, "conflict")
    _error(
        api.post("requester", f"/v1/incidents/{incident_id}/feeds", {"best": 1}), 409, "conflict"
    )

    # Every step is on the audit trail, and the chain holds.
    trail = api.get("auditor", "/v1/audit?limit=500").json["items"]
    actions = [r["action"] for r in trail]
    for action in ("incident.created", "feed.requested", "feed.approved", "feed.denied",
                   "incident.closed", "feed.revoked"):  # fmt: skip
        assert action in actions, action
    assert actions.count("feed.requested") == len(feeds)
    requested = [r for r in trail if r["action"] == "feed.requested"]
    assert {r["legal_basis"] for r in requested} == {"alert_level_2"}
    check = api.get("auditor", "/v1/audit/verify").json
    assert check["ok"], check


def test_feeds_refused_outside_the_activation_area(api: Api) -> None:
    _activate(api)
    incident = _incident(api, OUTSIDE_ACTIVATION, radius_m=500)
    response = api.post("requester", f"/v1/incidents/{incident['id']}/feeds", {"best": 1})
    body = _error(response, 403, "no_legal_basis")
    assert "cover other areas" in body["message"]
    assert body["details"]["in_force_elsewhere"][0]["basis"] == "alert_level_2"
    refused = api.get("auditor", "/v1/audit?action=feed.refused").json["items"]
    assert refused[-1]["subject_id"] == str(incident["id"])
    assert api.get("requester", f"/v1/incidents/{incident['id']}/feeds").json["items"] == []


# A small activation around Gwanghwamun: a wide cordon's cameras reach far beyond it.
GWANGHWAMUN_ONLY = {
    "type": "Polygon",
    "coordinates": [
        [[126.972, 37.572], [126.982, 37.572], [126.982, 37.580], [126.972, 37.580],
         [126.972, 37.572]]
    ],
}  # fmt: skip


def _inside(db: Connection, camera_ids: list[int], area: dict[str, Any]) -> dict[int, bool]:
    rows = db.execute(
        text(
            "SELECT id, ST_Covers(ST_Transform(ST_SetSRID(ST_GeomFromGeoJSON(:area), 4326), 5179),"
            " position) FROM camera WHERE id = ANY(:ids)"
        ),
        {"area": json.dumps(area), "ids": camera_ids},
    )
    return {int(r[0]): bool(r[1]) for r in rows}


def test_cameras_outside_the_activation_area_are_refused(api: Api, db: Connection) -> None:
    """Issue 12 item 3: the incident lies in the activation's area, but a euclidean cordon's
    cameras reach beyond it (1.2 km: as far as the road data goes north); only those standing
    inside may be requested."""
    activation = _activate(api, area=GWANGHWAMUN_ONLY)
    incident = _incident(api, radius_m=1200, mode="euclidean")
    assert not incident["incomplete"]
    on_record = sorted(
        {c["camera_id"] for a in incident["approaches"]["features"]
         for c in a["properties"]["cameras"] if c["online"]}
    )  # fmt: skip
    inside = _inside(db, on_record, GWANGHWAMUN_ONLY)
    outside_ids = [i for i in on_record if not inside[i]]
    assert outside_ids
    far = outside_ids[-1]
    # Cameras within R of the incident may be asked for too: two standing inside the area.
    inside_ids = [
        int(i)
        for i in db.execute(
            text(
                "SELECT id FROM camera WHERE status = 'online' AND ST_Covers(ST_Transform("
                "ST_SetSRID(ST_GeomFromGeoJSON(:area), 4326), 5179), position) ORDER BY id LIMIT 2"
            ),
            {"area": json.dumps(GWANGHWAMUN_ONLY)},
        ).scalars()
    ]
    assert len(inside_ids) == 2
    url = f"/v1/incidents/{incident['id']}/feeds"

    refused = api.post("requester", url, {"camera_ids": [inside_ids[0], far]})
    body = _error(refused, 403, "no_legal_basis")
    assert str(far) in body["message"]
    assert "position lies inside the activation's area" in body["message"]
    assert body["details"]["reason"] == "camera_outside_activation_area"
    assert [c["camera_id"] for c in body["details"]["refused_cameras"]] == [far]
    assert body["details"]["refused_cameras"][0]["reason"] == "outside the activation's area"
    # Nothing requested, not even the camera inside; the refusal is on the audit trail.
    assert api.get("requester", url).json["items"] == []
    trail = api.get("auditor", "/v1/audit?action=feed.refused").json["items"]
    assert trail[-1]["subject_id"] == str(incident["id"])
    assert [c["camera_id"] for c in trail[-1]["details"]["refused_cameras"]] == [far]

    # Every camera watching an approach stands outside: best has nothing it may request.
    body = _error(api.post("requester", url, {"best": 1}), 403, "no_legal_basis")
    assert {c["camera_id"] for c in body["details"]["refused_cameras"]} == set(on_record)

    accepted = api.post("requester", url, {"camera_ids": inside_ids})
    assert accepted.status_code == 201, accepted.json
    assert [f["camera_id"] for f in accepted.json["items"]] == inside_ids
    assert {f["activation_id"] for f in accepted.json["items"]} == {activation["id"]}
    assert accepted.json["activation"]["id"] == activation["id"]


def test_a_camera_rests_on_an_activation_covering_it(api: Api, db: Connection) -> None:
    """With two activations over the incident, a camera outside the longer one's area is
    requested under the other, which covers it: each request names its own activation."""
    small = _activate(api, area=GWANGHWAMUN_ONLY)
    wide = _activate(api, ends_at=(_now() + dt.timedelta(hours=2)).isoformat())
    incident = _incident(api, radius_m=1200, mode="euclidean")
    on_record = sorted(
        {c["camera_id"] for a in incident["approaches"]["features"]
         for c in a["properties"]["cameras"] if c["online"]}
    )  # fmt: skip
    in_wide = _inside(db, on_record, CENTRAL_SEOUL)
    b = next(i for i in on_record if in_wide[i])
    assert not _inside(db, [b], GWANGHWAMUN_ONLY)[b]
    a = int(
        db.execute(
            text(
                "SELECT id FROM camera WHERE status = 'online' AND ST_Covers(ST_Transform("
                "ST_SetSRID(ST_GeomFromGeoJSON(:area), 4326), 5179), position) ORDER BY id LIMIT 1"
            ),
            {"area": json.dumps(GWANGHWAMUN_ONLY)},
        ).scalar_one()
    )
    response = api.post("requester", f"/v1/incidents/{incident['id']}/feeds",
                        {"camera_ids": [a, b]})  # fmt: skip
    assert response.status_code == 201, response.json
    rests_on = {f["camera_id"]: f["activation_id"] for f in response.json["items"]}
    # The small one is in force longer (1 day against 2 hours): it wins where it covers.
    assert rests_on == {a: small["id"], b: wide["id"]}

    # best: the k best of each approach among the cameras inside; those passed over are named.
    best = api.post("requester", f"/v1/incidents/{incident['id']}/feeds", {"best": 1})
    assert best.status_code == 201, best.json
    chosen = [f["camera_id"] for f in best.json["items"] + best.json["already_requested"]]
    assert chosen
    inside_any = _inside(db, chosen + best.json["outside_activation"], CENTRAL_SEOUL)
    assert all(inside_any[i] for i in chosen)
    assert best.json["outside_activation"]
    assert not any(inside_any[i] for i in best.json["outside_activation"])


def test_feeds_refused_after_the_activation_ends(api: Api) -> None:
    activation = _activate(api)
    incident = _incident(api)
    ended = api.post(
        "regional_centre", f"/v1/activations/{activation['id']}/end", {"reason": "해제"}
    )
    assert ended.status_code == 200
    body = _error(
        api.post("requester", f"/v1/incidents/{incident['id']}/feeds", {"best": 1}),
        403,
        "no_legal_basis",
    )
    assert "no legal basis is in force" in body["message"]


def test_feeds_refused_without_any_activation(api: Api) -> None:
    incident = _incident(api)
    _error(api.post("requester", f"/v1/incidents/{incident['id']}/feeds", {"best": 1}), 403,
           "no_legal_basis")  # fmt: skip


def test_camera_ids_must_belong_to_the_incident(api: Api, world: World) -> None:
    _activate(api)
    incident = _incident(api, radius_m=300)
    far = int(
        world.conn.execute(
            text(
                "SELECT id FROM camera ORDER BY ST_Distance(position, ST_Transform("
                "ST_SetSRID(ST_MakePoint(127.0, 37.555), 4326), 5179)) LIMIT 1"
            )
        ).scalar_one()
    )
    url = f"/v1/incidents/{incident['id']}/feeds"
    body = _error(api.post("requester", url, {"camera_ids": [far]}), 422, "invalid_input")
    assert body["details"]["unrelated_camera_ids"] == [far]
    _error(api.post("requester", url, {"camera_ids": [2**40]}), 422, "invalid_input")
    _error(api.post("requester", url, {"camera_ids": []}), 422, "validation_error")
    _error(api.post("requester", url, {"camera_ids": [1], "best": 1}), 422, "validation_error")
    _error(api.post("requester", url, {"best": 99}), 422, "validation_error")


# --- incidents: validation and roles ----------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"radius_m": 500}, 422, "validation_error"),  # no location
        ({"lon": 126.9769, "radius_m": 500}, 422, "validation_error"),
        ({"location": {"type": "Point", "coordinates": [126.9]}}, 422, "validation_error"),
        ({"location": {"type": "LineString", "coordinates": [[1, 2], [3, 4]]}}, 422,
         "validation_error"),
        ({"location": [126.9769, 37.5759]}, 422, "validation_error"),
        ({"lon": 126.9769, "lat": 37.5759, "radius_m": 20}, 422, "validation_error"),
        ({"lon": 2.35, "lat": 48.85}, 422, "invalid_input"),  # Paris: outside the country
        ({"lon": 129.0756, "lat": 35.1796}, 422, "outside_coverage_area"),  # Busan: no roads
    ],
)  # fmt: skip
def test_incident_input_is_checked(api: Api, body: dict[str, Any], status: int, code: str) -> None:
    _error(api.post("requester", "/v1/incidents", body), status, code)


def test_incident_with_lon_lat_and_time_cordon(api: Api) -> None:
    response = api.post(
        "requester",
        "/v1/incidents",
        {"lon": GWANGHWAMUN[0], "lat": GWANGHWAMUN[1], "minutes": 3, "speed_kmh": 20,
         "direction": "both"},
    )  # fmt: skip
    assert response.status_code == 201, response.json
    assert response.json["radius_m"] == 1000
    assert response.headers["Location"].endswith(f"/v1/incidents/{response.json['id']}")
    directions = {f["properties"]["direction"] for f in response.json["approaches"]["features"]}
    assert directions == {"inbound", "outbound"}


def test_roles(api: Api) -> None:
    _activate(api)
    incident = _incident(api)
    url = f"/v1/incidents/{incident['id']}"
    body = {"lon": GWANGHWAMUN[0], "lat": GWANGHWAMUN[1]}
    # Only requesters raise incidents and request feeds.
    for who in ("planner", "jongno", "regional_centre", "admin", "auditor"):
        _error(api.post(who, "/v1/incidents", body), 403, "forbidden")
        _error(api.post(who, f"{url}/feeds", {"best": 1}), 403, "forbidden")
    # Another division neither reads nor uses this one's incident: for it, there is none.
    _error(api.get("other_requester", url), 404, "not_found")
    _error(api.get("other_requester", f"{url}/feeds"), 404, "not_found")
    _error(api.post("other_requester", f"{url}/feeds", {"best": 1}), 404, "not_found")
    _error(api.post("other_requester", f"{url}/close"), 404, "not_found")
    # Planners work on coverage, not on operations.
    _error(api.get("planner", url), 403, "forbidden")
    _error(api.get("planner", f"{url}/control-points"), 403, "forbidden")
    # Readers: the requester, the owners on record and the centres above them, admin, auditor.
    for who in ("requester", "jongno", "jung", "seoul", "regional_centre", "admin", "auditor"):
        assert api.get(who, url).status_code == 200, who
        assert api.get(who, f"{url}/control-points").status_code == 200, who
    feeds = api.post("requester", f"{url}/feeds", {"best": 1}).json["items"]
    pending = next(f for f in feeds if f["status"] == "pending")
    # Only the owning centre decides: not the regional centre, not admin, not the requester
    # (their role may not); for another municipal centre the request does not exist.
    for who in ("regional_centre", "admin", "requester", "planner"):
        response = api.post(who, f"/v1/feed-requests/{pending['id']}/approve")
        _error(response, 403, "forbidden")
    for who in ("jongno", "seoul"):
        response = api.post(who, f"/v1/feed-requests/{pending['id']}/approve")
        _error(response, 404, "not_found")
    _error(api.post("jung", "/v1/feed-requests/999999/approve"), 404, "not_found")
    _error(api.get("requester", "/v1/incidents/999999"), 404, "not_found")
    # Admin may close; the auditor may not.
    _error(api.post("auditor", f"{url}/close"), 403, "forbidden")
    assert api.post("admin", f"{url}/close").status_code == 200


def test_malformed_json_is_400(api: Api, client: FlaskClient, world: World) -> None:
    response = client.post(
        "/v1/incidents",
        data="{not json",
        content_type="application/json",
        headers={"Authorization": f"Bearer {world.keys['requester']}"},
    )
    _error(response, 400, "malformed_json")


# --- the snapshot cache -----------------------------------------------------------------------


def test_snapshot_loads_once_and_reloads_when_the_registry_changes(world: World) -> None:
    now = [0.0]
    version = [(1, 1, 1)]
    loads: list[float] = []

    def loader() -> tuple[RegistrySnapshot, tuple[int, int, int]]:
        time.sleep(0.05)
        loads.append(now[0])
        return world.snapshot, version[0]

    cache = SnapshotCache(loader, lambda: version[0], check_interval_s=10, clock=lambda: now[0])
    threads = [threading.Thread(target=cache.get) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1  # concurrent first requests share one load
    now[0] = 5.0
    version[0] = (2, 1, 1)
    cache.get()
    assert len(loads) == 1  # not checked before the interval
    now[0] = 11.0
    cache.get()
    assert loads == [0.0, 11.0]  # changed: reloaded
    now[0] = 25.0
    cache.get()
    assert len(loads) == 2  # unchanged: kept
    cache.invalidate()
    now[0] = 26.0
    cache.get()
    assert len(loads) == 3


def test_app_loads_its_snapshot_from_the_database(
    db: Connection, base_settings: Settings, world: World
) -> None:
    app = create_app(base_settings, engine=db)
    cache = snapshot_cache(app)
    with app.app_context():
        snapshot = cache.get()
    assert cache.loads == 1
    assert snapshot.counts == world.snapshot.counts


# --- schema fuzz ------------------------------------------------------------------------------


def _fuzz(
    operation: Any, headers: dict[str, str], path_parameters: dict[str, Any], failures: list[str]
) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=15, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(case=operation.as_strategy(path_parameters=path_parameters or None))
    def run(case: schemathesis.Case) -> None:
        response = case.call(headers=headers)
        if response.status_code >= 500 and response.status_code not in (502, 503):
            failures.append(
                f"{case.method} {case.formatted_path}: {response.status_code} {response.text[:300]}"
            )

    run()


def test_schema_fuzz_finds_no_server_errors(app: Flask, api: Api, world: World) -> None:
    """Schemathesis against /openapi.json: every operation, with a key of a role it allows."""
    from schemathesis.openapi import from_wsgi

    _activate(api)
    incident = _incident(api, radius_m=300)
    schema = from_wsgi("/openapi.json", app)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:
        roles = operation.definition.raw.get("x-gilmok-roles") or ["admin"]
        role = {"municipal_centre": "jung"}.get(roles[0], roles[0])
        headers = {"Authorization": f"Bearer {world.keys[role]}"}
        # Half the cases on a real incident, so its handlers get past the lookup.
        path = {"incident_id": incident["id"]} if "{incident_id}" in operation.path else {}
        _fuzz(operation, headers, path, failures)
        if path:
            _fuzz(operation, headers, {}, failures)
    assert not failures, failures


# --- with a relay -----------------------------------------------------------------------------


class FakeRelay(Relay):
    """Keeps streams in a dict; remembers the source URLs it was given (only it may see them)."""

    name = "fake"

    def __init__(self) -> None:
        super().__init__()
        self.streams: dict[str, str] = {}
        self.count = 0

    def provision(self, key: str, source_url: str, grant: Grant) -> RelayedStream:
        self.count += 1
        stream_id = f"s{self.count}"
        self.streams[stream_id] = source_url
        return RelayedStream(
            relay_stream_id=stream_id,
            key=key,
            viewer=(ViewerEndpoint("janus-streaming", "http://relay.example/janus", stream_id),),
            credential={"pin": f"pin-{self.count}", "token": f"token-{self.count}"},
            expires_at=grant.expires_at,
        )

    def revoke(self, relay_stream_id: str) -> None:
        self.streams.pop(relay_stream_id, None)

    def status(self, relay_stream_id: str) -> StreamStatus:
        return StreamStatus(relay_stream_id, present=relay_stream_id in self.streams)

    def health(self) -> RelayHealth:
        return RelayHealth(up=True, backend=self.name, detail="fake")


def test_approved_feeds_are_provisioned_and_credentials_go_to_the_requester_only(
    db: Connection, world: World, base_settings: Settings, bodies: list[bytes]
) -> None:
    relay = FakeRelay()
    app = create_app(base_settings, engine=db, relay=relay)
    snapshot_cache(app).install(world.snapshot)

    @app.after_request
    def keep(response: Response) -> Response:
        bodies.append(response.get_data())
        return response

    api = Api(app.test_client(), world.keys)
    _activate(api)
    incident = _incident(api)
    url = f"/v1/incidents/{incident['id']}/feeds"
    feeds = api.post("requester", url, {"best": 1}).json["items"]
    auto = [f for f in feeds if f["owner"]["name"] == JONGNO]
    manual = [f for f in feeds if f["owner"]["name"] == JUNG]
    assert {f["status"] for f in auto} == {"provisioned"}
    assert all(f["credential"]["credential"]["pin"].startswith("pin-") for f in auto)
    assert len(relay.streams) == len(auto)
    assert all(SECRET in source for source in relay.streams.values())
    # The owning centre approves: provisioned at once, but its answer holds no credential.
    approved = api.post("jung", f"/v1/feed-requests/{manual[0]['id']}/approve").json
    assert approved["status"] == "provisioned"
    assert "credential" not in approved
    assert "viewer" not in approved
    # The requester takes it; for another division, there is no such request.
    other = api.post("other_requester", f"/v1/feed-requests/{manual[0]['id']}/credential")
    _error(other, 404, "not_found")
    taken = api.post("requester", f"/v1/feed-requests/{manual[0]['id']}/credential").json
    assert taken["status"] == "provisioned"
    assert taken["credential"]["credential"]["token"].startswith("token-")
    assert taken["viewer"]["session_status"] == "live"
    # Listings show session facts to the requester only, and never a credential.
    listed = api.get("requester", url).json["items"]
    assert all("credential" not in f for f in listed)
    assert all(
        f["viewer"]["session_status"] == "live" for f in listed if f["status"] == "provisioned"
    )
    assert all("viewer" not in f for f in api.get("jung", url).json["items"])
    # Closing the incident takes every stream off the relay.
    assert api.post("requester", f"/v1/incidents/{incident['id']}/close").status_code == 200
    assert relay.streams == {}
    assert {f["status"] for f in api.get("requester", url).json["items"]} == {"revoked"}
    assert api.get("auditor", "/v1/audit/verify").json["ok"]
    leaked = [b[:200] for b in bodies if SECRET.encode() in b or b"rtsp://" in b]
    assert not leaked, leaked
