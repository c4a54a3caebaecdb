"""Drill precomputation: the approaches and best cameras of many scenario points.

A *drill* is a named set of scenario points answered with one set of cordon options
(:class:`DrillOptions`). The answer for one scenario (:func:`run_scenario`) is a compact,
JSON-ready record: per approach its road, bearing, entry point, whether it is blind and its
best ``best`` cameras. Scenarios run in batches (:func:`run_batch`, hundreds per task); a batch
comes back as columns ready to store (:class:`BatchResults`), each record JSON text and itself
in columns (:func:`geo.drill_records.record_rows` turns it back into one dict per approach).
The batches run in parallel on a Dask cluster through :mod:`geo.drill_cluster`; this module is
pure and imports no Dask.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import orjson
import shapely

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
