"""The stored record of a drill scenario's answer: its approaches and their best cameras, in
columns (:func:`records_json`), and back as one dict per approach (:func:`record_rows`).

A record in columns is less than half the JSON of one dict per approach and camera and is
built without a Python object per approach or camera: a drill writes one per scenario, and
PostgreSQL parses each into ``jsonb`` as it stores it. The records of a batch of answers are
built together: each column of the whole batch is concatenated, rounded and made Python values
once, then cut per scenario, so a scenario costs a few list slices and one ``orjson.dumps``
rather than two dozen small numpy calls. The API serves the records as rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
from numpy.typing import NDArray

from geo.answer import approach_label
from geo.crs import xy_to_lonlat

if TYPE_CHECKING:
    from geo.incident import Answer

#: A stored record's approach columns, and its cameras' (each camera with its approach's
#: position). An approach's ``seq`` and ``id`` follow from its position.
APPROACH_COLUMNS = ("direction", "road_name", "ref", "highway", "main", "bearing_deg", "blind",
                    "lon", "lat")  # fmt: skip
CAMERA_COLUMNS = ("camera_id", "rank", "dori_level", "px_per_m", "facing", "distance_m",
                  "online", "confidence")  # fmt: skip


def rounded(values: NDArray[np.float64], digits: int, *, finite: bool = False) -> list[Any]:
    """``[round(v, digits) for v in values]``, vectorised, to the same floats; with ``finite``,
    None for NaN and infinities.

    ``rint(v * 10**digits) / 10**digits`` is the float nearest the decimal Python's ``round``
    picks, except where ``v * 10**digits`` lies within a few units in the last place of a
    half, which the product's own rounding may have crossed: Python rounds those few values
    (and the non-finite ones).

    Examples
    --------
    >>> rounded(np.array([0.25, 2.675, 126.97691234567, float("nan")]), 1, finite=True)
    [0.2, 2.7, 127.0, None]
    """
    scale = 10.0**digits
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = values * scale
        out: list[Any] = (np.rint(scaled) / scale).tolist()
        redo = ~(np.abs(scaled - np.floor(scaled) - 0.5) > 4 * np.spacing(np.abs(scaled)))
    for i in np.flatnonzero(redo).tolist():
        v = float(values[i])
        out[i] = None if finite and not math.isfinite(v) else round(v, digits)
    return out


def _texts(values: NDArray[Any]) -> list[str]:
    texts = values.tolist()
    if values.dtype.kind == "U" or set(map(type, texts)) <= {str}:
        return texts
    return [str(v) for v in texts]


def _plain(values: NDArray[Any]) -> list[Any]:
    """Python values of an object array, numpy scalars among them made Python ones."""
    items = values.tolist()
    if not any(issubclass(t, np.generic) for t in set(map(type, items))):
        return items
    return [v.item() if isinstance(v, np.generic) else v for v in items]


def _lonlat(answers: Sequence[Answer], x: NDArray[np.float64], y: NDArray[np.float64],
            counts: list[int]) -> tuple[list[float], list[float]]:  # fmt: skip
    """The approaches' crossing points ``x``, ``y`` (those of ``answers``, one after the other)
    in lon/lat degrees rounded to 1e-7, one transform per working CRS."""
    crs = [answer.network.crs for answer in answers]
    if len(set(crs)) == 1:
        lon, lat = xy_to_lonlat(x, y, crs=crs[0]) if len(x) else (x, y)
    else:
        lon, lat = np.empty_like(x), np.empty_like(y)
        for name in set(crs):
            mine = np.repeat([c == name for c in crs], counts)
            lon[mine], lat[mine] = xy_to_lonlat(x[mine], y[mine], crs=name)
    return rounded(lon, 7), rounded(lat, 7)


def records_json(answers: Sequence[Answer | None], best: int) -> list[str | None]:
    """The stored record of each answer (None for none) as JSON text, in columns:
    ``{"approaches": {column: [value per approach]}, "cameras": {"approach": [position],
    column: [value per camera]}}`` with the best ``best`` cameras of each approach
    (:data:`APPROACH_COLUMNS`, :data:`CAMERA_COLUMNS`): bearings, pixel densities and
    distances rounded to 0.1 (None when not finite), crossing points in lon/lat rounded to
    1e-7 degrees. :func:`record_rows` reads one back as rows."""
    out: list[str | None] = [None] * len(answers)
    which = [i for i, answer in enumerate(answers) if answer is not None]
    if not which:
        return out
    done: list[Answer] = [answers[i] for i in which]  # type: ignore[misc]
    a = [answer.cordon.approaches for answer in done]
    w = [answer.watchers for answer in done]
    n_approaches = [len(part) for part in a]
    a_end = np.cumsum(n_approaches).tolist()
    rank = np.concatenate([part.rank for part in w])
    keep = rank <= best
    kept_before = np.concatenate([[0], np.cumsum(keep)])
    c_end = kept_before[np.cumsum([len(part.rank) for part in w])].tolist()
    lon, lat = _lonlat(
        done,
        np.concatenate([part.x for part in a]),
        np.concatenate([part.y for part in a]),
        n_approaches,
    )

    def cat(column: str, parts: Sequence[Any]) -> NDArray[Any]:
        return np.concatenate([getattr(part, column) for part in parts])

    approach_columns = [
        _texts(cat("direction", a)),
        _texts(cat("name", a)),
        _texts(cat("ref", a)),
        _texts(cat("highway", a)),
        cat("main", a).tolist(),
        rounded(cat("bearing_deg", a), 1, finite=True),
        cat("blind", w).tolist(),
        lon,
        lat,
    ]
    camera_columns = [
        cat("approach", w)[keep].tolist(),
        _plain(cat("camera_id", w)[keep]),
        rank[keep].tolist(),
        _texts(cat("level", w)[keep]),
        rounded(cat("px_per_m", w)[keep], 1, finite=True),
        cat("facing", w)[keep].tolist(),
        rounded(cat("distance_m", w)[keep], 1, finite=True),
        cat("online", w)[keep].tolist(),
        _texts(cat("confidence", w)[keep]),
    ]
    camera_names = ("approach", *CAMERA_COLUMNS)
    a0 = c0 = 0
    for i, a1, c1 in zip(which, a_end, c_end, strict=True):
        record = {
            "approaches": {
                name: column[a0:a1]
                for name, column in zip(APPROACH_COLUMNS, approach_columns, strict=True)
            },
            "cameras": {
                name: column[c0:c1]
                for name, column in zip(camera_names, camera_columns, strict=True)
            },
        }
        out[i] = orjson.dumps(record).decode()
        a0, c0 = a1, c1
    return out


def record_rows(record: Mapping[str, Any] | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A stored record as one dict per approach, its best cameras listed, as the API serves it:
    ``[{seq, id, direction, road_name, ref, highway, main, bearing_deg, blind, lon, lat,
    cameras: [{camera_id, rank, dori_level, px_per_m, facing, distance_m, online,
    confidence}]}]``. A record already in that form (stored so before) is returned as it is.
    """
    if isinstance(record, list):
        return record
    approaches, cameras = record["approaches"], record["cameras"]
    per_approach: list[list[dict[str, Any]]] = [[] for _ in approaches["direction"]]
    columns = [cameras[c] for c in CAMERA_COLUMNS]
    for j, *values in zip(cameras["approach"], *columns, strict=True):
        per_approach[j].append(dict(zip(CAMERA_COLUMNS, values, strict=True)))
    rows = zip(*(approaches[c] for c in APPROACH_COLUMNS), per_approach, strict=True)
    return [
        {"seq": j + 1, "id": approach_label(j), **dict(zip(APPROACH_COLUMNS, values, strict=True)),
         "cameras": cams}
        for j, (*values, cams) in enumerate(rows)
    ]  # fmt: skip
