"""Drills in PostGIS: named scenario sets, what is pending, results stored batch by batch.

A drill row holds its options; each ``drill_scenario`` row starts ``pending`` and becomes
``done`` (or ``failed``, with the reason) when its result is saved, with ``computed_at`` set
then. Saving only touches pending rows, so a scenario is never recorded twice, and a re-run
picks up exactly the rows still pending. :func:`load_registry` is what each drill worker reads
for itself: the registry snapshot of the database.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy.engine import URL, Connection, Engine

from geo.drill_export import DrillTables, drill_tables
from geo.drill_records import record_rows
from geo.errors import Conflict, InvalidInput, NotFound
from geo.registry import RegistrySnapshot
from geo.store.db import connect, database_errors
from geo.store.queries import query
from geo.store.snapshot import load_shared_snapshot, load_snapshot

if TYPE_CHECKING:
    from geo.drills import BatchResults


@dataclass(frozen=True)
class DrillInfo:
    """A drill and the counts of its scenarios."""

    id: int
    name: str
    options: dict[str, Any]
    source_file: str
    created_at: dt.datetime
    scenarios: int
    done: int
    failed: int
    pending: int
    approaches: int
    blind: int
    cameras: int


@dataclass(frozen=True)
class Scenario:
    """One stored scenario; ``result`` holds its approaches and best cameras once done, one
    dict per approach (:func:`geo.drill_records.record_rows`)."""

    id: int
    name: str
    lon: float
    lat: float
    status: str
    approaches: int | None
    blind: int | None
    incomplete: bool | None
    result: list[dict[str, Any]] | None
    error: str
    computed_at: dt.datetime | None


def cctv_sites(
    conn: Connection,
    *,
    every: int = 10,
    limit: int | None = None,
    inset_m: float = 0.0,
    file_name: str | None = None,
) -> pd.DataFrame:
    """Real CCTV sites as scenario points: every ``every``-th site inside a loaded road network.

    A site is one place of the CCTV standard data (its cameras share ``site_key`` and
    position). Sites count when they lie at least ``inset_m`` metres inside a road network's
    extent (0: anywhere inside it), from the import of ``file_name`` only when given. They are
    taken in ``site_key`` order (a hash: spread over the area, the same on every run), every
    ``every``-th from the first, at most ``limit`` of them.

    Returns a DataFrame ``name`` (``site-<site_key>``), ``lon``, ``lat`` (degrees, EPSG:4326,
    rounded to 1e-7).
    """
    if every < 1:
        raise InvalidInput("every must be at least 1 (1 takes every site)")
    if limit is not None and limit < 0:
        raise InvalidInput("limit must not be negative")
    if inset_m < 0:
        raise InvalidInput("inset must not be negative (metres inside the road extent)")
    rows = conn.execute(
        query("drills/camera_sites"),
        {"inset": inset_m, "file": file_name, "every": every, "limit": limit},
    ).all()
    return pd.DataFrame(
        {
            "name": [f"site-{r.site_key}" for r in rows],
            "lon": [round(float(r.lon), 7) for r in rows],
            "lat": [round(float(r.lat), 7) for r in rows],
        },
        columns=["name", "lon", "lat"],
    )


def ensure_drill(
    conn: Connection, name: str, *, options: dict[str, Any], source_file: str = ""
) -> tuple[int, bool]:
    """The drill named ``name``, created with ``options`` if new: (id, created).

    Raises
    ------
    Conflict
        when a drill of that name exists with other options (its results would not match).
    """
    row = conn.execute(
        query("drills/create"),
        {"name": name, "options": json.dumps(options), "source": source_file},
    ).first()
    if row is not None:
        return int(row.id), True
    existing = conn.execute(query("drills/by_name"), {"name": name}).one()
    if existing.options != options:
        raise Conflict(
            f"drill {name!r} exists with other options ({existing.options});"
            " give another --name, or the same options",
            details={"drill": name, "options": existing.options},
        )
    return int(existing.id), False


def add_scenarios(
    conn: Connection,
    drill_id: int,
    names: Iterable[Any],
    lon: Iterable[Any],
    lat: Iterable[Any],
) -> int:
    """Add scenario points (lon/lat degrees) by name; names already in the drill are kept as
    they are; the table's statistics are refreshed when some are added. Returns the number
    added."""
    result = conn.execute(
        query("drills/add_scenarios"),
        {
            "drill": drill_id,
            "names": [str(n) for n in names],
            "lon": [float(x) for x in lon],
            "lat": [float(y) for y in lat],
        },
    )
    added = int(result.rowcount)
    if added:
        # statistics from before these rows had the drill's saves walk all its rows through
        # the drill_id index once per batch (~0.1 ms a scenario at 100,000) instead of
        # fetching each row by its id
        conn.execute(query("drills/analyze_scenarios"))
    return added


def pending_scenarios(
    conn: Connection, drill_id: int, *, retry_failed: bool = False
) -> pd.DataFrame:
    """Scenarios still to compute: ``id``, ``lon``, ``lat``, in id order (failed ones too when
    ``retry_failed``)."""
    statuses = ["pending", "failed"] if retry_failed else ["pending"]
    rows = conn.execute(
        query("drills/pending"),
        {"drill": drill_id, "statuses": statuses},
    ).all()
    return pd.DataFrame(rows, columns=["id", "lon", "lat"])


def reset_failed(conn: Connection, drill_id: int) -> int:
    """Put the drill's failed scenarios back to pending. Returns how many."""
    result = conn.execute(
        query("drills/reset_failed"),
        {"drill": drill_id},
    )
    return int(result.rowcount)


