"""The shared snapshot across processes, on real data committed to a database of its own
(geo.store.snapshot.load_shared_snapshot, api.snapshot): two processes racing for a version
build it once and both answer from it; an import makes a new version that a running API
process picks up, while the previous version is kept and older ones are removed."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scratch_db import scratch_database
from sqlalchemy.engine import URL

from api import create_app
from api.settings import Settings
from api.snapshot import snapshot_cache
from geo.cordon import CordonOptions
from geo.incident import answer_incident
from geo.ingest.osm import read_road_network
from geo.snapshot_file import PARTIAL
from geo.store import connect
from geo.store.imports import import_cameras, import_road_network
from geo.store.snapshot import load_shared_snapshot, snapshot_version

pytestmark = pytest.mark.db

GWANGHWAMUN = (126.9769, 37.5759)
CRS = "EPSG:5179"
MAX_RANGE_M = 200.0


def _load_and_answer(url: str, folder: str, start: float, out: Any) -> None:
    from sqlalchemy.engine import make_url

    engine = connect(make_url(url))
    time.sleep(max(0.0, start - time.time()))
    with engine.connect() as conn:
        shared = load_shared_snapshot(conn, folder=Path(folder), crs=CRS, max_range_m=MAX_RANGE_M)
    assert shared is not None
    answer = answer_incident(
        shared.snapshot.networks[0].roads, shared.snapshot.index, GWANGHWAMUN, CordonOptions()
    )
    body = json.dumps(answer.to_geojson(), sort_keys=True, default=str)
    out.put((shared.built, str(shared.path), hashlib.sha256(body.encode()).hexdigest()))
    engine.dispose()


def test_racing_processes_build_one_version_and_both_answer(seoul_url: URL, tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    start = time.time() + 8.0  # both past their imports, then at once
    url = seoul_url.render_as_string(hide_password=False)
    procs = [
        ctx.Process(target=_load_and_answer, args=(url, str(tmp_path), start, out))
        for _ in range(2)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    assert sorted(built for built, _, _ in results) == [False, True]
    assert len({path for _, path, _ in results}) == 1
    assert len({answer for _, _, answer in results}) == 1
    folders = [p for p in tmp_path.rglob("v-*") if p.is_dir()]
    assert len(folders) == 1
    assert not list(tmp_path.rglob(f"{PARTIAL}*"))


def test_an_import_makes_a_version_a_running_process_picks_up(
    seoul_url: URL, base_settings: Settings, data_dir: Path, tmp_path: Path
) -> None:
    settings = base_settings.with_overrides(
        database_url=base_settings.database_url.set(database=seoul_url.database),
        owner_database_url=seoul_url,
        snapshot_dir=tmp_path,
    )
    app = create_app(settings)
    cache = snapshot_cache(app)
    with app.app_context():
        first = cache.get()
    assert [n.name for n in first.networks] == ["seoul_central_drive"]
    owner = connect(seoul_url)
    with owner.connect() as conn:
        before = snapshot_version(conn, crs=CRS, max_range_m=MAX_RANGE_M)
    # an import while the process runs: a new road network, a new version
    with owner.begin() as conn:
        roads = data_dir / "mapo.osm"
        import_road_network(conn, read_road_network(roads), path=roads)
    with owner.connect() as conn:
        after = snapshot_version(conn, crs=CRS, max_range_m=MAX_RANGE_M)
    assert after.registry != before.registry
    cache.check_interval_s = 0.0
    with app.app_context():
        second = cache.get()
    assert cache.loads == 2
    assert sorted(n.name for n in second.networks) == ["mapo", "seoul_central_drive"]
    scope = tmp_path / after.scope
    assert sorted(p.name for p in scope.glob("v-*")) == sorted([before.key, after.key])
    # the snapshot it answered from before is still whole (its folder kept as the previous)
    assert first.counts["cameras"] == second.counts["cameras"] > 37_000
    owner.dispose()


def test_a_camera_import_carries_the_roads_over_and_answers_as_a_full_build(
    base_settings: Settings, data_dir: Path, tmp_path: Path
) -> None:
    """A version whose road networks are those of the version before (only cameras changed)
    hard-links their files instead of reading and building the roads again, and answers
    exactly as a version built from nothing."""
    from geo.ingest.cctv import read_cctv as read
    from geo.ingest.enforcement import read_enforcement

    with scratch_database(base_settings.owner_database_url) as url:
        engine = connect(url)
        with engine.begin() as conn:
            roads = data_dir / "seoul_central_drive.graphml"
            import_road_network(conn, read_road_network(roads), path=roads)
            cctv = data_dir / "seoul_cctv_2018.csv"
            import_cameras(conn, read(cctv), path=cctv, max_range_m=MAX_RANGE_M)
        folder, fresh = tmp_path / "kept", tmp_path / "fresh"
        with engine.connect() as conn:
            first = load_shared_snapshot(conn, folder=folder, crs=CRS, max_range_m=MAX_RANGE_M)
        assert first is not None
        with engine.begin() as conn:
            enforcement = data_dir / "traffic_enforcement_cameras_2020.csv"
            import_cameras(conn, read_enforcement(enforcement), path=enforcement,
                           max_range_m=MAX_RANGE_M)  # fmt: skip
        with engine.connect() as conn:
            second = load_shared_snapshot(conn, folder=folder, crs=CRS, max_range_m=MAX_RANGE_M)
            full = load_shared_snapshot(conn, folder=fresh, crs=CRS, max_range_m=MAX_RANGE_M)
        engine.dispose()
    assert second is not None
    assert full is not None
    assert second.built
    assert second.version == full.version != first.version
    assert second.snapshot.counts["cameras"] > first.snapshot.counts["cameras"]
    # every road array is the previous version's file, linked; the cameras' are new
    for file in first.path.glob("net0.*.npy"):
        assert (second.path / file.name).stat().st_ino == file.stat().st_ino, file.name
    assert (second.path / "cameras.id.npy").stat().st_ino != (
        first.path / "cameras.id.npy"
    ).stat().st_ino
    for name, array in full.snapshot.networks[0].roads.__dict__.items():
        if isinstance(array, np.ndarray):
            assert np.array_equal(array, getattr(second.snapshot.networks[0].roads, name)), name
    network = second.snapshot.networks[0]
    for lon, lat in (GWANGHWAMUN, (126.9895, 37.5702), (126.9700, 37.5550)):
        a = answer_incident(network.roads, second.snapshot.index, (lon, lat),
                            CordonOptions(radius_m=400.0))  # fmt: skip
        b = answer_incident(full.snapshot.networks[0].roads, full.snapshot.index, (lon, lat),
                            CordonOptions(radius_m=400.0))  # fmt: skip
        assert json.dumps(a.to_geojson(), sort_keys=True, default=str) == json.dumps(
            b.to_geojson(), sort_keys=True, default=str
        )
