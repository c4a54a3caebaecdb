"""The watching query answered twice: in memory (the coverage index) and by PostGIS (stored
coverage, GiST index), on the real central-Seoul roads and the real Seoul 2018 cameras.

Both come from the same imported rows: the snapshot is read back from the test database
(:func:`geo.store.snapshot.load_snapshot`), the PostGIS side intersects the observe-level
coverage polygons the import stored (:func:`geo.store.snapshot.watching_pairs_sql`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Connection

from geo.cordon import CordonOptions
from geo.crs import xy_to_lonlat
from geo.incident import answer_incident
from geo.ingest.cctv import read_cctv
from geo.ingest.osm import read_road_network
from geo.registry import RegistrySnapshot
from geo.store.imports import import_cameras, import_road_network
from geo.store.snapshot import load_snapshot, watching_pairs_sql

pytestmark = pytest.mark.db

MAX_RANGE_M = 200.0


@pytest.fixture
def seoul_registry(db: Connection, data_dir: Path) -> RegistrySnapshot:
    roads = data_dir / "seoul_central_drive.graphml"
    import_road_network(db, read_road_network(roads), path=roads)
    cctv = data_dir / "seoul_cctv_2018.csv"
    import_cameras(db, read_cctv(cctv), path=cctv, max_range_m=MAX_RANGE_M)
    return load_snapshot(db, crs="EPSG:5179", max_range_m=MAX_RANGE_M)


def test_memory_and_postgis_watch_alike(db: Connection, seoul_registry: RegistrySnapshot) -> None:
    network = seoul_registry.networks[0].roads
    index = seoul_registry.index
    assert len(index) > 37_000
    compared = {"approaches": 0, "pairs": 0}

    @settings(
        max_examples=20,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        seg=st.integers(0, network.n_segments - 1),
        along=st.floats(0.0, 1.0),
        radius=st.sampled_from([100.0, 300.0, 500.0, 1200.0]),
        mode=st.sampled_from(["network", "euclidean"]),
        direction=st.sampled_from(["inbound", "outbound", "both"]),
    )
    def check(seg: int, along: float, radius: float, mode: str, direction: str) -> None:
        x, y, _ = network.points_along([seg], [along * float(network.seg_length[seg])])
        # a few segments bulge out of the extract's extent between their ends: a point there
        # is refused alike by both (outside the data), nothing to compare
        assume(network.distance_to_edge(float(x[0]), float(y[0])) > 0.0)
        lon, lat = xy_to_lonlat(x, y, crs=network.crs)
        answer = answer_incident(network, index, (float(lon[0]), float(lat[0])), CordonOptions(radius_m=radius, mode=mode, direction=direction))  # fmt: skip
        w = answer.watchers
        memory = sorted(zip(w.approach.tolist(), index.camera_id[w.camera].tolist(), strict=True))
        stretches = answer.cordon.approaches.stretch
        assert memory == watching_pairs_sql(db, stretches, level="observe")
        compared["approaches"] += len(stretches)
        compared["pairs"] += len(memory)

    check()
    assert compared["pairs"] > 0
