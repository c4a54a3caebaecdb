"""A drill precomputed into PostGIS on Dask: its scenario points stored under its name, those
still pending computed in batches, each batch stored by the worker that computed it.

What ``gilmok drills precompute`` runs, in two steps: :func:`plan_drill` records the drill and
its points and says what is left to compute; :func:`precompute_drill` computes it. Resuming is
the store's (:mod:`geo.store.drills`): a scenario stays pending until its result is saved, so a
run computes exactly what an interrupted one left, and nothing twice. An interruption (Ctrl-C,
or SIGTERM inside :func:`terminate_as_interrupt`) cancels the batches not started, waits for the
running ones, shuts Dask down and raises :class:`DrillInterrupted` with what is stored.

The batches are :mod:`geo.drills`' (pure), the cluster :mod:`geo.drill_cluster`'s; this module
only puts them in order, with the store, and so loads Dask and SQLAlchemy.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.engine import Connection, Engine

from geo.drill_cluster import dask_client, precompute, registry_on_workers
from geo.drills import DrillOptions, batches
from geo.store import drills as store


@dataclass(frozen=True)
class DrillPlan:
    """A drill ready to compute (:func:`plan_drill`): whether it is new, how many of the points
    were new to it, how many scenarios were computed before (done or failed: skipped), and the
    ``pending`` ones (``id``, ``lon``, ``lat``, degrees EPSG:4326)."""

    drill_id: int
    name: str
    created: bool
    added: int
    computed: int
    pending: pd.DataFrame


@dataclass(frozen=True)
class PrecomputeRun:
    """What :func:`precompute_drill` did: scenarios stored by this run, seconds until every
    worker held the registry, seconds computing after that."""

    stored: int
    load_s: float
    compute_s: float


class DrillInterrupted(KeyboardInterrupt):
    """:func:`precompute_drill` stopped by Ctrl-C or SIGTERM: a KeyboardInterrupt that says how
    many of the drill's ``total`` scenarios are ``stored`` (``by_this_run`` of them) and how many
    are still ``pending``. Running the drill again resumes it."""

    def __init__(
        self, name: str, *, stored: int, total: int, by_this_run: int, pending: int
    ) -> None:
        super().__init__(name)
        self.name = name
        self.stored = stored
        self.total = total
        self.by_this_run = by_this_run
        self.pending = pending


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (``kill``, a batch system's time limit) stops like Ctrl-C: the batches running
    are cancelled, Dask shuts down and one line says what is kept. Python's default ends the
    process on the spot, silently, leaving Dask's semaphores to the resource tracker."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread
        return

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def plan_drill(
    conn: Connection,
    name: str,
    points: pd.DataFrame,
    options: DrillOptions,
    *,
    source_file: str,
    retry_failed: bool = False,
) -> DrillPlan:
    """Record the drill ``name`` (with ``options``) and its scenario ``points`` (``name``,
    ``lon``, ``lat``: :func:`geo.gpkg.read_scenario_points`), adding only the points it does not
    hold yet; with ``retry_failed``, its failed scenarios become pending again. In the caller's
    transaction, as the schema's owner: adding points refreshes the table's statistics."""
    drill_id, created = store.ensure_drill(
        conn, name, options=options.as_dict(), source_file=source_file
    )
    added = store.add_scenarios(conn, drill_id, points["name"], points["lon"], points["lat"])
    if retry_failed:
        store.reset_failed(conn, drill_id)
    pending = store.pending_scenarios(conn, drill_id)
    counts = store.status_counts(conn, drill_id)
    return DrillPlan(
        drill_id=drill_id,
        name=name,
        created=created,
        added=added,
        computed=counts["done"] + counts["failed"],
        pending=pending,
    )


def precompute_drill(
    engine: Engine,
    plan: DrillPlan,
    options: DrillOptions,
    *,
    crs: str,
    max_range_m: float,
    snapshot_dir: Path | None = None,
    scheduler: str | None = None,
    workers: int = 2,
    batch_size: int = 250,
    progress: Callable[[int], AbstractContextManager[Any]] | None = None,
) -> PrecomputeRun:
    """Compute and store the plan's pending scenarios, ``batch_size`` to a task, on the Dask
    cluster at ``scheduler`` or on a local one of ``workers`` processes.

    ``engine`` is the service's: each worker connects to its URL to load the registry (in
    ``crs``, coverage capped at ``max_range_m`` metres; mapped from ``snapshot_dir``, the
    machine's snapshot folder, when given) and to store its batches.
    ``progress(total)``, e.g. a ``click.progressbar``, is opened once the workers hold the
    registry; its ``update(n)`` gets each stored batch's scenarios.

    Raises
    ------
    DrillInterrupted
        on Ctrl-C (or SIGTERM inside :func:`terminate_as_interrupt`), once what was computed is
        stored.
    """
    if not len(plan.pending):
        return PrecomputeRun(stored=0, load_s=0.0, compute_s=0.0)
    url = engine.url
    stored = 0
    started = time.perf_counter()
    try:
        with terminate_as_interrupt():
            todo = batches(plan.pending["id"], plan.pending["lon"], plan.pending["lat"], batch_size)
            # each worker reads the registry from the database itself, all at once
            load = partial(
                store.load_registry,
                url,
                crs=crs,
                max_range_m=max_range_m,
                snapshot_dir=snapshot_dir,
            )
            with (
                dask_client(scheduler, workers=workers) as client,
                registry_on_workers(client, load) as registry,
            ):
                ready = time.perf_counter()
                shown = (
                    contextlib.nullcontext() if progress is None else progress(len(plan.pending))
                )
                with shown as bar:

                    def saved(batch: tuple[int, int]) -> None:
                        nonlocal stored
                        scenarios, rows = batch
                        stored += rows
                        if bar is not None:
                            bar.update(scenarios)

                    # each worker stores the batches it computes, one transaction each
                    saver = store.BatchSaver(url, plan.drill_id)
                    precompute(client, registry, todo, options, on_worker=saver, save=saved)
                computed = time.perf_counter()
    except KeyboardInterrupt as exc:
        with engine.connect() as conn:
            now = store.status_counts(conn, plan.drill_id)
        # by the rows: batches still running on a worker when the others were cancelled
        # were stored by it, but their counts never came back
        kept = now["done"] + now["failed"]
        raise DrillInterrupted(
            plan.name,
            stored=kept,
            total=sum(now.values()),
            by_this_run=kept - plan.computed,
            pending=now["pending"],
        ) from exc
    return PrecomputeRun(stored=stored, load_s=ready - started, compute_s=computed - ready)
