"""The live index (:mod:`geo.live_index`): a snapshot's coverage index plus camera changes
applied as deltas answers exactly as a snapshot rebuilt from the database after the same
changes.

Random sequences of edits — status, move, heading, field of view, kind, add, remove — are
written through the store (:mod:`geo.store.camera_changes`) on the real Mapo world
(tests/mapo_world.py: the Mapo roads and the Seoul 2018 cameras inside them), read back as
deltas (:func:`geo.store.camera_changes.changed_since`, as every process's listener does) and
applied; then the answers at many incident points, near the edited cameras and anywhere, are
compared with those of a snapshot loaded afresh from the database: every approach's watchers,
in rank order, with their level, density, facing, distance and whether they are online.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from mapo_world import MapoWorld, mapo_fixtures
from sqlalchemy import text
from sqlalchemy.engine import Connection

from api.settings import Settings
from geo.cordon import CordonOptions
from geo.errors import GilmokError
from geo.incident import answer_incident
from geo.live_index import LiveCoverageIndex
from geo.store import camera_changes
from geo.store.snapshot import load_snapshot

ACTOR = "test"


world = mapo_fixtures().world


@pytest.fixture(scope="module")
def cameras(world: MapoWorld) -> list[tuple[int, float, float]]:
    """(id, lon, lat) of the owner's cameras, in id order."""
    rows = world.conn.execute(
        text(
            "SELECT id, ST_X(ST_Transform(position, 4326)), ST_Y(ST_Transform(position, 4326))"
            " FROM camera WHERE owner_id = :o ORDER BY id"
        ),
        {"o": world.orgs["municipal_centre"]},
    ).all()
    return [(int(r[0]), float(r[1]), float(r[2])) for r in rows]


EDITS = st.lists(
    st.tuples(
        st.sampled_from(["status", "move", "heading", "fov", "kind", "add", "remove"]),
        st.integers(0, 10**9),  # which camera
        st.floats(0, 359.9),  # a heading, or a direction
        st.floats(0.0, 1.0),  # a size: fov share, a move's length, …
    ),
    min_size=1,
    max_size=14,
)


def _edit(
    conn: Connection,
    world: MapoWorld,
    cams: list[tuple[int, float, float]],
    edit: tuple[str, int, float, float],
    n: int,
) -> tuple[float, float]:
    """Write one edit through the store; the point it touched (lon, lat)."""
    kind, pick, angle, size = edit
    cam, lon, lat = cams[pick % len(cams)]
    owner = world.orgs["municipal_centre"]
    common: dict[str, Any] = {"owner_id": owner, "organization_id": owner, "actor": ACTOR}
    if kind == "status":
        status = ["offline", "maintenance", "online"][int(size * 2.999)]
        camera_changes.set_statuses(conn, [(cam, status, "test")], **common)
    elif kind == "move":
        d = 0.0015 * size
        lon, lat = lon + d * np.sin(np.radians(angle)), lat + d * np.cos(np.radians(angle))
        camera_changes.correct_cameras(conn, [(cam, {"lon": lon, "lat": lat})], via="api", **common)
    elif kind == "heading":
        camera_changes.correct_cameras(
            conn, [(cam, {"heading_deg": angle, "kind": "fixed"})], via="api", **common
        )
    elif kind == "fov":
        fov = None if size < 0.1 else 10 + 340 * size
        camera_changes.correct_cameras(conn, [(cam, {"fov_deg": fov})], via="api", **common)
    elif kind == "kind":
        camera_changes.correct_cameras(
            conn, [(cam, {"kind": ["fixed", "ptz", "dome"][int(size * 2.999)]})], via="api",
            **common,
        )  # fmt: skip
    elif kind == "add":
        d = 0.002 * size
        lon, lat = lon + d * np.sin(np.radians(angle)), lat + d * np.cos(np.radians(angle))
        camera_changes.add_camera(
            conn, owner_id=owner, organization_id=owner, actor=ACTOR, via="api", lon=lon,
            lat=lat, kind=["fixed", "ptz", "dome"][int(size * 2.999)], source_key=f"added-{n}",
            heading_deg=angle if size > 0.3 else None,
        )  # fmt: skip
    else:
        camera_changes.remove_camera(
            conn, cam, owner_id=owner, organization_id=owner, actor=ACTOR, via="api"
        )
    return lon, lat


