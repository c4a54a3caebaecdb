"""Drill precomputation: the approaches and best cameras of many scenario points, in parallel.

A *drill* is a named set of scenario points answered with one set of cordon options. The
answer for one scenario (:func:`run_scenario`) is a compact, JSON-ready record: per approach
its road, bearing, entry point, whether it is blind and its best ``best`` cameras. Scenarios
run in batches (:func:`run_batch`, hundreds per task) on a Dask cluster
(:func:`precompute`): the registry snapshot goes to every worker once, with ``scatter``, and
each task carries only its batch of points. Results come back as batches finish and are handed
to a ``save`` callback (the store commits each batch), so an interruption loses at most the
batches in flight and a re-run resumes with the scenarios still pending.
"""

from __future__ import annotations

import contextlib
import logging
import math
import signal
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

from geo.answer import approach_label
from geo.approaches import _check_choice, resolve_radius_m
from geo.coverage import DORI_LEVELS
from geo.crs import xy_to_lonlat
from geo.domain import CORDON_MODES, DEFAULT_DORI_LEVEL, DIRECTIONS, TRAVEL_MODES
from geo.errors import GilmokError, InvalidInput
from geo.incident import answer_incident
from geo.index import CoverageIndex
from geo.network import RoadNetwork

#: Scenarios per Dask task: enough that task overhead (~1 ms) is noise against ~2 ms each.
DEFAULT_BATCH_SIZE = 250


class _Network(Protocol):
    @property
    def graph(self) -> RoadNetwork: ...


class Registry(Protocol):
    """What a drill needs of a registry snapshot (:class:`geo.store.snapshot.RegistrySnapshot`)."""

    index: CoverageIndex

    def network_for(self, lon: float, lat: float) -> _Network: ...


@dataclass(frozen=True)
class DrillOptions:
    """The cordon options every scenario of a drill is answered with, and how many cameras to
    keep per approach (``best``)."""

    radius_m: float | None = None
    minutes: float | None = None
    speed_kmh: float | None = None
    mode: str = "network"
    direction: str = "inbound"
    travel: str = "drive"
    level: str = DEFAULT_DORI_LEVEL
    best: int = 3

    def __post_init__(self) -> None:
        resolve_radius_m(self.radius_m, self.minutes, self.speed_kmh)
        _check_choice("mode", self.mode, CORDON_MODES)
        _check_choice("direction", self.direction, DIRECTIONS)
        _check_choice("travel", self.travel, TRAVEL_MODES)
        _check_choice("level", self.level, DORI_LEVELS)
        if not 1 <= self.best <= 50:
            raise InvalidInput("best must be between 1 and 50 cameras per approach")

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready options, as stored with the drill."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> DrillOptions:
        return cls(**{k: values[k] for k in cls.__dataclass_fields__ if k in values})


def _num(value: Any, digits: int) -> float | None:
    value = float(value)
    return round(value, digits) if math.isfinite(value) else None


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


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
    try:
        network = registry.network_for(lon, lat).graph
        answer = answer_incident(
            network,
            registry.index,
            (lon, lat),
            radius_m=options.radius_m,
            minutes=options.minutes,
            speed_kmh=options.speed_kmh,
            mode=options.mode,
            direction=options.direction,
            travel=options.travel,
            level=options.level,
        )
    except GilmokError as exc:
        return {"status": "failed", "approaches": None, "blind": None, "incomplete": None,
                "result": None, "error": exc.message}  # fmt: skip
    a, w = answer.cordon.approaches, answer.watchers
    a_lon, a_lat = xy_to_lonlat(a.x, a.y, crs=network.crs)
    keep = w.rank <= options.best
    cameras: list[list[dict[str, Any]]] = [[] for _ in range(len(a))]
    for i in np.flatnonzero(keep):
        cameras[int(w.approach[i])].append(
            {
                "camera_id": _plain(w.camera_id[i]),
                "rank": int(w.rank[i]),
                "dori_level": str(w.level[i]),
                "px_per_m": _num(w.px_per_m[i], 1),
                "facing": bool(w.facing[i]),
                "distance_m": _num(w.distance_m[i], 1),
                "online": bool(w.online[i]),
                "confidence": str(w.confidence[i]),
            }
        )
    result = [
        {
            "seq": j + 1,
            "id": approach_label(j),
            "direction": str(a.direction[j]),
            "road_name": str(a.name[j]),
            "ref": str(a.ref[j]),
            "highway": str(a.highway[j]),
            "main": bool(a.main[j]),
            "bearing_deg": _num(a.bearing_deg[j], 1),
            "blind": bool(w.blind[j]),
            "lon": round(float(a_lon[j]), 7),
            "lat": round(float(a_lat[j]), 7),
            "cameras": cameras[j],
        }
        for j in range(len(a))
    ]
    return {
        "status": "done",
        "approaches": len(a),
        "blind": int(w.blind.sum()),
        "incomplete": bool(answer.cordon.incomplete),
        "result": result,
        "error": "",
    }


def run_batch(
    registry: Registry, batch: Sequence[tuple[int, float, float]], options: dict[str, Any]
) -> list[dict[str, Any]]:
    """Answers of a batch of scenarios ``(id, lon, lat)``; each result carries its ``id``.

    ``options`` is :meth:`DrillOptions.as_dict` (plain data travels to workers cheaply).
    """
    opts = DrillOptions.from_dict(options)
    out = []
    for scenario_id, lon, lat in batch:
        result = run_scenario(registry, float(lon), float(lat), opts)
        result["id"] = int(scenario_id)
        out.append(result)
    return out


def batches(
    ids: Iterable[Any], lon: Iterable[Any], lat: Iterable[Any], size: int
) -> list[list[tuple[int, float, float]]]:
    """Scenarios cut into batches of ``size``, in order."""
    rows = [(int(i), float(x), float(y)) for i, x, y in zip(ids, lon, lat, strict=True)]
    return [rows[k : k + size] for k in range(0, len(rows), size)]


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, *, workers: int = 2) -> Iterator[Any]:
    """A ``dask.distributed`` client: on the cluster at ``scheduler`` (``tcp://host:8786``), or on
    a local cluster of ``workers`` processes of one thread each (the core is numpy and GEOS:
    processes, not threads, use the cores)."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    with _sigint_ignored():
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


def scatter_registry(client: Any, registry: Registry) -> Any:
    """Copy the registry to every worker once; the future stands for it in tasks."""
    return client.scatter(registry, broadcast=True, hash=False)


def precompute(
    client: Any,
    registry: Registry | Any,
    scenario_batches: Sequence[Sequence[tuple[int, float, float]]],
    options: DrillOptions,
    *,
    save: Callable[[list[dict[str, Any]]], None],
) -> int:
    """Run the batches on the cluster; ``save`` each batch's results as it finishes.

    The registry is scattered to every worker once (or give the future
    :func:`scatter_registry` returned, to share one scatter between runs). On an exception
    (from ``save`` or a worker, or a KeyboardInterrupt) the batches still running are
    cancelled and the exception propagates: what was saved stays saved. Returns the number
    of scenarios saved.
    """
    from dask.distributed import Future, as_completed

    if not scenario_batches:
        return 0
    # a Future is a registry already on the workers (see scatter_registry)
    shared = registry if isinstance(registry, Future) else scatter_registry(client, registry)
    plain = options.as_dict()
    futures = [
        client.submit(run_batch, shared, list(batch), plain, pure=False)
        for batch in scenario_batches
    ]
    saved = 0
    try:
        for future in as_completed(futures):
            results = future.result()
            save(results)
            saved += len(results)
    finally:
        client.cancel(futures)
    return saved
