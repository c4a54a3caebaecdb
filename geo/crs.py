"""Transforms between lon/lat (EPSG:4326) and the working CRS (metres), vectorised.

Every distance in gilmok is measured in the working CRS (EPSG:5179, UTM-K, unless the settings
say otherwise); lon/lat is used only at the boundary with the outside world. Transformers are
built once per thread and CRS pair: pyproj transformers must not be shared between threads.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from pyproj import CRS, Transformer

LONLAT_CRS = "EPSG:4326"
#: The working CRS: Korea 2000 / UTM-K, metres (``GILMOK_WORKING_CRS`` may only repeat it: the
#: schema stores SRID 5179).
DEFAULT_WORKING_CRS = "EPSG:5179"
#: South Korea's mainland and islands (Dokdo and Marado included), lon/lat degrees: camera rows
#: outside are rejected (``GILMOK_COUNTRY_BOUNDS`` overrides it).
DEFAULT_COUNTRY_BOUNDS = (124.5, 33.0, 132.0, 38.7)

_local = threading.local()


def get_transformer(source: str, target: str) -> Transformer:
    """The cached, always-x-first transformer from ``source`` to ``target`` for this thread."""
    cache: dict[tuple[str, str], Transformer] | None = getattr(_local, "cache", None)
    if cache is None:
        cache = _local.cache = {}
    key = (source, target)
    transformer = cache.get(key)
    if transformer is None:
        transformer = cache[key] = Transformer.from_crs(source, target, always_xy=True)
    return transformer


def lonlat_to_xy(
    lon: ArrayLike, lat: ArrayLike, *, crs: str = DEFAULT_WORKING_CRS
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Project lon/lat degrees (EPSG:4326) to x/y metres in the working CRS.

    Examples
    --------
    >>> x, y = lonlat_to_xy([126.9769], [37.5759])
    >>> round(float(x[0])), round(float(y[0]))
    (953810, 1953076)
    """
    x, y = get_transformer(LONLAT_CRS, crs).transform(
        np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    )
    return np.atleast_1d(np.asarray(x, dtype=np.float64)), np.atleast_1d(
        np.asarray(y, dtype=np.float64)
    )


