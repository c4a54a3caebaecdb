"""Snapshot versions keyed by the camera change sequence (geo.store.snapshot.load_shared_snapshot,
api.snapshot.SnapshotCache): a worker whose live delta outgrows ``snapshot_compact_after`` has a
version built that includes the changes, switches to it while answering, and a worker started
afterwards maps that version and replays only what came after it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from api import create_app
from api.settings import Settings
from api.snapshot import snapshot_cache
from geo.store import camera_changes, connect

pytestmark = pytest.mark.db

MAX_RANGE_M = 200.0


def _settings(base: Settings, url: URL, folder: Path) -> Settings:
    return base.with_overrides(
        database_url=base.database_url.set(database=url.database),
        owner_database_url=url,
        snapshot_dir=folder,
        max_coverage_range_m=MAX_RANGE_M,
        snapshot_compact_after=5,
    )


def _survey(url: URL, cameras: list[int]) -> int:
    """Surveyed headings for ``cameras`` (their coverage redrawn): the change sequence after."""
    engine = connect(url)
    with engine.begin() as conn:
        camera_changes.correct_cameras(
            conn, [(c, {"heading_deg": float(37 * k % 360)}) for k, c in enumerate(cameras)],
            owner_id=None, organization_id=None, actor="test", via="cli",
            max_range_m=MAX_RANGE_M,
        )  # fmt: skip
        seq = camera_changes.latest_seq(conn)
    engine.dispose()
    return seq


def _set_offline(url: URL, cameras: list[int]) -> int:
    engine = connect(url)
    with engine.begin() as conn:
        camera_changes.set_statuses(
            conn, [(c, "offline", "test: no signal") for c in cameras],
            owner_id=None, organization_id=None, actor="test",
        )  # fmt: skip
        seq = camera_changes.latest_seq(conn)
    engine.dispose()
    return seq


def test_a_large_delta_is_compacted_into_a_version_a_new_worker_maps(
    seoul_url: URL, base_settings: Settings, tmp_path: Path
) -> None:
    settings = _settings(base_settings, seoul_url, tmp_path)
    app = create_app(settings)
    cache = snapshot_cache(app)
    with app.app_context():
        cache.get()
    assert cache.applied_seq == 0
    engine = connect(seoul_url)
    with engine.connect() as conn:
        cameras = list(
            conn.execute(text("SELECT id FROM camera WHERE status = 'online' ORDER BY id LIMIT 13"))
            .scalars()
        )  # fmt: skip
    engine.dispose()

    # a status report is no delta at all: the camera stays a base row, its status overridden
    seq = _set_offline(seoul_url, cameras[:12])
    with app.app_context():
        cache.refresh_changes()
    assert cache.applied_seq == seq
    assert cache.live().delta_size == 0
    assert cache.live().state_of(cameras[0]).status == "offline"

    # new headings below the threshold: applied as a delta, no new version
    seq = _survey(seoul_url, cameras[:3])
    with app.app_context():
        cache.refresh_changes()
    assert cache.applied_seq == seq
    assert cache.live().delta_size == 3
    assert cache.compactions == 0

    # past it: a version holding the changes is built in the background and taken
    seq = _survey(seoul_url, cameras[3:12])
    with app.app_context():
        cache.refresh_changes()
        deadline = time.monotonic() + 120
        while cache.compactions == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert cache.compactions == 1
    live = cache.live()
    assert live.applied_seq == seq
    assert live.delta_size == 0  # the changes are in the version itself now
    for camera in cameras[:12]:
        assert live.state_of(camera).status == "offline"
    scope = next(p for p in tmp_path.iterdir() if p.is_dir())
    assert any(p.name.startswith("v-") and f"-s{seq}-" in p.name for p in scope.iterdir())

    # a worker started now maps that version and has nothing to replay
    later = create_app(settings)
    other = snapshot_cache(later)
    with later.app_context():
        other.get()
    assert other.applied_seq == seq
    assert other.live().delta_size == 0
    assert other.live().state_of(cameras[0]).status == "offline"

    # a change after it: replayed as a delta on top of the compacted version
    seq = _survey(seoul_url, [cameras[12]])
    with later.app_context():
        other.refresh_changes()
    assert other.applied_seq == seq
    assert other.live().delta_size == 1
