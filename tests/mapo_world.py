"""A small real world for API-wide tests: the Mapo road network (mapo.osm), the Seoul 2018
CCTV registry's cameras inside it, the 2020 pilot's organizations and an API key per role.

Built in a few seconds (the central-Seoul world of test_api_incidents takes minutes), so that
tests which sweep every endpoint — the input guards, the schema fuzz — have real roads, real
cameras and authenticated callers of every role.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

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
