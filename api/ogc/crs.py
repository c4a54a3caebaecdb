"""The coordinate reference systems of the OGC API (Part 2, CRS by reference): their URIs, the
SRID and axis order of each, and a ``bbox`` read in any of them.

CRS84 (longitude, latitude) is the default of both output and ``bbox``. EPSG:4326 is latitude
first; EPSG:5179 (the storage CRS, UTM-K) and EPSG:5186 (Korea 2000 / Central Belt 2010) are
northing first: as the standard asks, coordinates are written and read in the CRS's own axis
order, and the ``Content-Crs`` header names the CRS of every answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from geo.crs import get_transformer, projected_box
from geo.errors import InvalidInput
from geo.store.features import Box, Output
from geo.store.models import WORKING_SRID

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
#: Where the working CRS is defined (EPSG:5179's area of use, lon/lat degrees, rounded out):
#: a CRS84 box is clipped to it before projection; a box wholly outside matches nothing.
WORKING_AREA = (122.7, 28.5, 134.3, 40.3)
NOTHING = Box(shapely.Polygon(), None)


@dataclass(frozen=True)
class Crs:
    """One CRS the API speaks: its URI, SRID, whether its first axis is northing / latitude,
    and the decimals kept (degrees: 7, about a centimetre; metres: 3)."""

    uri: str
    srid: int
    northing_first: bool
    digits: int

    @property
    def output(self) -> Output:
        return Output(srid=self.srid, flip=self.northing_first, digits=self.digits)

    @property
    def auth(self) -> str:
        return "OGC:CRS84" if self.srid == 4326 and not self.northing_first else f"EPSG:{self.srid}"


#: The CRSs offered, by URI: the first is the default.
SUPPORTED: dict[str, Crs] = {
    c.uri: c
    for c in (
        Crs(CRS84, 4326, northing_first=False, digits=7),
        Crs(f"{EPSG}4326", 4326, northing_first=True, digits=7),
        Crs(f"{EPSG}5179", 5179, northing_first=True, digits=3),
        Crs(f"{EPSG}5186", 5186, northing_first=True, digits=3),
    )
}
STORAGE_CRS = f"{EPSG}{WORKING_SRID}"
DEFAULT = SUPPORTED[CRS84]


def crs_of(uri: str | None, *, parameter: str) -> Crs:
    """The CRS a ``crs`` or ``bbox-crs`` value names (its URI), the default when absent; an
    unknown one is invalid input naming ``parameter``."""
    if uri is None:
        return DEFAULT
    crs = SUPPORTED.get(uri)
    if crs is None:
        raise InvalidInput(
            f"{parameter} must be one of: {', '.join(SUPPORTED)}",
            details={"field": parameter, "value": uri},
        )
    return crs


def search_box(values: tuple[float, ...], crs: Crs) -> Box:
    """A ``bbox`` (four numbers, or six with heights, which are ignored) in ``crs``, in its axis
    order, as the working CRS's outline and an inner rectangle for the store.

    The edges are densified before projection (they become curves in another CRS).
    """
    if len(values) == 6:
        values = (values[0], values[1], values[3], values[4])
    a0, b0, a1, b1 = values
    x0, y0, x1, y1 = (b0, a0, b1, a1) if crs.northing_first else (a0, b0, a1, b1)
    if not (x0 < x1 and y0 < y1):
        raise InvalidInput(
            f"bbox must give the lower corner before the upper one, in the axis order of {crs.uri}",
            details={"field": "bbox", "value": list(values)},
        )
    if crs.srid == 4326:
        if not (x0 >= -180 and x1 <= 180 and y0 >= -90 and y1 <= 90):
            raise InvalidInput(
                "bbox must lie within ±180° longitude and ±90° latitude",
                details={"field": "bbox", "value": list(values)},
            )
        ax0, ay0, ax1, ay1 = WORKING_AREA
        x0, y0, x1, y1 = max(x0, ax0), max(y0, ay0), min(x1, ax1), min(y1, ay1)
        if not (x0 < x1 and y0 < y1):
            return NOTHING
        outline, inner = projected_box((x0, y0, x1, y1), step_deg=0.05)
        return Box(outline, inner)
    if crs.srid == WORKING_SRID:
        return Box(shapely.box(x0, y0, x1, y1), (x0, y0, x1, y1))
    n = 32
    xs, ys = np.linspace(x0, x1, n), np.linspace(y0, y1, n)
    ring = np.concatenate(
        [
            np.column_stack([xs, np.full(n, y0)]),
            np.column_stack([np.full(n, x1), ys]),
            np.column_stack([xs[::-1], np.full(n, y1)]),
            np.column_stack([np.full(n, x0), ys[::-1]]),
        ]
    )
    px, py = get_transformer(f"EPSG:{crs.srid}", f"EPSG:{WORKING_SRID}").transform(
        ring[:, 0], ring[:, 1]
    )
    if not (np.isfinite(px).all() and np.isfinite(py).all()):
        raise InvalidInput(
            f"bbox lies outside the area where {crs.uri} is defined",
            details={"field": "bbox", "value": list(values)},
        )
    return Box(shapely.Polygon(np.column_stack([px, py])), None)
