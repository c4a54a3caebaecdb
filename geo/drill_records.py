"""The stored record of a drill scenario's answer: its approaches and their best cameras, in
columns (:func:`scenario_record`), and back as one dict per approach (:func:`record_rows`).

A record in columns is less than half the JSON of one dict per approach and camera and is
built without a Python object per approach or camera: a drill writes one per scenario, and
PostgreSQL parses each into ``jsonb`` as it stores it. The API serves them as rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from geo.answer import approach_label

if TYPE_CHECKING:
    from geo.incident import Answer


def _round1(values: list[float]) -> list[float | None]:
    return [round(v, 1) if math.isfinite(v) else None for v in values]


def _texts(values: NDArray[Any]) -> list[str]:
    return values.tolist() if values.dtype.kind == "U" else [str(v) for v in values.tolist()]


def _plain(values: list[Any]) -> list[Any]:
    return [v.item() if isinstance(v, np.generic) else v for v in values]


#: A stored record's approach columns, and its cameras' (each camera with its approach's
#: position). An approach's ``seq`` and ``id`` follow from its position.
APPROACH_COLUMNS = ("direction", "road_name", "ref", "highway", "main", "bearing_deg", "blind",
                    "lon", "lat")  # fmt: skip
CAMERA_COLUMNS = ("camera_id", "rank", "dori_level", "px_per_m", "facing", "distance_m",
                  "online", "confidence")  # fmt: skip


def scenario_record(
    answer: Answer, lon: list[float], lat: list[float], best: int
) -> dict[str, Any]:
    """The stored record of an answer, in columns: ``{"approaches": {column: [value per
    approach]}, "cameras": {"approach": [position], column: [value per camera]}}`` with the
    best ``best`` cameras of each approach (:data:`APPROACH_COLUMNS`, :data:`CAMERA_COLUMNS`).
    Each column becomes Python values at once (``tolist``): no dict per approach or camera,
    and less than half the JSON for PostgreSQL to parse."""
    a, w = answer.cordon.approaches, answer.watchers
    keep = np.flatnonzero(w.rank <= best)
    return {
        "approaches": {
            "direction": _texts(a.direction),
            "road_name": _texts(a.name),
            "ref": _texts(a.ref),
            "highway": _texts(a.highway),
            "main": a.main.tolist(),
            "bearing_deg": _round1(a.bearing_deg.tolist()),
            "blind": w.blind.tolist(),
            "lon": lon,
            "lat": lat,
        },
        "cameras": {
            "approach": w.approach[keep].tolist(),
            "camera_id": _plain(w.camera_id[keep].tolist()),
            "rank": w.rank[keep].tolist(),
            "dori_level": _texts(w.level[keep]),
            "px_per_m": _round1(w.px_per_m[keep].tolist()),
            "facing": w.facing[keep].tolist(),
            "distance_m": _round1(w.distance_m[keep].tolist()),
            "online": w.online[keep].tolist(),
            "confidence": _texts(w.confidence[keep]),
        },
    }


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
