"""Drills on a Dask cluster (``dask.distributed``): the batches of :mod:`geo.drills` computed in
parallel, each worker loading the registry itself, once, and storing what it computes.

:func:`dask_client` gives a client on a scheduler's address or on a quiet local cluster;
:func:`registry_on_workers` has every worker load the registry snapshot with a loader it is
given (from PostGIS, a GeoPackage…), so that no copy passes through the client, whose pickling
and sending took longer than the drill (:func:`scatter_registry` still copies one already in
memory); :func:`precompute` runs the batches, the worker that computed one storing it as the
task's last step (``on_worker``: :class:`geo.store.drills.BatchSaver`), so that no records pass
through the scheduler and the client, which only count; an interruption cancels the batches
not started and waits for those running. Kept apart from :mod:`geo.drills`, which is pure and
imports no Dask.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from geo.drills import BatchResults, DrillOptions, Registry, run_batch

#: Dask settings of a local cluster: with no dashboard to show them, the workers' stack
#: sampling (every 10 ms), GIL sampling (every 1 ms) and the 20 ms event-loop tick only take
#: CPU from the drill: ~15 % of a core when idle, 3 % without them (2 workers). The memory
#: monitor of each worker and its nanny read the worker's RSS every 100 ms: every second is
#: enough for a drill's steady memory, and the idle cluster then takes 1.7 % instead of 4 %.
QUIET_LOCAL_CLUSTER = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.gil.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.admin.system-monitor.interval": "5s",
    "distributed.worker.memory.monitor-interval": "1s",
}


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, *, workers: int = 2) -> Iterator[Any]:
    """A ``dask.distributed`` client: on the cluster at ``scheduler`` (``tcp://host:8786``), or on
    a local cluster of ``workers`` processes of one thread each (the core is numpy and GEOS:
    processes, not threads, use the cores)."""
    import dask
    from dask.distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    with _sigint_ignored(), dask.config.set(QUIET_LOCAL_CLUSTER):
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=40,
        )
    scheduler_log = logging.getLogger("distributed.scheduler")
    scheduler_log.addFilter(_unwanted_results)
    try:
        with cluster, Client(cluster) as client:
            yield client
    finally:
        scheduler_log.removeFilter(_unwanted_results)


def _unwanted_results(record: logging.LogRecord) -> bool:
    """Drop the scheduler's "Couldn't gather keys" error when every key is forgotten: a result
    being fetched as its task was cancelled (Ctrl-C during ``result()``), which nobody wants
    any more; the error line would only muddle the command's own message."""
    args = record.args
    return not (
        record.msg == "Couldn't gather keys: %s"
        and isinstance(args, Mapping)
        and all(state == "forgotten" for state in args.values())
    )


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """SIGINT ignored while the local workers start: they inherit it ignored. Ctrl-C in a
    terminal reaches the whole process group, and a worker that takes it dies mid-task printing
    a traceback; the client's process alone should take it, cancel the tasks and close the
    cluster. (A Ctrl-C during those 1-2 s of start-up is ignored by the client too.)"""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal dispositions can only be set from the main thread
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class _LoadRegistry(WorkerPlugin):
    """Loads the registry in a worker when it joins (or when registered), off its event loop,
    then freezes the heap (``gc.freeze``), as the API's workers do: a national registry leaves
    millions of objects that every full collection of the garbage collector would walk."""

    def __init__(self, load: Callable[[], Registry]) -> None:
        self.load = load
        self.registry: Registry | None = None

    async def setup(self, worker: Any) -> None:  # noqa: ARG002
        # a load of minutes must not stall the worker's heartbeats
        self.registry = await asyncio.get_running_loop().run_in_executor(None, self.load)
        gc.collect()
        gc.freeze()

    def teardown(self, worker: Any) -> None:  # noqa: ARG002
        self.registry = None
        gc.unfreeze()  # what the registry leaves in cycles can be collected again


@dataclass(frozen=True)
class WorkerRegistry:
    """A registry every worker loaded for itself (:func:`registry_on_workers`); ``seconds``
    until the last worker held it."""

    name: str
    seconds: float

    def get(self) -> Registry:
        """This worker's copy (inside a task on the cluster)."""
        from distributed import get_worker

        plugin = get_worker().plugins[self.name]
        assert isinstance(plugin, _LoadRegistry)
        assert plugin.registry is not None
        return plugin.registry


@contextlib.contextmanager
def registry_on_workers(client: Any, load: Callable[[], Registry]) -> Iterator[WorkerRegistry]:
    """Every worker of the cluster loads the registry with ``load``, once, all at the same time;
    a worker that joins later loads it as it starts. Gone from the workers on exit.

    ``load`` is a picklable callable that runs on the workers, e.g.
    ``functools.partial(geo.store.drills.load_registry, url, crs=…, max_range_m=…)``. An
    exception it raises on a worker is raised here.
    """
    name = f"gilmok-registry-{uuid.uuid4().hex[:12]}"
    started = time.perf_counter()
    try:
        client.register_plugin(_LoadRegistry(load), name=name)
        yield WorkerRegistry(name, time.perf_counter() - started)
    finally:
        with contextlib.suppress(ValueError):  # never registered: the load failed at once
            client.unregister_worker_plugin(name)


def run_batch_task(
    registry: Registry | str,
    batch: Sequence[tuple[int, float, float]],
    options: dict[str, Any],
    on_worker: Callable[[BatchResults], Any] | None = None,
) -> Any:
    """A task of :func:`precompute`: :func:`run_batch` on ``registry`` (a name: the
    :class:`WorkerRegistry` this worker loaded), then ``on_worker`` of its results, on the
    worker; what it returns (the results when None) goes back to the client."""
    if isinstance(registry, str):
        registry = WorkerRegistry(registry, 0.0).get()
    results = run_batch(registry, batch, options)
    return results if on_worker is None else on_worker(results)


def scatter_registry(client: Any, registry: Registry) -> Any:
    """Copy a registry held in memory to every worker once; the future stands for it in
    tasks. (Pickling a national registry takes minutes: prefer :func:`registry_on_workers`.)"""
    return client.scatter(registry, broadcast=True, hash=False)


def precompute(
    client: Any,
    registry: Registry | WorkerRegistry | Any,
    scenario_batches: Sequence[Sequence[tuple[int, float, float]]],
    options: DrillOptions,
    *,
    save: Callable[[Any], None],
    on_worker: Callable[[BatchResults], Any] | None = None,
    workers: Sequence[str] | None = None,
) -> int:
    """Run the batches on the cluster; ``save`` each batch's results as it finishes.

    ``registry`` is the :class:`WorkerRegistry` of :func:`registry_on_workers`, or a registry
    in memory, scattered to every worker first (or the future :func:`scatter_registry`
    returned, to share one scatter between runs). ``on_worker``, a picklable callable, takes
    each batch's :class:`BatchResults` on the worker that computed them, as the task's last
    step (e.g. :class:`geo.store.drills.BatchSaver` stores them from there: no records travel
    through the scheduler and the client), and ``save`` gets what it returns on the client
    (without ``on_worker``: the results). ``workers`` (addresses) keeps the tasks on those
    workers.

    On an exception (from ``save`` or a worker, or a KeyboardInterrupt) the batches not yet
    finished are cancelled and the exception propagates: what was saved stays saved. With
    ``on_worker``, the batches already running on a worker (Dask cannot stop a task midway)
    are waited for first, so that what they store is known when this returns. Returns the
    number of scenarios of the batches saved.
    """
    from dask.distributed import Future, as_completed

    if not scenario_batches:
        return 0
    shared: Any
    if isinstance(registry, WorkerRegistry):
        shared = registry.name
    else:
        # a Future is a registry already on the workers (see scatter_registry)
        shared = registry if isinstance(registry, Future) else scatter_registry(client, registry)
    plain = options.as_dict()
    where = {} if workers is None else {"workers": list(workers), "allow_other_workers": False}
    sizes = {
        client.submit(
            run_batch_task, shared, list(batch), plain, on_worker, pure=False, **where
        ): len(batch)
        for batch in scenario_batches
    }
    futures = list(sizes)
    saved = 0
    try:
        for future in as_completed(futures):
            save(future.result())
            saved += sizes[future]
    except BaseException:
        client.cancel(futures)
        if on_worker is not None:
            _wait_for_running(client, {future.key for future in futures})
        raise
    finally:
        client.cancel(futures)
    return saved


def _running(keys: set[Any], dask_worker: Any) -> int:
    """On a worker: how many of the tasks ``keys`` are running (cancelled ones included)."""
    return sum(ts.key in keys for ts in dask_worker.state.all_running_tasks)


def _wait_for_running(client: Any, keys: set[Any], *, timeout_s: float = 60.0) -> None:
    """Until no worker runs any of the tasks ``keys`` (at most ``timeout_s``); a worker that
    cannot be asked (gone) is not waited for."""
    deadline = time.monotonic() + timeout_s
    with contextlib.suppress(Exception):
        while time.monotonic() < deadline:
            if not sum(client.run(_running, keys, on_error="ignore").values()):
                return
            time.sleep(0.02)