def xy_to_lonlat(
    x: ArrayLike, y: ArrayLike, *, crs: str = DEFAULT_WORKING_CRS
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Unproject x/y metres in the working CRS to lon/lat degrees (EPSG:4326).

    Examples
    --------
    >>> lon, lat = xy_to_lonlat(*lonlat_to_xy([126.9769], [37.5759]))
    >>> round(float(lon[0]), 6), round(float(lat[0]), 6)
    (126.9769, 37.5759)
    """
    lon, lat = get_transformer(crs, LONLAT_CRS).transform(
        np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    )
    return np.atleast_1d(np.asarray(lon, dtype=np.float64)), np.atleast_1d(
        np.asarray(lat, dtype=np.float64)
    )


def transform_geometry(geoms: ArrayLike, *, source: Any, target: Any) -> NDArray[np.object_]:
    """Transform shapely geometries between two CRSs (anything pyproj accepts), vertex by vertex.

    Geometries are returned unchanged when the two CRSs are the same.
    """
    source_crs, target_crs = CRS.from_user_input(source), CRS.from_user_input(target)
    if source_crs == target_crs:
        return np.asarray(geoms, dtype=object)
    return _transform(geoms, source_crs.to_string(), target_crs.to_string())


def _transform(geoms: ArrayLike, source: str, target: str) -> NDArray[np.object_]:
    transformer = get_transformer(source, target)

    def apply(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return np.asarray(shapely.transform(np.asarray(geoms, dtype=object), apply), dtype=object)


def geometry_to_xy(geoms: ArrayLike, *, crs: str = DEFAULT_WORKING_CRS) -> NDArray[np.object_]:
    """Project shapely geometries from lon/lat (EPSG:4326) to the working CRS, vertex by vertex.

    Examples
    --------
    >>> line = shapely.LineString([(126.97, 37.57), (126.98, 37.57)])
    >>> round(float(shapely.length(geometry_to_xy([line])[0])))
    883
    """
    return _transform(geoms, LONLAT_CRS, crs)


def geometry_to_lonlat(geoms: ArrayLike, *, crs: str = DEFAULT_WORKING_CRS) -> NDArray[np.object_]:
    """Unproject shapely geometries from the working CRS to lon/lat (EPSG:4326)."""
    return _transform(geoms, crs, LONLAT_CRS)


def north_azimuth_deg(
    lon: ArrayLike, lat: ArrayLike, *, crs: str = DEFAULT_WORKING_CRS
) -> NDArray[np.float64]:
    """Grid azimuth of true north at each point, degrees clockwise from the grid's north.

    A compass bearing ``b`` (degrees clockwise from true north) points along the grid azimuth
    ``b + north_azimuth_deg(...)``. In UTM-K the value is below 2° in magnitude across Korea.

    Examples
    --------
    >>> round(float(north_azimuth_deg([127.5], [37.5])[0]), 3)  # on the central meridian
    0.0
    >>> bool(north_azimuth_deg([126.5], [37.5])[0] > 0)  # west of it, true north leans east
    True
    """
    lon = np.atleast_1d(np.asarray(lon, dtype=np.float64))
    lat = np.atleast_1d(np.asarray(lat, dtype=np.float64))
    step = 1e-4  # degrees of latitude, about 11 m
    x0, y0 = lonlat_to_xy(lon, lat, crs=crs)
    x1, y1 = lonlat_to_xy(lon, lat + step, crs=crs)
    return np.asarray(np.degrees(np.arctan2(x1 - x0, y1 - y0)), dtype=np.float64)


def projected_box(
    bbox: tuple[float, float, float, float],
    *,
    crs: str = DEFAULT_WORKING_CRS,
    step_deg: float = 0.01,
) -> tuple[shapely.Polygon, tuple[float, float, float, float] | None]:
    """A lon/lat box (min lon, min lat, max lon, max lat, degrees) in the working CRS: its
    outline, and the largest axis-aligned rectangle (x0, y0, x1, y1, metres) inside it.

    The edges are densified every ``step_deg`` degrees before projection, so the outline follows
    the box's meridians and parallels, which project to curves (at 0.01° the chords stray from
    them by far less than a millimetre). Whatever lies in the inner rectangle lies in the box:
    a search tests it with a cheap bounding-box comparison and keeps the exact test for the band
    between rectangle and outline. None when the outline is too curved to hold one.

    Examples
    --------
    >>> outline, inner = projected_box((126.97, 37.56, 126.99, 37.58))
    >>> ix0, iy0, ix1, iy1 = inner
    >>> bool(shapely.contains(outline, shapely.box(ix0, iy0, ix1, iy1)))
    True
    >>> round((ix1 - ix0) / 10) * 10, round((iy1 - iy0) / 10) * 10
    (1750, 2210)
    """
    x0, y0, x1, y1 = bbox

    def edge(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        return lonlat_to_xy(lon, lat, crs=crs)

    def steps(low: float, high: float) -> NDArray[np.float64]:
        return np.linspace(low, high, max(2, int(np.ceil((high - low) / step_deg)) + 1))

    lats, lons = steps(y0, y1), steps(x0, x1)
    west = edge(np.full_like(lats, x0), lats)
    north = edge(lons, np.full_like(lons, y1))
    east = edge(np.full_like(lats, x1), lats[::-1])
    south = edge(lons[::-1], np.full_like(lons, y0))
    ring = np.concatenate(
        [np.column_stack(e)[:-1] for e in (west, north, east, south)] + [np.column_stack(west)[:1]]
    )
    outline = shapely.Polygon(ring)
    inner = (
        float(west[0].max()),
        float(south[1].max()),
        float(east[0].min()),
        float(north[1].min()),
    )
    if not (inner[0] < inner[2] and inner[1] < inner[3]):
        return outline, None
    return outline, inner
