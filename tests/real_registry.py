"""A committed database loaded with the real central-Seoul roads and Seoul CCTV, once per run.

The drill and notebook tests need the real registry in a database their subprocesses (Dask
workers, notebook kernels, the CLI) can reach, so it cannot live in a rolled-back transaction.
It is built on first use and dropped when the test process ends.
"""

from __future__ import annotations

import atexit
import functools
import uuid
from pathlib import Path

from scratch_db import drop_database
from sqlalchemy import text
from sqlalchemy.engine import URL

from geo.ingest.cctv import read_cctv
from geo.ingest.osm import read_road_network
from geo.store import connect
from geo.store.imports import import_cameras, import_road_network
from geo.store.migrate import upgrade

ROADS = "seoul_central_drive.graphml"
CCTV = "seoul_cctv_2018.csv"


@functools.cache
def real_registry_url(base: URL, data_dir: Path) -> URL:
    """URL of a migrated database holding the central-Seoul roads and the Seoul CCTV.

    ``base`` (and the URL returned) log in as the schema's owner, who may create databases and
    import.
    """
    name = f"gilmok_registry_{uuid.uuid4().hex[:10]}"
    admin = connect(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    atexit.register(_drop, admin, name)
    url = base.set(database=name)
    upgrade(url)
    engine = connect(url)
    with engine.begin() as conn:
        import_road_network(conn, read_road_network(data_dir / ROADS), path=data_dir / ROADS)
        import_cameras(conn, read_cctv(data_dir / CCTV), path=data_dir / CCTV)
    engine.dispose()
    return url


def cctv_sites_on_roads(url: URL, *, every: int) -> list[tuple[str, float, float]]:
    """Every ``every``-th distinct real CCTV site (name, lon, lat) inside the road data."""
    engine = connect(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT site_key, ST_X(p) AS lon, ST_Y(p) AS lat FROM ("
                " SELECT DISTINCT ON (c.site_key) c.site_key, ST_Transform(c.position, 4326) AS p"
                " FROM camera c JOIN road_network n ON ST_Covers(ST_Buffer(n.extent, -600),"
                " c.position) ORDER BY c.site_key, c.id) s ORDER BY site_key"
            )
        ).all()
    engine.dispose()
    return [(f"site-{r.site_key}", float(r.lon), float(r.lat)) for r in rows[::every]]


def _drop(admin: object, name: str) -> None:
    from sqlalchemy.engine import Engine

    assert isinstance(admin, Engine)
    drop_database(admin, name)
    admin.dispose()
