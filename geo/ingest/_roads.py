"""What the GraphML and OSM road readers share: tag-value parsing and the raw segment columns.

OSMnx GraphML stores every attribute as a string, and attributes of edges merged from several
ways as a Python-literal list (``"['동소문로', '창경궁로']"``); raw OSM uses ``;`` for several
values in one tag. These helpers turn both into plain values.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_SPEED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph|knots)?\s*$", re.IGNORECASE)
_SPEED_FACTOR = {"mph": 1.609344, "knots": 1.852}
_FALSY = frozenset({"", "no", "false", "0", "none"})


def split_values(raw: str | None) -> list[str]:
    """All values of an attribute: a Python-literal list, a ``;``-list or a single value.

    Examples
    --------
    >>> split_values("['동소문로', '창경궁로']")
    ['동소문로', '창경궁로']
    >>> split_values("50;30")
    ['50', '30']
    >>> split_values(None)
    []
    """
    if raw is None:
        return []
    text = raw.strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            parsed = None
        if isinstance(parsed, list):
            return [str(item).strip() for item in parsed if str(item).strip()]
    return [part.strip() for part in text.split(";") if part.strip()]


def first_value(raw: str | None) -> str:
    """The first of :func:`split_values`, or ``""``."""
    values = split_values(raw)
    return values[0] if values else ""


def parse_maxspeed_kmh(raw: str | None) -> float:
    """Speed limit in km/h from an OSM ``maxspeed`` value; NaN when not numeric.

    The first value that parses wins; ``mph`` and ``knots`` are converted. Symbolic values
    (``KR:urban``, ``signals``, ``none``, ``walk``) give NaN.

    Examples
    --------
    >>> parse_maxspeed_kmh("['60', '50']")
    60.0
    >>> round(parse_maxspeed_kmh("30 mph"), 1)
    48.3
    >>> parse_maxspeed_kmh("KR:urban")
    nan
    """
    for value in split_values(raw):
        match = _SPEED.match(value)
        if match:
            unit = (match.group(2) or "").lower()
            return float(match.group(1)) * _SPEED_FACTOR.get(unit, 1.0)
    return math.nan


def parse_lanes(raw: str | None) -> float:
    """Number of lanes from an OSM ``lanes`` value (first numeric value), NaN when absent.

    Examples
    --------
    >>> parse_lanes("['2', '3']")
    2.0
    >>> parse_lanes("two")
    nan
    """
    for value in split_values(raw):
        try:
            lanes = float(value)
        except ValueError:
            continue
        if math.isfinite(lanes) and lanes > 0:
            return lanes
    return math.nan


def is_yes(raw: str | None) -> bool:
    """True when a ``bridge``/``tunnel``-style tag is set to anything but a "no" value.

    ``bridge=viaduct`` and ``tunnel=building_passage`` count as yes; for a list, any value.

    Examples
    --------
    >>> is_yes("viaduct"), is_yes("no"), is_yes(None), is_yes("['yes', 'no']")
    (True, False, False, True)
    """
    return any(value.lower() not in _FALSY for value in split_values(raw))


def parse_ids(raw: str | None) -> list[int]:
    """Integer OSM ids from ``"123"`` or ``"[1, 2, 3]"``; non-numeric parts are dropped."""
    ids = []
    for value in split_values(raw):
        try:
            ids.append(int(value))
        except ValueError:
            continue
    return ids


@dataclass
class RawSegments:
    """Segment columns as a reader produced them, before lengths and the node table.

    One entry per segment in every list/array; ``geometry`` is a shapely LineString array in
    lon/lat (EPSG:4326) running u→v. ``node_id``/``node_lon``/``node_lat`` hold every node
    position the reader knows (degrees, EPSG:4326), a superset of the segments' ends.
    """

    u: list[int] = field(default_factory=list)
    v: list[int] = field(default_factory=list)
    osm_way_id: list[int] = field(default_factory=list)
    highway: list[str] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    oneway: list[bool] = field(default_factory=list)
    bridge: list[bool] = field(default_factory=list)
    tunnel: list[bool] = field(default_factory=list)
    ref: list[str] = field(default_factory=list)
    maxspeed_kmh: list[float] = field(default_factory=list)
    lanes: list[float] = field(default_factory=list)
    attributes: list[dict[str, Any]] = field(default_factory=list)
    geometry: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object))
    node_id: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    node_lon: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.float64))
    node_lat: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.float64))
