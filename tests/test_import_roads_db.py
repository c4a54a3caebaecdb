"""Road networks into PostGIS: counts that match the reader, idempotent, all-or-nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.ingest.osm import read_road_network
from geo.store.imports import import_road_network

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def seoul_read(data_dir: Path):  # type: ignore[no-untyped-def]
    return read_road_network(data_dir / "seoul_central_drive.graphml")


def _counts(db: Connection) -> tuple[int, int, int]:
    row = db.execute(
        text(
            "SELECT (SELECT count(*) FROM road_network), (SELECT count(*) FROM road_node),"
            " (SELECT count(*) FROM road_segment)"
        )
    ).one()
    return (row[0], row[1], row[2])


def test_graphml_lands_with_topology_and_working_crs(
    db: Connection, seoul_read, data_dir: Path
) -> None:
    path = data_dir / "seoul_central_drive.graphml"
    summary = import_road_network(db, seoul_read, path=path)
    assert summary.adds_up
    assert summary.created == {"road_nodes": 3384, "road_segments": len(seoul_read.segments)}
    assert _counts(db) == (1, 3384, len(seoul_read.segments))
    # Segment ends are their nodes (topology) and lengths in EPSG:5179 agree with the geodesic ones.
    bad = db.execute(
        text(
            "SELECT count(*) FROM road_segment s JOIN road_node a ON a.id = s.source"
            " JOIN road_node b ON b.id = s.target"
            " WHERE ST_Distance(ST_StartPoint(s.geom), a.geom) > 0.01"
            " OR ST_Distance(ST_EndPoint(s.geom), b.geom) > 0.01"
            " OR abs(ST_Length(s.geom) - s.length_m) > greatest(0.5, 0.005 * s.length_m)"
            " OR ST_SRID(s.geom) <> 5179"
        )
    ).scalar_one()
    assert bad == 0


def test_same_file_twice_creates_nothing_new(db: Connection, seoul_read, data_dir: Path) -> None:
    path = data_dir / "seoul_central_drive.graphml"
    import_road_network(db, seoul_read, path=path)
    before = _counts(db)
    again = import_road_network(db, seoul_read, path=path)
    assert _counts(db) == before
    assert again.created == {"road_nodes": 0, "road_segments": 0}
    assert again.rows_already_present == again.rows_read - again.rows_merged
    assert again.adds_up


def test_a_failed_import_leaves_the_database_as_it_was(
    db: Connection, seoul_read, data_dir: Path
) -> None:
    before = _counts(db)
    broken = seoul_read.segments.copy()
    broken.loc[broken.index[-1], "v"] = -1  # a node the file never listed
    seoul_read_broken = type(seoul_read)(**{**seoul_read.__dict__, "segments": broken})
    with pytest.raises(ValueError, match="name nodes"), db.begin_nested():
        import_road_network(db, seoul_read_broken, path=data_dir / "seoul_central_drive.graphml")
    assert _counts(db) == before