def _answers(network: Any, index: Any, points: list[tuple[float, float]]) -> list[Any]:
    out = []
    for lon, lat in points:
        for options in (CordonOptions(radius_m=300.0), CordonOptions(radius_m=200.0,
                                                                     mode="euclidean")):  # fmt: skip
            try:
                w = answer_incident(network, index, (lon, lat), options).watchers
            except GilmokError:
                out.append(None)
                continue
            out.append(
                (
                    w.approach.tolist(),
                    [int(c) for c in w.camera_id],
                    w.rank.tolist(),
                    w.level.tolist(),
                    np.round(w.px_per_m, 6).tolist(),
                    w.facing.tolist(),
                    np.round(w.distance_m, 6).tolist(),
                    w.online.tolist(),
                    [str(c) for c in w.confidence],
                    [str(k) for k in w.kind],
                    w.blind.tolist(),
                )
            )
    return out


@settings(
    max_examples=6,
    deadline=None,
    # each example loads a snapshot: no shrinking (a failure prints its edits whole)
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(edits=EDITS, seed=st.integers(0, 2**31))
def test_deltas_answer_as_a_rebuilt_snapshot(
    world: MapoWorld,
    cameras: list[tuple[int, float, float]],
    base_settings: Settings,
    edits: list[tuple[str, int, float, float]],
    seed: int,
) -> None:
    conn = world.conn
    savepoint = conn.begin_nested()
    try:
        base = world.snapshot
        live = LiveCoverageIndex(base.index, applied_seq=camera_changes.latest_seq(conn))
        touched = []
        for n, edit in enumerate(edits):
            touched.append(_edit(conn, world, cameras, edit, n))
            if n % 3 == 0:  # deltas arrive in several batches, as the listener reads them
                upto, rows = camera_changes.changed_since(conn, live.applied_seq)
                live.apply(rows, seq=upto)
        upto, rows = camera_changes.changed_since(conn, live.applied_seq)
        live.apply(rows, seq=upto)
        rebuilt = load_snapshot(
            conn, crs=base_settings.working_crs, max_range_m=base_settings.max_coverage_range_m
        )
        rng = np.random.default_rng(seed)
        x0, y0, x1, y1 = 126.945, 37.54, 126.965, 37.555
        points = [(lon + rng.normal(0, 0.001), lat + rng.normal(0, 0.001)) for lon, lat in touched]
        points += [(rng.uniform(x0, x1), rng.uniform(y0, y1)) for _ in range(24)]
        network = base.networks[0].roads
        got = _answers(network, live, points)
        want = _answers(rebuilt.networks[0].roads, rebuilt.index, points)
        assert got == want
        assert len(live) == len(rebuilt.index)
        # the status each answer names is the database's
        states = dict(
            conn.execute(text("SELECT id, status FROM camera WHERE status <> 'retired'")).all()
        )
        for lon, lat in points[:6]:
            try:
                w = answer_incident(network, live, (lon, lat)).watchers
            except GilmokError:
                continue
            for cam, status in zip(w.camera_id.tolist(), w.status.tolist(), strict=True):
                assert states[cam] == status
    finally:
        savepoint.rollback()


def test_offline_cameras_rank_last_and_say_since_when(
    world: MapoWorld, cameras: list[tuple[int, float, float]]
) -> None:
    """The best camera of an approach, set offline, drops below every online watcher and the
    answer names its status and since-time."""
    conn = world.conn
    savepoint = conn.begin_nested()
    try:
        base = world.snapshot
        live = LiveCoverageIndex(base.index, applied_seq=camera_changes.latest_seq(conn))
        network = base.networks[0].roads
        found = None
        for _, lon, lat in cameras[::7]:
            try:
                w = answer_incident(network, live, (lon, lat)).watchers
            except GilmokError:
                continue
            for a in np.unique(w.approach):
                mine = w.approach == a
                if mine.sum() >= 2 and w.online[mine].all():
                    found = (lon, lat, int(a), int(w.camera_id[mine][0]))
                    break
            if found:
                break
        assert found, "no approach with two online watchers in the Mapo world"
        lon, lat, approach, best = found
        owner = world.orgs["municipal_centre"]
        camera_changes.set_statuses(
            conn, [(best, "offline", "lens broken")], owner_id=owner, organization_id=owner,
            actor=ACTOR,
        )  # fmt: skip
        upto, rows = camera_changes.changed_since(conn, live.applied_seq)
        live.apply(rows, seq=upto)
        w = answer_incident(network, live, (lon, lat)).watchers
        mine = w.approach == approach
        ids = w.camera_id[mine].tolist()
        assert ids[-1] == best
        assert ids[0] != best
        last = np.flatnonzero(mine)[-1]
        assert not w.online[last]
        assert w.status[last] == "offline"
        assert w.status_since[last] is not None
        assert all(s == "online" for s in w.status[mine][:-1])
    finally:
        savepoint.rollback()
