"""Drill precomputation: the approaches and best cameras of many scenario points, in parallel.

A *drill* is a named set of scenario points answered with one set of cordon options. The
answer for one scenario (:func:`run_scenario`) is a compact, JSON-ready record: per approach
its road, bearing, entry point, whether it is blind and its best ``best`` cameras. Scenarios
run in batches (:func:`run_batch`, hundreds per task) on a Dask cluster (:func:`precompute`);
a batch comes back as columns ready to store (:class:`BatchResults`), each record JSON text
and itself in columns (:func:`record_rows` turns it back into one dict per approach). Each
worker loads the registry snapshot itself, once, with a loader given to
:func:`registry_on_workers` (from PostGIS, a GeoPackage…): no copy of it passes through the
client, whose pickling and sending took longer than the drill. A registry already in memory
can still be copied to the workers (:func:`scatter_registry`). Tasks carry only their batch of
points. The worker that computed a batch stores it as the task's last step, one transaction
(``on_worker``: :class:`geo.store.drills.BatchSaver`), so that no records pass through the
scheduler and the client, which only count what each task stored; an interruption cancels the
batches not started, waits for those running, and a re-run resumes with the scenarios still
pending. (Without ``on_worker`` the results come back to a ``save`` callback on the client.)
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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import orjson
import shapely
from distributed.diagnostics.plugin import WorkerPlugin

from geo.cordon import DEFAULT_CORDON, CordonOptions, check_choice
from geo.coverage import DORI_LEVELS
from geo.crs import lonlat_to_xy
from geo.domain import DEFAULT_DORI_LEVEL
from geo.drill_records import record_rows, records_json
from geo.errors import GilmokError, InvalidInput
from geo.incident import Answer, answer_incident
from geo.index import CoverageIndex
from geo.network import RoadNetwork

#: Scenarios per Dask task: enough that task overhead (~1 ms) is noise against ~2 ms each.
DEFAULT_BATCH_SIZE = 250


class _Network(Protocol):
    @property
    def extent(self) -> shapely.Geometry: ...

    @property
    def roads(self) -> RoadNetwork: ...


class Registry(Protocol):
    """What a drill needs of a registry snapshot (:class:`geo.registry.RegistrySnapshot`):
    its road networks, largest first, each with its extent (working CRS ``crs``), the camera
    index, and ``network_for``, which picks the first network covering a point or raises the
    error that says why none does."""

    index: CoverageIndex
    crs: str

    @property
    def networks(self) -> Sequence[_Network]: ...

    def network_for(self, lon: float, lat: float) -> _Network: ...


@dataclass(frozen=True)
class DrillOptions:
    """The cordon every scenario of a drill is answered with, the DORI ``level`` its cameras
    are ranked at, and how many cameras to keep per approach (``best``)."""

    cordon: CordonOptions = DEFAULT_CORDON
    level: str = DEFAULT_DORI_LEVEL
    best: int = 3

    def __post_init__(self) -> None:
        check_choice("level", self.level, DORI_LEVELS)
        if not 1 <= self.best <= 50:
            raise InvalidInput("best must be between 1 and 50 cameras per approach")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready options, as stored with the drill: the cordon's six options, the level
        and ``best``, in one flat object."""
        return {**self.cordon.as_dict(), "level": self.level, "best": self.best}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> DrillOptions:
        """The options :meth:`as_dict` wrote (keys it does not know are ignored)."""
        extra = {k: values[k] for k in ("level", "best") if k in values}
        return cls(cordon=CordonOptions.from_dict(values), **extra)


def _networks_for(
    registry: Registry, lon: Sequence[float], lat: Sequence[float]
) -> list[_Network | None]:
    """Per point (lon/lat degrees), the first network whose extent covers it, as
    ``registry.network_for`` picks it, in one transform for all the points; None where no
    network does (``network_for`` then names the reason)."""
    found: list[_Network | None] = [None] * len(lon)
    if not len(lon) or not registry.networks:
        return found
    x, y = lonlat_to_xy(lon, lat, crs=registry.crs)
    points = shapely.points(x, y)
    todo = np.ones(len(lon), dtype=bool)
    for net in registry.networks:
        hit = todo & shapely.covers(net.extent, points)
        for i in np.flatnonzero(hit).tolist():
            found[i] = net
        todo &= ~hit
    return found


