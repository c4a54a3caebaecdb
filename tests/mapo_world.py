"""A small real world for API-wide tests: the Mapo road network (mapo.osm), the Seoul 2018
CCTV registry's cameras inside it, the 2020 pilot's organizations and an API key per role.

Built in a few seconds (the central-Seoul world of test_api_incidents takes minutes), so that
tests which sweep every endpoint — the input guards, the schema fuzz — have real roads, real
cameras and authenticated callers of every role.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

from sqlalchemy.engine import Connection

from api.keys import issue_api_key
from api.settings import Settings
from geo.errors import NotFound
from geo.ingest.cctv import read_cctv
from geo.ingest.osm import read_road_network
from geo.store import orgs
from geo.store.imports import import_cameras, import_road_network
from geo.store.snapshot import RegistrySnapshot, load_snapshot

ACTOR = "test"
#: Inside the Mapo roads (near Gongdeok station).
MAPO_POINT = (126.9555, 37.5455)
MAPO_AREA = {
    "type": "Polygon",
    "coordinates": [
        [[126.94, 37.535], [126.975, 37.535], [126.975, 37.56], [126.94, 37.56], [126.94, 37.535]]
    ],
}


@dataclass
class MapoWorld:
    conn: Connection
    snapshot: RegistrySnapshot
    keys: dict[str, str]
    orgs: dict[str, int]

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}


def build_mapo_world(conn: Connection, data_dir: Path, settings: Settings) -> MapoWorld:
    """Import the Mapo roads and cameras into ``conn``'s transaction; seed callers of each role.

    Keys: ``admin``, ``auditor``, ``planner``, ``requester`` (제56보병사단),
    ``other_requester`` (제52보병사단), ``regional_centre``, ``municipal_centre`` (마포구, the
    owner of the cameras here) and ``other_municipal`` (서울특별시 종로구청, no camera here).
    """
    roads = data_dir / "mapo.osm"
    read = read_road_network(roads)
    import_road_network(conn, read, path=roads)
    cctv = data_dir / "seoul_cctv_2018.csv"
    cameras = read_cctv(cctv)
    x0, y0, x1, y1 = read.bounds
    frame = cameras.cameras
    inside = frame["lon"].between(x0, x1) & frame["lat"].between(y0, y1)
    sites = frame.loc[inside, "site_key"].nunique()
    report = replace(
        cameras.report,
        rows_kept=sites,
        rows_read=sites + cameras.report.rows_merged + len(cameras.report.rejected),
    )
    import_cameras(
        conn,
        replace(cameras, cameras=frame[inside].reset_index(drop=True), report=report),
        path=cctv,
        max_range_m=settings.max_coverage_range_m,
    )
    orgs.seed_pilot(conn, actor=ACTOR)
    owner = conn.exec_driver_sql(
        "SELECT o.name FROM camera c JOIN organization o ON o.id = c.owner_id"
        " GROUP BY o.name ORDER BY count(*) DESC LIMIT 1"
    ).scalar_one()
    made = {
        "admin": ("gilmok 운영", "admin", "admin"),
        "auditor": ("감사관실", "admin", "auditor"),
        "planner": ("서울연구원", "planner", "planner"),
        "requester": ("제56보병사단", "military_unit", "requester"),
        "other_requester": ("제52보병사단", "military_unit", "requester"),
        "regional_centre": (orgs.REGIONAL_CENTRE, None, "regional_centre"),
        "municipal_centre": (owner, None, "municipal_centre"),
        "other_municipal": ("서울특별시 종로구청", "municipal_centre", "municipal_centre"),
    }
    keys, ids = {}, {}
    for label, (name, kind, role) in made.items():
        try:
            org = orgs.get_organization(conn, name)
        except NotFound:
            if kind is None:
                raise
            org = orgs.create_organization(conn, name=name, kind=kind, actor=ACTOR)
        ids[label] = org.id
        keys[label] = issue_api_key(conn, organization=name, role=role, actor=ACTOR)[1]
    snapshot = load_snapshot(
        conn, crs=settings.working_crs, max_range_m=settings.max_coverage_range_m
    )
    return MapoWorld(conn, snapshot, keys, ids)


class MapoFixtures(NamedTuple):
    """The Mapo world's pytest fixtures, made afresh for each test module that takes them."""

    world: Any
    db: Any
    app: Any
    client: Any


def mapo_fixtures() -> MapoFixtures:
    """Fixtures over one Mapo world per test module; a module assigns those it uses to their
    names (pytest finds a fixture by the name it is assigned to), e.g.
    ``world, db = mapo_fixtures()[:2]``:

    - ``world``: :func:`build_mapo_world` in a transaction rolled back at the module's end;
    - ``db``: that transaction, under a savepoint rolled back after each test;
    - ``app``: the API on ``db``, answering from the world's snapshot;
    - ``client``: its test client.
    """
    import pytest
    from flask import Flask
    from flask.testing import FlaskClient
    from sqlalchemy.engine import Engine

    from api import create_app
    from api.snapshot import snapshot_cache

    @pytest.fixture(scope="module")
    def world(engine: Engine, data_dir: Path, base_settings: Settings) -> Iterator[MapoWorld]:
        with engine.connect() as conn:
            outer = conn.begin()
            try:
                yield build_mapo_world(conn, data_dir, base_settings)
            finally:
                outer.rollback()

    @pytest.fixture
    def db(world: MapoWorld) -> Iterator[Connection]:
        savepoint = world.conn.begin_nested()
        try:
            yield world.conn
        finally:
            savepoint.rollback()

    @pytest.fixture
    def app(db: Connection, world: MapoWorld, base_settings: Settings) -> Flask:
        app = create_app(base_settings, engine=db)
        snapshot_cache(app).install(world.snapshot)
        return app

    @pytest.fixture
    def client(app: Flask) -> FlaskClient:
        return app.test_client()

    return MapoFixtures(world, db, app, client)
