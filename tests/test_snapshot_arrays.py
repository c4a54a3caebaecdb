"""The shared snapshot (geo.snapshot_arrays, geo.store.snapshot.load_shared_snapshot: read as
packed binary columns, written, mapped) answers exactly as the snapshot a process built for
itself before it (rows read as CSV, WKB decoded by shapely, geo.network.build_road_network), on the real central-Seoul roads and the
real Seoul 2018 cameras: every approach and every ranked camera, row for row, on random points
(a property test), and at the worked example of the README."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Connection

from geo.cordon import CordonOptions
from geo.crs import xy_to_lonlat
from geo.errors import GilmokError
from geo.incident import answer_incident
from geo.ingest.cctv import read_cctv
from geo.ingest.osm import read_road_network
from geo.registry import RegistrySnapshot
from geo.snapshot_arrays import decode_values, encode_labels
from geo.store.imports import import_cameras, import_road_network
from geo.store.snapshot import (
    SharedSnapshot,
    load_cameras,
    load_road_networks,
    load_shared_snapshot,
)

pytestmark = pytest.mark.db

MAX_RANGE_M = 200.0
CRS = "EPSG:5179"
GWANGHWAMUN = (126.9769, 37.5759)


@pytest.fixture
def seoul(
    db: Connection, data_dir: Path, tmp_path: Path
) -> tuple[RegistrySnapshot, SharedSnapshot]:
    roads = data_dir / "seoul_central_drive.graphml"
    import_road_network(db, read_road_network(roads), path=roads)
    cctv = data_dir / "seoul_cctv_2018.csv"
    import_cameras(db, read_cctv(cctv), path=cctv, max_range_m=MAX_RANGE_M)
    # the per-process build as it was: rows read as CSV, hex WKB decoded by shapely
    own = RegistrySnapshot.build(
        load_road_networks(db, crs=CRS), load_cameras(db), crs=CRS, max_range_m=MAX_RANGE_M,
        started=0.0,
    )  # fmt: skip
    shared = load_shared_snapshot(db, folder=tmp_path, crs=CRS, max_range_m=MAX_RANGE_M)
    assert shared is not None
    assert shared.built
    # what a second process gets: the same folder, found built
    again = load_shared_snapshot(db, folder=tmp_path, crs=CRS, max_range_m=MAX_RANGE_M)
    assert again is not None
    assert not again.built
    assert again.path == shared.path
    return own, again


def _answer(
    snapshot: RegistrySnapshot,
    point: tuple[float, float],
    options: CordonOptions,
    *,
    level: str = "observe",
) -> Any:
    """The answer as GeoJSON text and table, or the error's name and message."""
    try:
        answer = answer_incident(
            snapshot.networks[0].roads, snapshot.index, point, options, level=level
        )
    except GilmokError as exc:
        return type(exc).__name__, str(exc)
    return json.dumps(answer.to_geojson(), sort_keys=True, default=str), answer.to_table()


def _same_contents(own: RegistrySnapshot, shared: SharedSnapshot) -> None:
    mapped = shared.snapshot
    assert mapped.counts == own.counts
    assert mapped.counts["cameras"] > 37_000
    a, b = own.networks[0].roads, mapped.networks[0].roads
    for name in ("node_id", "node_x", "seg_u", "seg_length", "coord_x", "coord_cum", "seg_road"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert not b.coord_x.flags.owndata  # mapped, not copied
    for name in ("seg_name", "seg_highway", "seg_ref"):
        assert getattr(a, name).tolist() == getattr(b, name).tolist()
    assert [g.wkb for g in a.seg_geometry] == [g.wkb for g in b.seg_geometry]
    ia, ib = own.index, mapped.index
    for name in ("camera_id", "x", "y", "grid_start_deg", "online", "id_rank", "confidence"):
        assert np.array_equal(getattr(ia, name), getattr(ib, name))
    assert ia.kind.tolist() == ib.kind.tolist()
    assert ia.heading_source.tolist() == ib.heading_source.tolist()
    assert all(
        np.array_equal(x, y) for x, y in zip(ia.range_by_level, ib.range_by_level, strict=True)
    )
    cams_a, cams_b = own.cameras, mapped.cameras
    assert list(cams_a.columns) == list(cams_b.columns)
    for column in cams_a.columns:
        pd.testing.assert_series_equal(
            cams_a[column].astype(object), cams_b[column].astype(object), check_names=False
        )


def test_mapped_snapshot_holds_and_answers_as_built(
    seoul: tuple[RegistrySnapshot, SharedSnapshot],
) -> None:
    own, shared = seoul
    _same_contents(own, shared)
    mapped = shared.snapshot
    network = own.networks[0].roads
    worked = CordonOptions(radius_m=500.0, mode="network")
    assert _answer(own, GWANGHWAMUN, worked) == _answer(mapped, GWANGHWAMUN, worked)
    compared = {"answers": 0, "watchers": 0}

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        seg=st.integers(0, network.n_segments - 1),
        along=st.floats(0.0, 1.0),
        off_m=st.floats(-80.0, 80.0),
        radius=st.sampled_from([150.0, 500.0, 1200.0, 2000.0]),
        mode=st.sampled_from(["network", "euclidean"]),
        direction=st.sampled_from(["inbound", "outbound", "both"]),
        level=st.sampled_from(["detect", "observe", "recognise"]),
    )
    def check(
        seg: int, along: float, off_m: float, radius: float, mode: str, direction: str, level: str
    ) -> None:
        x, y, _ = network.points_along([seg], [along * float(network.seg_length[seg])])
        lon, lat = xy_to_lonlat(x + off_m, y - off_m / 2, crs=network.crs)
        point = (float(lon[0]), float(lat[0]))
        options = CordonOptions(radius_m=radius, mode=mode, direction=direction)
        want = _answer(own, point, options, level=level)
        assert _answer(mapped, point, options, level=level) == want
        compared["answers"] += 1
        compared["watchers"] += want[0].count('"role": "camera"')

    check()
    assert compared["answers"] >= 50
    assert compared["watchers"] > 0


def test_labels_round_trip_text_and_gaps() -> None:
    values = ["종로", "", None, "세종대로", "종로", "ü"]
    codes, blob, offsets = encode_labels(values)
    decoded = decode_values(blob, offsets)
    assert [None if c < 0 else decoded[c] for c in codes] == values