def _answer(
    registry: Registry, network: _Network | None, lon: float, lat: float, options: DrillOptions
) -> Answer | str:
    """The scenario's answer, or why the registry cannot answer it (outside the road data, no
    road within the radius): a :class:`geo.errors.GilmokError`'s message. Any other exception
    is a bug and propagates."""
    try:
        graph = (network if network is not None else registry.network_for(lon, lat)).roads
        return answer_incident(
            graph, registry.index, (lon, lat), options.cordon, level=options.level
        )
    except GilmokError as exc:
        return exc.message


def run_scenario(
    registry: Registry, lon: float, lat: float, options: DrillOptions
) -> dict[str, Any]:
    """One scenario's compact answer.

    Returns ``{"status": "done", "approaches": n, "blind": n_blind, "incomplete": bool,
    "result": [approach, …], "error": ""}`` where each approach is ``{seq, id, direction,
    road_name, ref, highway, main, bearing_deg, blind, lon, lat, cameras: [{camera_id, rank,
    dori_level, px_per_m, facing, distance_m, online, confidence}]}`` (the best ``options.best``
    cameras, ranked as in :mod:`geo.select`). A scenario the registry cannot answer (outside the
    road data, no road within the radius) has ``"status": "failed"`` and the reason in
    ``error``; any other exception is a bug and propagates.
    """
    answer = _answer(registry, None, float(lon), float(lat), options)
    if isinstance(answer, str):
        return {"status": "failed", "approaches": None, "blind": None, "incomplete": None,
                "result": None, "error": answer}  # fmt: skip
    [record] = records_json([answer], options.best)
    assert record is not None
    return {
        "status": "done",
        "approaches": len(answer.cordon.approaches),
        "blind": int(answer.watchers.blind.sum()),
        "incomplete": bool(answer.cordon.incomplete),
        "result": record_rows(orjson.loads(record)),
        "error": "",
    }


@dataclass(frozen=True)
class BatchResults:
    """A batch of answered scenarios as columns, one entry per scenario, as the store saves
    them (:func:`geo.store.drills.save_results`).

    ``result_json`` holds a done scenario's record as JSON text, in columns (None when failed:
    :func:`record_rows` gives the ``result`` of :func:`run_scenario`); the other columns are
    that function's keys, with the scenario ``id``.
    """

    id: list[int]
    status: list[str]
    approaches: list[int | None]
    blind: list[int | None]
    incomplete: list[bool | None]
    result_json: list[str | None]
    error: list[str]

    def __len__(self) -> int:
        return len(self.id)


def run_batch(
    registry: Registry, batch: Sequence[tuple[int, float, float]], options: dict[str, Any]
) -> BatchResults:
    """Answers of a batch of scenarios ``(id, lon, lat)``, as :func:`run_scenario` gives them
    one by one, in columns with each record as JSON text.

    ``options`` is :meth:`DrillOptions.as_dict` (plain data travels to workers cheaply). The
    lon/lat transforms of the batch (finding each point's network, the approaches' positions)
    are made once for the whole batch.
    """
    opts = DrillOptions.from_dict(options)
    ids = [int(i) for i, _, _ in batch]
    lon = [float(x) for _, x, _ in batch]
    lat = [float(y) for _, _, y in batch]
    networks = _networks_for(registry, lon, lat)
    answers = [
        _answer(registry, net, x, y, opts) for net, x, y in zip(networks, lon, lat, strict=True)
    ]
    records = records_json([None if isinstance(a, str) else a for a in answers], opts.best)
    out = BatchResults(ids, [], [], [], [], [], [])
    for answer, record in zip(answers, records, strict=True):
        if isinstance(answer, str):
            out.status.append("failed")
            out.approaches.append(None)
            out.blind.append(None)
            out.incomplete.append(None)
            out.result_json.append(None)
            out.error.append(answer)
            continue
        out.status.append("done")
        out.approaches.append(len(answer.cordon.approaches))
        out.blind.append(int(answer.watchers.blind.sum()))
        out.incomplete.append(bool(answer.cordon.incomplete))
        out.result_json.append(record)
        out.error.append("")
    return out


def batches(
    ids: Iterable[Any], lon: Iterable[Any], lat: Iterable[Any], size: int
) -> list[list[tuple[int, float, float]]]:
    """Scenarios cut into batches of ``size``, in order."""
    rows = [(int(i), float(x), float(y)) for i, x, y in zip(ids, lon, lat, strict=True)]
    return [rows[k : k + size] for k in range(0, len(rows), size)]


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