def status_counts(conn: Connection, drill_id: int) -> dict[str, int]:
    """How many of the drill's scenarios are ``pending``, ``done`` and ``failed``."""
    rows = conn.execute(
        query("drills/status_counts"),
        {"drill": drill_id},
    ).all()
    return {"pending": 0, "done": 0, "failed": 0} | {r[0]: int(r[1]) for r in rows}


def save_results(conn: Connection, drill_id: int, results: BatchResults) -> int:
    """Store a batch of computed scenarios (:func:`geo.drills.run_batch`).

    Only pending rows change: a result arriving twice is recorded once. Returns rows updated.
    The columns travel as arrays in PostgreSQL's binary format, each record's JSON text as it
    is (length-prefixed: in the text format psycopg escaped each quote in Python, ~1 ms a
    scenario; as one JSON array, the server built the whole array before taking it apart).
    """
    if not len(results):
        return 0
    # the records compressed with lz4 where the server has it, not pglz: a third of
    # PostgreSQL's CPU in a save (a record of ~3 KB of JSON is compressed to stay in its row)
    info = conn.connection.info  # kept as long as the connection (~1 ms to ask each time)
    if "gilmok_lz4" not in info:
        info["gilmok_lz4"] = conn.execute(query("drills/has_lz4")).scalar_one()
    if info["gilmok_lz4"]:
        conn.execute(query("drills/lz4_toast"))
    with conn.connection.driver_connection.cursor() as cur:  # type: ignore[union-attr]
        cur.execute(
            query("drills/save_results").text,  # psycopg's binary placeholders (%b)
            (results.id, results.status, results.approaches, results.blind,
             results.incomplete, results.result_json, results.error, drill_id, results.id),
        )  # fmt: skip
        return int(cur.rowcount)


@dataclass(frozen=True)
class BatchSaver:
    """Saves batches of the drill ``drill_id`` from the process that computed them (a Dask
    worker: ``geo.drill_cluster.precompute(..., on_worker=BatchSaver(url, drill_id))``), each in one
    transaction of its own (:func:`save_results`). Picklable; each process connects once, as
    ``gilmok drills`` in ``pg_stat_activity``. Returns (scenarios in the batch, rows stored).
    """

    url: URL
    drill_id: int

    def __call__(self, results: BatchResults) -> tuple[int, int]:
        with database_errors(self.url), _drill_engine(self.url).begin() as conn:
            return len(results), save_results(conn, self.drill_id, results)


@functools.cache
def _drill_engine(url: URL) -> Engine:
    return connect(
        url, check=False, connect_args={"connect_timeout": 5, "application_name": "gilmok drills"}
    )


