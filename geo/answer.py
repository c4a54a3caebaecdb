"""An incident's answer for people and programs: a GeoJSON FeatureCollection and a text table.

The FeatureCollection (RFC 7946: lon/lat, counter-clockwise exterior rings, 7 decimals ≈ 1 cm)
holds, told apart by the ``role`` property:

- ``incident``: the point, with the cordon's options and ``incomplete``;

- ``cordon``: the roads within R (network mode) or the circle (euclidean mode), drawn as a
  regular polygon of :data:`CIRCLE_SIDES` sides, counter-clockwise from due east (grid);
- ``approach``: each entry/exit point, id ``A1``, ``A2``…, with road, class, ``main``,
  ``bearing_deg``, ``blind`` and its number of online watchers;
- ``watch_stretch``: each approach's stretch of road;
- ``camera``: each (approach, camera) pair with ``rank``, ``dori_level``, ``px_per_m``,
  ``facing``, ``distance_m``, ``online``, ``status`` (online / offline / maintenance),
  ``status_since`` (ISO 8601, or null when not known), ``confidence``.

The incident, each approach (at its entry point) and each camera carry ``sigungu_code``,
``sigungu_name``, ``emd_code`` and ``emd_name``: the 시군구 and 읍면동 they lie in
(:mod:`geo.admin_locate`).

No camera source URL is ever part of it: the index does not hold them.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Any, cast

import numpy as np
import shapely
from numpy.typing import NDArray

from geo.admin_locate import locate_admin_units
from geo.approaches import Cordon
from geo.crs import xy_to_lonlat
from geo.kernels.graph import cordon_pieces
from geo.kernels.lines import drop_empty_lines
from geo.network import RoadNetwork
from geo.select import Watchers

_DECIMALS = 7
#: Kinds of geometry the answer writes (shapely's type ids).
_POINT, _LINESTRING, _POLYGON, _MULTILINESTRING = 0, 1, 3, 5


#: Sides of the regular polygon that draws a euclidean cordon's circle.
CIRCLE_SIDES = 64


def approach_label(position: int) -> str:
    """Stable label of the approach at ``position`` (0-based): ``A1``, ``A2``, …"""
    return f"A{position + 1}"


def cordon_geometry(network: RoadNetwork, cordon: Cordon) -> shapely.Geometry:
    """The cordon in the working CRS: the parts of roads within R (network), or the circle.

    In network mode these are, for each direction computed, the stretches of every edge a
    traveller covers within R of the incident (to it for inbound, from it for outbound).
    """
    if cordon.mode == "euclidean":
        return _cordon_circle(cordon)
    x, y, line = _cordon_lines(network, cordon)
    if line.shape[0] == 0:
        return shapely.MultiLineString()
    lines = shapely.linestrings(np.column_stack([x, y]), indices=line)
    return cast(shapely.Geometry, shapely.multilinestrings(np.asarray(lines, dtype=object)))


def _circle_vertices(cordon: Cordon) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The circle's ring (working CRS): :data:`CIRCLE_SIDES` vertices counter-clockwise from
    due east, the first repeated at the end."""
    theta = np.arange(CIRCLE_SIDES + 1) * (2.0 * math.pi / CIRCLE_SIDES)
    theta[-1] = 0.0  # closed exactly
    r = cordon.radius_m
    return cordon.incident_x + r * np.cos(theta), cordon.incident_y + r * np.sin(theta)


def _cordon_circle(cordon: Cordon) -> shapely.Geometry:
    x, y = _circle_vertices(cordon)
    return shapely.Polygon(np.column_stack([x, y]))


