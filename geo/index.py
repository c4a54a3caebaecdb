"""An R-tree over camera coverage, built once from plain columns, answering "whose coverage meets
this geometry" fast.

The index holds each camera's parameters as numpy arrays and a shapely ``STRtree`` over the
exact bounding box of its coverage at the default level (``observe``): a stronger level's
coverage is the same shape nested inside it, and a query at the weaker ``detect`` level grows
its query box by the largest difference of radius. A query takes the tree's candidates, drops
those whose box at the requested level misses the geometry's box, measures each camera's
distance to the geometry in numpy, and builds coverage polygons only for the few pairs that
distance cannot decide. Coverage at any DORI level is thus computed on
demand from the stored parameters, with the same function (:func:`camera_coverage`) that the
PostGIS loader uses, so both paths give the same polygons.

It builds from a PostGIS query result, a GeoPackage layer or a camera reader's table alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike, NDArray

from geo.coverage import (
    ARC_STEP_DEG,
    ARC_TOLERANCE_M,
    DEFAULT_MAX_RANGE_M,
    DORI_LEVELS,
    MIN_ARC_STEP_DEG,
    coverage_confidence,
    coverage_spans,
    dori_range_m,
    fill_camera_defaults,
    lens_width_factor,
    level_px_per_m,
    sector_polygons,
)
from geo.crs import DEFAULT_WORKING_CRS, lonlat_to_xy, north_azimuth_deg, xy_to_lonlat
from geo.domain import DEFAULT_DORI_LEVEL
from geo.errors import InvalidInput
from geo.kernels.arrays import floats, ints
from geo.kernels.grid import Grid, build_grid, grid_query_boxes
from geo.kernels.lines import line_bounds
from geo.kernels.watch import CameraColumns, CameraDisks, LineVertices, watch_pairs
from geo.network import lines_from_vertices

#: Camera statuses left out of the index altogether: the camera no longer exists.
EXCLUDED_STATUSES = frozenset({"retired"})


@dataclass(frozen=True)
class CameraCoverage:
    """Coverage of cameras at one DORI level (working CRS, metres).

    ``grid_heading_deg``, ``grid_pan_min_deg`` and ``grid_pan_max_deg`` are the compass values
    turned to grid azimuths; ``pixels_h`` and ``fov_deg`` have the kind defaults filled in.
    """

    x: NDArray[np.float64]
    y: NDArray[np.float64]
    grid_heading_deg: NDArray[np.float64]
    grid_pan_min_deg: NDArray[np.float64]
    grid_pan_max_deg: NDArray[np.float64]
    pixels_h: NDArray[np.float64]
    fov_deg: NDArray[np.float64]
    range_m: NDArray[np.float64]
    polygons: NDArray[np.object_]
    confidence: NDArray[np.str_]


def camera_coverage(
    lon: ArrayLike,
    lat: ArrayLike,
    *,
    kind: ArrayLike,
    heading_deg: ArrayLike,
    fov_deg: ArrayLike,
    resolution_px_h: ArrayLike,
    pan_min_deg: ArrayLike | None = None,
    pan_max_deg: ArrayLike | None = None,
    heading_source: ArrayLike | None = None,
    level: str = "observe",
    max_range_m: float = DEFAULT_MAX_RANGE_M,
    crs: str = DEFAULT_WORKING_CRS,
) -> CameraCoverage:
    """Coverage polygons of cameras described as in the registry (lon/lat, compass headings).

    Parameters
    ----------
    lon, lat
        Positions, degrees (EPSG:4326).
    kind
        ``"fixed"``, ``"ptz"`` or ``"dome"``.
    heading_deg, pan_min_deg, pan_max_deg
        Degrees clockwise from true north, NaN where unknown.
    fov_deg, resolution_px_h
        Horizontal field of view (degrees) and pixels; NaN/NA take the kind's defaults.
    heading_source
        ``"surveyed"``, ``"osm_tag"``, ``"inferred"``, ``"unknown"``.
    level
        DORI level of the radius.
    max_range_m
        Cap on the radius, metres.

    Examples
    --------
    >>> cov = camera_coverage([126.9769], [37.5759], kind=["fixed"], heading_deg=[90.0],
    ...                       fov_deg=[60.0], resolution_px_h=[1920])
    >>> round(float(cov.range_m[0]), 1), cov.confidence.tolist()
    (26.6, ['high'])
    """
    lon = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    lat = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    x, y = lonlat_to_xy(lon, lat, crs=crs)
    north = north_azimuth_deg(lon, lat, crs=crs)
    return _coverage_at(
        x, y, north, kind=kind, heading_deg=heading_deg, fov_deg=fov_deg,
        resolution_px_h=resolution_px_h, pan_min_deg=pan_min_deg, pan_max_deg=pan_max_deg,
        heading_source=heading_source, level=level, max_range_m=max_range_m,
    )  # fmt: skip


def _float(values: ArrayLike | None, n: int) -> NDArray[np.float64]:
    if values is None:
        return np.full(n, np.nan)
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        pass
    series = pd.to_numeric(pd.Series(np.asarray(values, dtype=object)), errors="coerce")
    return np.asarray(series.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)


def _coverage_at(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    north: NDArray[np.float64],
    *,
    kind: ArrayLike,
    heading_deg: ArrayLike,
    fov_deg: ArrayLike,
    resolution_px_h: ArrayLike,
    pan_min_deg: ArrayLike | None,
    pan_max_deg: ArrayLike | None,
    heading_source: ArrayLike | None,
    level: str,
    max_range_m: float,
) -> CameraCoverage:
    from geo.coverage import coverage_polygons

    kinds = np.asarray(kind, dtype=object)
    n = kinds.shape[0]
    pixels, fov = fill_camera_defaults(kinds, _float(resolution_px_h, n), _float(fov_deg, n))
    grid_heading = np.mod(_float(heading_deg, n) + north, 360.0)
    pan_min = np.mod(_float(pan_min_deg, n) + north, 360.0)
    pan_max = np.mod(_float(pan_max_deg, n) + north, 360.0)
    radius = dori_range_m(pixels, fov, level=level, max_range_m=max_range_m)
    polygons, confidence = coverage_polygons(
        x, y, grid_heading, fov, radius, kind=kinds, pan_min_deg=pan_min, pan_max_deg=pan_max,
        heading_source=heading_source,
    )  # fmt: skip
    return CameraCoverage(
        x, y, grid_heading, pan_min, pan_max, pixels, fov, radius, polygons, confidence
    )


def sector_bounds(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    start_deg: NDArray[np.float64],
    span_deg: NDArray[np.float64],
    radius_m: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Bounding boxes (minx, miny, maxx, maxy) of circular sectors, exact, vectorised.

    A sector's box holds its centre, its two arc ends and every compass point of the arc
    (north, east, south, west) that lies within its span.

    Examples
    --------
    >>> sector_bounds(np.array([0.0]), np.array([0.0]), np.array([45.0]), np.array([90.0]),
    ...               np.array([10.0])).round(2).tolist()
    [[0.0, -7.07, 10.0, 7.07]]
    """
    angles = [start_deg, start_deg + span_deg]
    inside = [np.ones_like(start_deg, dtype=bool)] * 2
    for compass in (0.0, 90.0, 180.0, 270.0):
        angles.append(np.full_like(start_deg, compass))
        inside.append(np.mod(compass - start_deg, 360.0) <= span_deg)
    theta = np.radians(np.stack(angles))
    px = np.where(np.stack(inside), x + radius_m * np.sin(theta), x)
    py = np.where(np.stack(inside), y + radius_m * np.cos(theta), y)
    return np.column_stack(
        [np.minimum(px.min(0), x), np.minimum(py.min(0), y),
         np.maximum(px.max(0), x), np.maximum(py.max(0), y)]
    )  # fmt: skip