def load_registry(
    url: URL, *, crs: str, max_range_m: float, snapshot_dir: Path | None = None
) -> RegistrySnapshot:
    """The registry snapshot of the database at ``url``: what each drill worker loads for
    itself (:func:`geo.drill_cluster.registry_on_workers`), mapped from ``snapshot_dir`` (the
    machine's snapshot folder, shared with the API's workers) when given, else read from the
    tables by this process alone."""
    engine = connect(url)
    try:
        with engine.connect() as conn:
            if snapshot_dir is None:
                return load_snapshot(conn, crs=crs, max_range_m=max_range_m)
            shared = load_shared_snapshot(
                conn, folder=snapshot_dir, crs=crs, max_range_m=max_range_m
            )
            assert shared is not None  # waits for a build in progress
            return shared.snapshot
    finally:
        engine.dispose()


def get_drill(conn: Connection, name: str) -> DrillInfo:
    """The drill named ``name`` with its counts.

    Raises
    ------
    NotFound
        when there is no such drill.
    """
    row = conn.execute(
        query("drills/info"),
        {"name": name},
    ).first()
    if row is None:
        raise NotFound(f"no drill named {name!r}", details={"drill": name})
    return DrillInfo(
        id=int(row.id), name=row.name, options=row.options, source_file=row.source_file,
        created_at=row.created_at, scenarios=int(row.scenarios), done=int(row.done),
        failed=int(row.failed), pending=int(row.pending), approaches=int(row.approaches),
        blind=int(row.blind), cameras=int(row.cameras),
    )  # fmt: skip


def _scenario(row: Any) -> Scenario:
    return Scenario(
        id=int(row.id), name=row.name, lon=float(row.lon), lat=float(row.lat), status=row.status,
        approaches=row.approaches, blind=row.blind, incomplete=row.incomplete,
        result=None if row.result is None else record_rows(row.result),
        error=row.error, computed_at=row.computed_at,
    )  # fmt: skip


def list_scenarios(
    conn: Connection, drill_id: int, *, after_id: int | None = None, limit: int | None = None
) -> list[Scenario]:
    """The drill's scenarios in id order, a page at a time (keyset on ``after_id``)."""
    rows = conn.execute(
        query("drills/scenarios"),
        {"drill": drill_id, "after": after_id or 0, "limit": limit},
    ).all()
    return [_scenario(r) for r in rows]


def get_scenario(conn: Connection, drill_id: int, scenario_id: int) -> Scenario:
    """One scenario of the drill.

    Raises
    ------
    NotFound
        when the drill has no scenario with that id.
    """
    row = conn.execute(query("drills/scenario"), {"drill": drill_id, "id": scenario_id}).first()
    if row is None:
        raise NotFound(
            f"the drill has no scenario {scenario_id}", details={"scenario_id": scenario_id}
        )
    return _scenario(row)


def export_frames(conn: Connection, drill_id: int) -> DrillTables:
    """The drill as tables for :func:`geo.gpkg.write_drill_file`: scenarios (one row each),
    approaches (one row per approach of a done scenario, with its 시군구 / 읍면동) and their
    cameras (one row per approach and camera); no geometry but points
    (:func:`geo.drill_export.drill_geometries` draws the cordons and stretches)."""
    scenarios = list_scenarios(conn, drill_id)
    scen = pd.DataFrame(
        {
            "name": [s.name for s in scenarios],
            "lon": [s.lon for s in scenarios],
            "lat": [s.lat for s in scenarios],
            "status": [s.status for s in scenarios],
            "approaches": pd.array([s.approaches for s in scenarios], dtype="Int64"),
            "blind": pd.array([s.blind for s in scenarios], dtype="Int64"),
            "incomplete": pd.array([s.incomplete for s in scenarios], dtype="boolean"),
            "error": [s.error for s in scenarios],
            "computed_at": [
                "" if s.computed_at is None else s.computed_at.isoformat() for s in scenarios
            ],
        }
    )
    return drill_tables(scen, [s.result for s in scenarios])