def _cordon_lines(
    network: RoadNetwork, cordon: Cordon
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Vertices (x, y, line) of the network cordon's lines, zero-length lines left out."""
    parts = []
    for reach in cordon.reaches:
        pieces = cordon_pieces(
            *network.graph(reach.travel).records(toward=reach.toward), reach.nodes, reach.dist,
            network.seg_length, reach.snap.segment, reach.snap.offset_m, cordon.radius_m,
            reach.toward,
        )  # fmt: skip
        parts.append(pieces)
    seg, start, end = (np.concatenate(column) for column in zip(*parts, strict=True))
    x, y, line = network.substring_vertices(seg, start, end)
    return drop_empty_lines(x, y, line)


def _points(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.object_]:
    return np.asarray(shapely.points(x, y), dtype=object).reshape(-1)


class _Shapes:
    """GeoJSON geometries gathered in order as vertices, written in one pass (:meth:`write`)."""

    def __init__(self, crs: str) -> None:
        self.crs = crs
        self.kinds: list[int] = []
        self.xs: list[NDArray[np.float64]] = []
        self.ys: list[NDArray[np.float64]] = []
        self.parts: list[NDArray[np.int64]] = []  # per coordinate: its part, from 0 per block
        self.owners: list[NDArray[np.int64]] = []  # per part: its geometry, from 0 per block

    def _block(self, x: Any, y: Any, part: Any, owner: Any, kinds: list[int]) -> None:
        self.xs.append(np.asarray(x, dtype=np.float64))
        self.ys.append(np.asarray(y, dtype=np.float64))
        self.parts.append(np.asarray(part, dtype=np.int64))
        self.owners.append(np.asarray(owner, dtype=np.int64) + len(self.kinds))
        self.kinds += kinds

    def points(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> None:
        n = np.arange(np.shape(x)[0])
        self._block(x, y, n, n, [_POINT] * n.shape[0])

    def lines(self, x: Any, y: Any, part: Any, owner: NDArray[np.int64], n: int) -> None:
        """``n`` LineStrings or MultiLineStrings from vertices (see
        :meth:`geo.index.CoverageIndex.query_lines`)."""
        counts = np.bincount(owner, minlength=n)
        kinds = np.where(counts > 1, _MULTILINESTRING, _LINESTRING).tolist()
        self._block(x, y, part, owner, kinds)

    def polygon(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> None:
        """A Polygon of one ring, closed and counter-clockwise as given."""
        self._block(x, y, np.zeros(x.shape[0], dtype=np.int64), np.zeros(1, np.int64), [_POLYGON])

    def multilinestring(self, x: Any, y: Any, line: NDArray[np.int64]) -> None:
        n_lines = int(line[-1]) + 1 if line.shape[0] else 0
        self._block(x, y, line, np.zeros(n_lines, dtype=np.int64), [_MULTILINESTRING])

    def write(self, *, arrays: bool = False) -> list[dict[str, Any]]:
        """The geometries in lon/lat on the 1e-7° grid, in the order they were added.

        Every vertex is unprojected in one call and snapped to the grid in numpy; a point a
        line repeats once snapped is dropped (as GEOS's ``set_precision`` does; a line left
        with one point becomes empty), then the vertices are sliced per part. With ``arrays``
        the coordinates are numpy views (for orjson's ``OPT_SERIALIZE_NUMPY``, which writes the
        same numbers without a Python float apiece).
        """
        owner_counts = [o.shape[0] for o in self.owners]
        part_base = np.cumsum([0, *owner_counts])
        part_of = np.concatenate(
            [p + base for p, base in zip(self.parts, part_base[:-1], strict=True)]
        )
        owner = np.concatenate(self.owners)
        n_parts = int(np.sum(owner_counts))
        lon, lat = xy_to_lonlat(np.concatenate(self.xs), np.concatenate(self.ys), crs=self.crs)
        scale = 10.0**_DECIMALS
        lon, lat = np.rint(lon * scale) / scale, np.rint(lat * scale) / scale
        keep = np.ones(lon.shape[0], dtype=bool)
        keep[1:] = (part_of[1:] != part_of[:-1]) | (lon[1:] != lon[:-1]) | (lat[1:] != lat[:-1])
        grid = np.column_stack([lon[keep], lat[keep]])
        rows: Any = grid if arrays else grid.tolist()
        part_bounds = np.searchsorted(part_of[keep], np.arange(n_parts + 1)).tolist()
        first_part = np.searchsorted(owner, np.arange(len(self.kinds) + 1)).tolist()
        out: list[dict[str, Any]] = []
        for i, kind in enumerate(self.kinds):
            lines = [
                rows[part_bounds[q] : part_bounds[q + 1]]
                for q in range(first_part[i], first_part[i + 1])
            ]
            if kind == _POINT:
                out.append({"type": "Point", "coordinates": lines[0][0]})
            elif kind == _POLYGON:
                out.append({"type": "Polygon", "coordinates": lines})
            elif kind == _LINESTRING:
                line = lines[0]
                out.append({"type": "LineString", "coordinates": line if len(line) > 1 else []})
            else:
                coordinates = [line for line in lines if len(line) > 1]
                out.append({"type": "MultiLineString", "coordinates": coordinates})
        return out


def _clean(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return round(value, 2) if math.isfinite(value) else None
    return value


def _column(values: Any) -> list[Any]:
    """A property's values as plain Python: floats to 2 decimals (NaN, inf: None), like _clean."""
    values = np.asarray(values)
    if values.dtype.kind == "f":
        return [round(v, 2) if math.isfinite(v) else None for v in values.tolist()]
    if values.dtype.kind in "biuU":
        return cast(list[Any], values.tolist())
    plain = values.tolist()
    if all(type(v) is str or v is None for v in plain):
        return cast(list[Any], plain)
    return [_clean(v) for v in plain]


def answer_to_geojson(
    cordon: Cordon,
    watchers: Watchers | None = None,
    *,
    network: RoadNetwork,
    arrays: bool = False,
) -> dict[str, Any]:
    """The answer as an RFC 7946 FeatureCollection (a JSON-ready dict); see the module doc.

    With ``arrays``, coordinates of points and lines are numpy arrays: encode the dict with
    ``orjson.dumps(..., option=orjson.OPT_SERIALIZE_NUMPY)`` (the same JSON, faster)."""
    a = cordon.approaches
    k = len(a)
    online_watchers = np.zeros(k, dtype=np.int64)
    if watchers is not None and len(watchers):
        np.add.at(online_watchers, watchers.approach[watchers.online], 1)
    shapes = _Shapes(cordon.crs)
    shapes.points(np.array([cordon.incident_x]), np.array([cordon.incident_y]))
    if cordon.mode == "euclidean":
        shapes.polygon(*_circle_vertices(cordon))
    else:
        shapes.multilinestring(*_cordon_lines(network, cordon))
    shapes.points(a.x, a.y)
    shapes.lines(a.stretch_x, a.stretch_y, a.stretch_part, a.stretch_owner, k)
    if watchers is not None:
        shapes.points(watchers.x, watchers.y)
    geometry = shapes.write(arrays=arrays)
    n_watchers = 0 if watchers is None else len(watchers)
    areas = locate_admin_units(
        np.concatenate([[cordon.incident_x], a.x, [] if watchers is None else watchers.x]),
        np.concatenate([[cordon.incident_y], a.y, [] if watchers is None else watchers.y]),
        crs=cordon.crs,
    ).columns()
    snapped = cordon.snap.segment
    features: list[dict[str, Any]] = [
        {
            "role": "incident",
            "radius_m": cordon.radius_m,
            "mode": cordon.mode,
            "direction": cordon.direction,
            "travel": cordon.travel,
            "minutes": cordon.options.minutes,
            "speed_kmh": cordon.options.speed_kmh,
            "incomplete": cordon.incomplete,
            "level": None if watchers is None else watchers.requested_level,
            "snapped_road": network.seg_name[snapped],
            "snap_distance_m": cordon.snap.distance_m,
            **{name: values[0] for name, values in areas.items()},
        },
        {"role": "cordon", "radius_m": cordon.radius_m, "incomplete": cordon.incomplete},
    ]
    features = [{key: _clean(value) for key, value in props.items()} for props in features]
    approach_ids = [approach_label(j) for j in range(k)]
    features += _rows(
        role="approach",
        id=approach_ids,
        direction=a.direction,
        name=a.name,
        highway=a.highway,
        ref=a.ref,
        osm_way_id=a.osm_way_id,
        main=a.main,
        bearing_deg=a.bearing_deg,
        blind=[None] * k if watchers is None else watchers.blind,
        online_cameras=[None] * k if watchers is None else online_watchers,
        **{name: values[1 : k + 1] for name, values in areas.items()},
    )
    features += _rows(role="watch_stretch", approach=approach_ids)
    if watchers is not None:
        features += _rows(
            role="camera",
            camera_id=watchers.camera_id,
            approach=[approach_ids[j] for j in watchers.approach.tolist()],
            rank=watchers.rank,
            kind=watchers.kind,
            dori_level=watchers.level,
            px_per_m=watchers.px_per_m,
            facing=watchers.facing,
            distance_m=watchers.distance_m,
            online=watchers.online,
            status=watchers.status,
            status_since=watchers.status_since,
            confidence=watchers.confidence,
            **{name: values[k + 1 : k + 1 + n_watchers] for name, values in areas.items()},
        )
    return {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": geom, "properties": props}
            for geom, props in zip(geometry, features, strict=True)
        ],
    }


def _rows(*, role: str, **columns: Any) -> list[dict[str, Any]]:
    """One properties dict per row of ``columns`` (arrays or lists), each starting with ``role``."""
    names = ["role", *columns]
    cleaned = [_column(values) for values in columns.values()]
    n = len(cleaned[0])
    return [dict(zip(names, row, strict=True)) for row in zip([role] * n, *cleaned, strict=True)]


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(_width(row[c]) for row in rows) for c in range(len(rows[0]))]
    return ["  ".join(_pad(cell, w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows]  # fmt: skip


def format_answer_table(
    cordon: Cordon, watchers: Watchers | None = None, *, network: RoadNetwork
) -> str:
    """A readable summary: the cordon, one line per approach, then its ranked cameras."""
    a = cordon.approaches
    lon, lat = xy_to_lonlat(a.x, a.y, crs=cordon.crs)
    size = cordon.options.describe()
    level = "" if watchers is None else f", cameras at DORI level {watchers.requested_level}"
    lines = [
        f"Incident {cordon.incident_lon:.6f}, {cordon.incident_lat:.6f}: {cordon.mode} cordon "
        f"{size} ({cordon.travel}, {cordon.direction}){level}",
        f"Snapped to {network.seg_name[cordon.snap.segment] or 'an unnamed road'} "
        f"({network.seg_highway[cordon.snap.segment]}), {cordon.snap.distance_m:.0f} m away",
    ]
    if cordon.incomplete:
        lines.append(
            "INCOMPLETE: the cordon reaches the edge of the loaded road data; approaches beyond "
            "it are unknown, not absent"
        )
    n_blind = int(watchers.blind.sum()) if watchers is not None else 0
    summary = f"{len(a)} approaches/exits, {int(a.main.sum())} main"
    lines.append(summary + (f", {n_blind} blind" if watchers is not None else ""))
    if len(a) == 0:
        return "\n".join(lines)
    rows = [["id", "dir", "road", "class", "main", "bearing", "lon", "lat", "cameras", "best"]]
    for j in range(len(a)):
        best = ""
        count = ""
        if watchers is not None:
            mine = np.flatnonzero(watchers.approach == j)
            count = str(int(watchers.online[mine].sum()))
            if watchers.blind[j]:
                best = "BLIND"
            if mine.shape[0]:
                top = mine[np.argmin(watchers.rank[mine])]
                best = (best + " " if best else "") + (
                    f"{watchers.camera_id[top]} {watchers.level[top]}"
                    + (" facing" if watchers.facing[top] else "")
                    + ("" if watchers.online[top] else " offline")
                )
        rows.append(
            [
                approach_label(j),
                "in" if a.direction[j] == "inbound" else "out",
                a.name[j] or a.ref[j] or f"way {a.osm_way_id[j]}",
                a.highway[j],
                "yes" if a.main[j] else "",
                f"{a.bearing_deg[j]:.0f}°",
                f"{lon[j]:.6f}",
                f"{lat[j]:.6f}",
                count,
                best,
            ]
        )
    lines += ["", *_table(rows)]
    if watchers is not None and len(watchers):
        rows = [["approach", "rank", "camera", "kind", "level", "px/m", "facing", "dist", "status"]]
        for i in range(len(watchers)):
            rows.append(
                [
                    approach_label(int(watchers.approach[i])),
                    str(watchers.rank[i]),
                    str(watchers.camera_id[i]),
                    str(watchers.kind[i]),
                    str(watchers.level[i]),
                    f"{watchers.px_per_m[i]:.0f}" if np.isfinite(watchers.px_per_m[i]) else "inf",
                    "yes" if watchers.facing[i] else "",
                    f"{watchers.distance_m[i]:.0f} m",
                    ("online" if watchers.online[i] else str(watchers.status[i]).upper())
                    + (" low-confidence" if watchers.confidence[i] == "low" else ""),
                ]
            )
        lines += ["", *_table(rows)]
    return "\n".join(lines)
