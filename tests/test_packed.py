"""The snapshot's readers of packed blocks (geo.store.packed, geo.store.snapshot): the roads and
cameras they read are the rows the plain readers read, value for value, on the real Seoul data
and on awkward values written into it (quotes, commas, line breaks, Korean, empty and missing
texts, missing numbers); the snapshot read by two connections at once is the one read by one."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection

from geo.registry import cameras_in_space_order
from geo.store import connect
from geo.store.snapshot import load_cameras, load_road_networks, load_snapshot, read_road_networks

pytestmark = pytest.mark.db

CRS = "EPSG:5179"
MAX_RANGE_M = 200.0
CAMERA_COLUMNS = ("id", "x", "y", "kind", "heading_deg", "heading_source", "fov_deg",
                  "pan_min_deg", "pan_max_deg", "resolution_px_h", "status", "owner_id",
                  "owner_name", "source")  # fmt: skip


def cameras_row_by_row(conn: Connection) -> pd.DataFrame:
    """The cameras the snapshot should hold, read by a plain SELECT, one Python row each."""
    rows = conn.execute(
        text(
            "SELECT c.id, ST_X(c.position) AS x, ST_Y(c.position) AS y, c.kind, c.heading_deg,"
            " c.heading_source, c.fov_deg, c.pan_min_deg, c.pan_max_deg, c.resolution_px_h,"
            " c.status, c.owner_id, o.name AS owner_name, c.source"
            " FROM camera c JOIN organization o ON o.id = c.owner_id"
            " WHERE c.status <> 'retired' ORDER BY c.id"
        )
    ).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=list(CAMERA_COLUMNS))
    for column in ("heading_deg", "fov_deg", "pan_min_deg", "pan_max_deg", "resolution_px_h"):
        frame[column] = pd.to_numeric(frame[column]).astype(float)
    return cameras_in_space_order(frame)


def assert_same_cameras(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == list(CAMERA_COLUMNS)
    assert len(got) == len(want)
    for column in CAMERA_COLUMNS:
        a, b = got[column].to_numpy(), want[column].to_numpy()
        if a.dtype.kind == "f":
            np.testing.assert_array_equal(a, b.astype(float), err_msg=column)
        else:
            assert [None if pd.isna(v) else v for v in a.tolist()] == [
                None if pd.isna(v) else v for v in b.tolist()
            ], column


def assert_same_networks(got: list, want: list) -> None:
    assert [n.id for n in got] == [n.id for n in want]
    for a, b in zip(got, want, strict=True):
        for f in dataclasses.fields(a.roads):
            x, y = getattr(a.roads, f.name), getattr(b.roads, f.name)
            if not isinstance(x, np.ndarray):
                continue
            if x.dtype == object:
                assert x.tolist() == y.tolist(), f.name
            elif f.name == "node_edge_m":  # measured by our loop here, by GEOS there
                np.testing.assert_allclose(x, y, rtol=0, atol=1e-6)
            else:
                np.testing.assert_array_equal(x, y, err_msg=f.name)


def test_packed_readers_read_the_rows_the_plain_readers_read(seoul_url: URL) -> None:
    engine = connect(seoul_url)
    try:
        with engine.connect() as conn:
            assert_same_networks(
                read_road_networks(conn, crs=CRS), load_road_networks(conn, crs=CRS)
            )
            assert_same_cameras(load_cameras(conn), cameras_row_by_row(conn))
    finally:
        engine.dispose()


def test_awkward_values_cross_intact(seoul_url: URL) -> None:
    engine = connect(seoul_url)
    try:
        with engine.connect() as conn, conn.begin() as tx:
            ids = [
                r.id for r in conn.execute(text("SELECT id FROM road_segment ORDER BY id LIMIT 5"))
            ]
            awkward = ['a,"b"\n c', "세종대로 \\ 1", "", "'quoted'", "tab\there"]
            for seg, name in zip(ids, awkward, strict=True):
                conn.execute(
                    text("UPDATE road_segment SET name = :n, ref = :n WHERE id = :id"),
                    {"n": name, "id": seg},
                )
            conn.execute(text("UPDATE road_segment SET osm_way_id = NULL WHERE id = :id"),
                         {"id": ids[0]})  # fmt: skip
            cam = conn.execute(text("SELECT min(id) FROM camera")).scalar_one()
            conn.execute(
                text(
                    "UPDATE camera SET heading_deg = NULL, fov_deg = NULL, resolution_px_h = NULL,"
                    " kind = 'ptz' WHERE id = :id"
                ),
                {"id": cam},
            )
            owner = '한글,"따옴표"\n구청'
            conn.execute(
                text("UPDATE organization SET name = :s"
                     " WHERE id = (SELECT owner_id FROM camera WHERE id = :id)"),
                {"s": owner, "id": cam},
            )  # fmt: skip
            # this transaction has written: the snapshot is read on this connection alone
            assert_same_networks(
                read_road_networks(conn, crs=CRS), load_road_networks(conn, crs=CRS)
            )
            got = load_cameras(conn)
            assert_same_cameras(got, cameras_row_by_row(conn))
            row = got[got["id"] == cam].iloc[0]
            assert np.isnan(row["heading_deg"])
            assert row["owner_name"] == owner
            snapshot = load_snapshot(conn, crs=CRS, max_range_m=MAX_RANGE_M)
            assert cam in set(snapshot.cameras["id"].tolist())
            tx.rollback()
    finally:
        engine.dispose()


def test_two_connections_read_the_snapshot_one_reads(seoul_url: URL) -> None:
    engine = connect(seoul_url)
    try:
        with engine.connect() as conn:
            both = load_snapshot(conn, crs=CRS, max_range_m=MAX_RANGE_M)  # nothing written
        with engine.connect() as conn, conn.begin():
            conn.execute(text("CREATE TEMPORARY TABLE written (x int)"))
            conn.execute(text("INSERT INTO written VALUES (1)"))  # now it reads alone
            alone = load_snapshot(conn, crs=CRS, max_range_m=MAX_RANGE_M)
        assert_same_networks(both.networks, alone.networks)
        assert_same_cameras(both.cameras, alone.cameras)
        assert np.array_equal(both.index.camera_id, alone.index.camera_id)
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("geometries", "good"),
    [
        (["LINESTRING (0 0, 1 1)", "LINESTRING (2 2, 3 3, 4 5)"], True),
        (["LINESTRING (0 0, 1 1)", "POINT (1 1)"], False),
        (["LINESTRING Z (0 0 0, 1 1 1)"], False),
        (["POLYGON ((0 0, 1 0, 1 1, 0 0))"], False),
    ],
)
def test_wkb_headers_are_checked_as_they_are_walked(geometries: list[str], good: bool) -> None:
    import shapely

    from geo.errors import InvalidInput
    from geo.store.packed import linestring_vertices

    shapes = [shapely.from_wkt(g) for g in geometries]
    wkb = b"".join(shapely.to_wkb(g, byte_order=1, output_dimension=3) for g in shapes)
    if not good:
        with pytest.raises(InvalidInput, match="2-D LineString"):
            linestring_vertices(wkb)
        with pytest.raises(InvalidInput):
            linestring_vertices(wkb[:-1] if len(shapes) == 1 else wkb[:-3])
        return
    coords, counts = linestring_vertices(wkb)
    assert counts.tolist() == [2, 3]
    assert coords.tolist() == [[0, 0], [1, 1], [2, 2], [3, 3], [4, 5]]
    with pytest.raises(InvalidInput):  # cut short
        linestring_vertices(wkb[:-1])