@dataclass(frozen=True, eq=False)
class CoverageIndex:
    """Cameras and an R-tree over their coverage (see the module's docstring).

    Rows are cameras; ``camera_id`` holds their ids. Angles named ``grid_*`` are grid azimuths
    of the working CRS; ``heading_deg``/``pan_*_deg`` keep the compass values (NaN unknown).
    """

    crs: str
    max_range_m: float
    camera_id: NDArray[Any]
    x: NDArray[np.float64]
    y: NDArray[np.float64]
    kind: NDArray[np.object_]
    heading_deg: NDArray[np.float64]
    pan_min_deg: NDArray[np.float64]
    pan_max_deg: NDArray[np.float64]
    heading_source: NDArray[np.object_]
    pixels_h: NDArray[np.float64]
    fov_deg: NDArray[np.float64]
    grid_start_deg: NDArray[np.float64]
    grid_span_deg: NDArray[np.float64]
    confidence: NDArray[np.str_]
    online: NDArray[np.bool_]
    fixed: NDArray[np.bool_]
    lens_factor: NDArray[np.float64]
    id_rank: NDArray[np.int64]
    grid: Grid
    grow_m: tuple[float, ...]
    range_by_level: tuple[NDArray[np.float64], ...]

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @cached_property
    def camera_disks(self) -> tuple[CameraDisks, ...]:
        """Per DORI level (weakest first), every camera's position, coverage radius and span,
        as the compiled loops take them."""
        span = self.grid_span_deg
        return tuple(CameraDisks(self.x, self.y, radius, span) for radius in self.range_by_level)

    @cached_property
    def camera_columns(self) -> CameraColumns:
        """What ranking the watchers reads of every camera, as the compiled loop takes it."""
        return CameraColumns(
            self.pixels_h, self.lens_factor, self.fixed, self.heading_deg, self.pan_min_deg,
            self.pan_max_deg, self.online, self.id_rank, self.x, self.y,
        )  # fmt: skip

    def range_m(self, cameras: ArrayLike, *, level: str) -> NDArray[np.float64]:
        """Coverage radius (metres) of camera rows at DORI ``level``."""
        cams = np.asarray(cameras, dtype=np.int64)
        level_px_per_m(level)  # refuses an unknown level
        return self.range_by_level[DORI_LEVELS.index(level)][cams]

    def coverage(self, cameras: ArrayLike, *, level: str) -> NDArray[np.object_]:
        """Coverage polygons (working CRS) of camera rows at DORI ``level``."""
        cams = np.asarray(cameras, dtype=np.int64)
        return sector_polygons(
            self.x[cams], self.y[cams], self.grid_start_deg[cams], self.grid_span_deg[cams],
            self.range_m(cams, level=level),
        )  # fmt: skip

    def query(
        self, geometries: ArrayLike, *, level: str = "observe"
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
        """Pairs (geometry position, camera row) whose coverage at ``level`` intersects.

        Geometries are lines in the working CRS. Also returns, per pair, the distance in
        metres from the camera to the nearest point of the geometry inside its coverage (where
        the pixel density on it is highest). Pairs come sorted by geometry, then camera row.
        See :meth:`query_lines`, which takes the lines as vertices.
        """
        level_px_per_m(level)  # refuses an unknown level
        geoms = np.atleast_1d(np.asarray(geometries, dtype=object))
        parts, owner = shapely.get_parts(geoms, return_index=True)
        coords, part_of = shapely.get_coordinates(parts, return_index=True)
        return self.query_lines(
            coords[:, 0], coords[:, 1], part_of, owner, geoms.shape[0], level=level, geoms=geoms
        )

    def query_lines(
        self,
        x: ArrayLike,
        y: ArrayLike,
        part: ArrayLike,
        owner: ArrayLike,
        n: int,
        *,
        level: str = "observe",
        geoms: NDArray[np.object_] | None = None,
        bounds: NDArray[np.float64] | None = None,
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
        """:meth:`query` for ``n`` lines given as vertices: ``part`` numbers each vertex's
        line part, ``owner`` each part's line (both ascending, every line with a vertex).
        ``bounds``, the lines' bounding boxes (n, 4) when the caller has them, saves
        computing them.

        The answer is the one of ``shapely.intersects`` on the coverage polygons; polygons are
        only built where the distance alone cannot decide (a disk's polygon holds every point
        within ``r·cos(step/2)`` of its centre and none beyond ``r``). ``geoms``, the lines as
        shapely geometries when the caller has them, saves rebuilding the few those need.
        """
        level_px_per_m(level)  # refuses an unknown level
        strength = DORI_LEVELS.index(level)
        empty = np.empty(0, dtype=np.int64)
        if n == 0 or len(self) == 0:
            return empty, empty, np.empty(0)
        x, y = floats(x), floats(y)
        part, owner = ints(part), ints(owner)
        # the tree's boxes (default level) hold the coverage at this level and stronger ones;
        # a weaker level's reach is longer by ``grow`` at most
        grow = self.grow_m[strength]
        if bounds is None:
            b, line = line_bounds(x, y, part, owner, n)
        else:
            b, line = bounds, np.arange(n)
        local, pair_cam = grid_query_boxes(
            *self.grid, floats(b[:, 0] - grow), floats(b[:, 1] - grow),
            floats(b[:, 2] + grow), floats(b[:, 3] + grow),
        )  # fmt: skip
        pair_geom = line[local]
        if grow != 0.0:
            boxes = sector_bounds(
                self.x[pair_cam], self.y[pair_cam], self.grid_start_deg[pair_cam],
                self.grid_span_deg[pair_cam], self.range_m(pair_cam, level=level),
            )  # fmt: skip
            gb = b[local]
            meets = (
                (boxes[:, 0] <= gb[:, 2]) & (boxes[:, 2] >= gb[:, 0])
                & (boxes[:, 1] <= gb[:, 3]) & (boxes[:, 3] >= gb[:, 1])
            )  # fmt: skip
            pair_geom, pair_cam = pair_geom[meets], pair_cam[meets]
        return self.decide_pairs(
            x, y, part, owner, n, ints(pair_geom), ints(pair_cam), level=level, geoms=geoms
        )

    def decide_pairs(
        self,
        x: NDArray[np.float64],
        y: NDArray[np.float64],
        part: NDArray[np.int64],
        owner: NDArray[np.int64],
        n: int,
        pair_geom: NDArray[np.int64],
        pair_cam: NDArray[np.int64],
        *,
        level: str,
        geoms: NDArray[np.object_] | None = None,
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
        """Of candidate pairs (line, camera row), those whose coverage at ``level`` meets the
        line, with the distance of :meth:`query` (the second half of :meth:`query_lines`, for
        candidates found by another tree: :class:`geo.live_index.LiveCoverageIndex`)."""
        strength = DORI_LEVELS.index(level)
        radius_all = self.range_by_level[strength]
        pair_geom, pair_cam, near, unsure, n_unsure = watch_pairs(
            *self.camera_disks[strength],
            *LineVertices(x, y, part, owner, n), pair_geom, pair_cam,
            ARC_TOLERANCE_M, MIN_ARC_STEP_DEG, ARC_STEP_DEG,
        )  # fmt: skip
        if n_unsure == 0:
            return pair_geom, pair_cam, near
        # only the polygon can tell for these: build it (and the lines) and ask GEOS
        if geoms is None:
            geoms = lines_from_vertices(x, y, part, owner, n)
        cams = pair_cam[unsure]
        polygons = sector_polygons(
            self.x[cams], self.y[cams], self.grid_start_deg[cams], self.grid_span_deg[cams],
            radius_all[cams],
        )  # fmt: skip
        lines = geoms[pair_geom[unsure]]
        touched = shapely.intersects(polygons, lines)
        hit = np.ones(pair_geom.shape[0], dtype=bool)
        hit[unsure] = touched
        watched = shapely.intersection(polygons[touched], lines[touched])
        near_unsure = near[unsure]
        near_unsure[touched] = shapely.distance(
            shapely.points(self.x[cams[touched]], self.y[cams[touched]]), watched
        )
        near[unsure] = near_unsure
        return pair_geom[hit], pair_cam[hit], near[hit]

    def camera_state(
        self, cameras: NDArray[np.int64]
    ) -> tuple[NDArray[np.object_], NDArray[np.object_]]:
        """Status (``online``/``offline``) and since when (unknown here: None) of camera rows;
        :class:`geo.live_index.LiveCoverageIndex` knows more."""
        status = np.where(self.online[cameras], "online", "offline").astype(object)
        return status, np.full(cameras.shape[0], None, dtype=object)

    def watch_rows(
        self,
        x: ArrayLike,
        y: ArrayLike,
        part: ArrayLike,
        owner: ArrayLike,
        n: int,
        *,
        level: str,
        bounds: NDArray[np.float64] | None = None,
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], CoverageIndex]:
        """:meth:`query_lines`, with the index whose rows the camera numbers refer to (this
        one; a live index answers with a small index of the cameras it found)."""
        pair_geom, cams, near = self.query_lines(x, y, part, owner, n, level=level, bounds=bounds)
        return pair_geom, cams, near, self


#: The per-camera columns of a :class:`CoverageIndex` (``range_by_level`` and ``id_rank``
#: aside), what :func:`index_rows` takes and :func:`index_from_rows` puts together.
CAMERA_FIELDS = (
    "camera_id", "x", "y", "kind", "heading_deg", "pan_min_deg", "pan_max_deg",
    "heading_source", "pixels_h", "fov_deg", "grid_start_deg", "grid_span_deg", "confidence",
    "online", "fixed", "lens_factor",
)  # fmt: skip


def index_rows(index: CoverageIndex, rows: NDArray[np.int64]) -> dict[str, NDArray[Any]]:
    """The per-camera columns of ``rows`` (``range_<level>`` for each DORI level)."""
    out = {name: getattr(index, name)[rows] for name in CAMERA_FIELDS}
    for level, ranges in zip(DORI_LEVELS, index.range_by_level, strict=True):
        out[f"range_{level}"] = ranges[rows]
    return out


def index_from_rows(
    columns: dict[str, NDArray[Any]], *, crs: str, max_range_m: float
) -> CoverageIndex:
    """A :class:`CoverageIndex` of the cameras in ``columns`` (as :func:`index_rows` gives
    them), with no tree: for ranking and :meth:`CoverageIndex.decide_pairs` only. Ties rank by
    the ids' order, as in the index they came from."""
    n = int(np.asarray(columns["x"]).shape[0])
    return CoverageIndex(
        crs=crs,
        max_range_m=max_range_m,
        **{name: columns[name] for name in CAMERA_FIELDS},
        id_rank=_id_rank(columns["camera_id"]),
        grid=build_grid(np.empty((0, 4), dtype=np.float64)),
        grow_m=(0.0,) * len(DORI_LEVELS),
        range_by_level=tuple(
            np.asarray(columns[f"range_{lv}"], dtype=np.float64).reshape(n) for lv in DORI_LEVELS
        ),
    )


def _id_rank(camera_id: Any) -> NDArray[np.int64]:
    """Each camera's position in the order of the ids (ranking ties break on it)."""
    ids = np.asarray(camera_id)
    order = np.argsort(ids, kind="stable")
    rank = np.empty(ids.shape[0], dtype=np.int64)
    rank[order] = np.arange(ids.shape[0])
    return rank


def _column(cameras: Any, names: tuple[str, ...], n: int, default: Any) -> NDArray[Any]:
    for name in names:
        if name in cameras:
            return np.asarray(cameras[name])
    return np.full(n, default, dtype=object)


def build_coverage_index(
    cameras: Any,
    *,
    max_range_m: float = DEFAULT_MAX_RANGE_M,
    crs: str = DEFAULT_WORKING_CRS,
) -> CoverageIndex:
    """Build the coverage index from a camera table, once.

    Parameters
    ----------
    cameras
        A (Geo)DataFrame or mapping of columns, one row per camera: ``id`` (or ``camera_id``,
        else ``source_key``, else the row number); position as ``lon``/``lat`` degrees, or
        ``x``/``y`` metres in ``crs``, or a point ``geometry`` (lon/lat unless the
        GeoDataFrame says otherwise);
        ``kind``; and, where known, ``heading_deg``, ``heading_source``, ``fov_deg``,
        ``pan_min_deg``, ``pan_max_deg``, ``resolution_px_h``, ``status`` (``"online"``,
        ``"offline"``; ``"retired"`` cameras are left out; missing means online).
    max_range_m
        Cap on every coverage radius, metres (``Settings.max_coverage_range_m``).
    crs
        Working CRS (metres).

    Examples
    --------
    >>> index = build_coverage_index(
    ...     {"id": [7], "lon": [126.9769], "lat": [37.5759], "kind": ["ptz"]})
    >>> len(index), index.online.tolist()
    (1, [True])
    """
    if "kind" not in cameras:
        raise InvalidInput("cameras need a 'kind' column (fixed, ptz or dome)")
    kind_all = np.asarray(cameras["kind"], dtype=object)
    n_all = kind_all.shape[0]
    status_all = _column(cameras, ("status",), n_all, "online")
    keep = ~np.isin(status_all.astype(str), list(EXCLUDED_STATUSES))

    def col(names: tuple[str, ...], default: Any = np.nan) -> NDArray[Any]:
        return _column(cameras, names, n_all, default)[keep]

    if "lon" in cameras and "lat" in cameras:
        lon, lat = _float(col(("lon",)), int(keep.sum())), _float(col(("lat",)), int(keep.sum()))
        x, y = lonlat_to_xy(lon, lat, crs=crs)
    elif "x" in cameras and "y" in cameras:
        x, y = _float(col(("x",)), int(keep.sum())), _float(col(("y",)), int(keep.sum()))
        lon, lat = xy_to_lonlat(x, y, crs=crs)
    elif "geometry" in cameras:
        from geo.crs import transform_geometry

        source = getattr(cameras, "crs", None) or "EPSG:4326"
        points = transform_geometry(col(("geometry",), None), source=source, target=crs)
        x, y = shapely.get_x(points), shapely.get_y(points)
        lon, lat = xy_to_lonlat(x, y, crs=crs)
    else:
        raise InvalidInput("cameras need lon/lat, x/y or a point geometry")
    n = x.shape[0]
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise InvalidInput("every camera needs a finite position")
    ids = col(("id", "camera_id", "source_key"), None)
    camera_id = np.flatnonzero(keep) if ids[0:1].tolist() == [None] else ids
    kind = kind_all[keep]
    heading = _float(col(("heading_deg",)), n)
    pan_min = _float(col(("pan_min_deg",)), n)
    pan_max = _float(col(("pan_max_deg",)), n)
    source = col(("heading_source",), None)
    source = np.where(pd.isna(source), np.where(np.isnan(heading), "unknown", "surveyed"), source)
    # parameters only: polygons are built per query, for the few candidates
    north = north_azimuth_deg(lon, lat, crs=crs)
    pixels, fov = fill_camera_defaults(kind, _float(col(("resolution_px_h",)), n),
                                       _float(col(("fov_deg",)), n))  # fmt: skip
    grid_pan_min = np.mod(pan_min + north, 360.0)
    grid_pan_max = np.mod(pan_max + north, 360.0)
    start, span, heading_known = coverage_spans(
        np.mod(heading + north, 360.0), fov, kind=kind,
        pan_min_deg=grid_pan_min, pan_max_deg=grid_pan_max,
    )  # fmt: skip
    del north, grid_pan_min, grid_pan_max
    # the tree holds boxes at the default level; weaker levels grow the query box instead
    ranges = {lv: dori_range_m(pixels, fov, level=lv, max_range_m=max_range_m)
              for lv in DORI_LEVELS}  # fmt: skip
    tree_level = DORI_LEVELS.index(DEFAULT_DORI_LEVEL)
    grow = tuple(
        float(np.max(ranges[lv] - ranges[DEFAULT_DORI_LEVEL], initial=0.0))
        if i < tree_level
        else 0.0
        for i, lv in enumerate(DORI_LEVELS)
    )
    boxes = sector_bounds(x, y, start, span, ranges[DEFAULT_DORI_LEVEL])
    status = col(("status",), "online")
    return CoverageIndex(
        crs=crs,
        max_range_m=float(max_range_m),
        camera_id=np.asarray(camera_id),
        x=x,
        y=y,
        kind=kind,
        heading_deg=heading,
        pan_min_deg=pan_min,
        pan_max_deg=pan_max,
        heading_source=np.asarray(source, dtype=object),
        pixels_h=pixels,
        fov_deg=fov,
        grid_start_deg=start,
        grid_span_deg=span,
        confidence=coverage_confidence(heading_known, kind=kind, heading_source=source),
        online=np.asarray(pd.isna(status) | (status == "online"), dtype=bool),
        fixed=np.asarray(kind == "fixed", dtype=bool),
        lens_factor=lens_width_factor(fov),
        id_rank=_id_rank(camera_id),
        grid=build_grid(boxes),
        grow_m=grow,
        range_by_level=tuple(ranges[lv] for lv in DORI_LEVELS),
    )
