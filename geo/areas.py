"""Areas given as GeoJSON (an activation's area): parsed, checked and measured, lon/lat in and out.

Pure: shapely and pyproj only. The checks name what is wrong so a situation room can fix the
polygon it sent: structure, closed rings, validity, the country's bounds, a sane size.
"""

from __future__ import annotations

import math
from typing import Any

import shapely
from pyproj import Geod
from shapely.geometry import MultiPolygon, Polygon, shape
from shapely.validation import explain_validity

from geo.errors import InvalidInput

#: Largest area an activation may cover, km². A province is the largest unit a legal basis is
#: declared for in practice (Gyeongsangbuk-do, the largest, is about 19,000 km²).
MAX_AREA_KM2 = 20_000.0
#: Smallest, km²: below a city block the polygon is almost certainly a mistake.
MIN_AREA_KM2 = 0.001
#: Vertex budget: enough for an administrative boundary, bounded for the database's sake.
MAX_VERTICES = 20_000

_GEOD = Geod(ellps="WGS84")


def geodesic_area_km2(geom: Polygon | MultiPolygon) -> float:
    """Area on the WGS84 ellipsoid of a lon/lat polygon, km².

    Examples
    --------
    >>> from shapely.geometry import box
    >>> round(geodesic_area_km2(box(127.0, 37.5, 127.01, 37.51)), 3)
    0.981
    """
    area_m2, _ = _GEOD.geometry_area_perimeter(geom)
    return abs(area_m2) / 1e6


def _check_positions(coords: Any, depth: int, where: str) -> None:
    """Every position is [lon, lat] of two finite numbers, nested ``depth`` arrays deep."""
    if not isinstance(coords, list):
        raise InvalidInput(f"{where} must be an array", details={"field": where})
    if depth == 0:
        if len(coords) != 2 or not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            for v in coords
        ):
            raise InvalidInput(
                f"{where} must be a [longitude, latitude] pair of finite numbers",
                details={"field": where},
            )
        return
    if depth == 1 and len(coords) < 4:
        raise InvalidInput(
            f"{where} is a ring of {len(coords)} positions: a ring needs at least 4",
            details={"field": where},
        )
    if depth == 1 and coords[0] != coords[-1]:
        raise InvalidInput(
            f"{where} is not closed: its first and last positions differ", details={"field": where}
        )
    if depth > 1 and not coords:
        raise InvalidInput(f"{where} is empty", details={"field": where})
    for i, item in enumerate(coords):
        _check_positions(item, depth - 1, f"{where}[{i}]")


def area_from_geojson(
    obj: Any,
    *,
    country_bounds: tuple[float, float, float, float],
    max_area_km2: float = MAX_AREA_KM2,
) -> MultiPolygon:
    """A validated lon/lat MultiPolygon from a GeoJSON Polygon or MultiPolygon (RFC 7946).

    Parameters
    ----------
    obj
        The decoded GeoJSON geometry object.
    country_bounds
        (min_lon, min_lat, max_lon, max_lat), degrees: the area must lie inside.
    max_area_km2
        Largest area accepted, km² (geodesic).

    Raises
    ------
    InvalidInput
        naming the first problem: not a polygon, malformed coordinates, an invalid geometry
        (self-intersection, ...), outside the country, too large or too small.

    Examples
    --------
    >>> area = area_from_geojson(
    ...     {"type": "Polygon", "coordinates": [[[127, 37.5], [127.01, 37.5], [127.01, 37.51],
    ...      [127, 37.51], [127, 37.5]]]}, country_bounds=(124.5, 33.0, 132.0, 38.7))
    >>> area.geom_type, len(area.geoms)
    ('MultiPolygon', 1)
    """
    if not isinstance(obj, dict):
        raise InvalidInput("the area must be a GeoJSON geometry object")
    kind = obj.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        raise InvalidInput(
            f"the area must be a GeoJSON Polygon or MultiPolygon, not {kind!r}",
            details={"field": "type"},
        )
    _check_positions(obj.get("coordinates"), 2 if kind == "Polygon" else 3, "coordinates")
    try:
        geom = shape({"type": kind, "coordinates": obj["coordinates"]})
    except (ValueError, TypeError, shapely.errors.GEOSException) as exc:
        raise InvalidInput(f"the area's coordinates do not make a polygon: {exc}") from None
    if not isinstance(geom, Polygon | MultiPolygon):  # pragma: no cover (shape() keeps the type)
        raise InvalidInput(f"the area must be a polygon, not a {geom.geom_type}")
    if shapely.get_num_coordinates(geom) > MAX_VERTICES:
        raise InvalidInput(
            f"the area has {shapely.get_num_coordinates(geom)} positions; at most"
            f" {MAX_VERTICES} are accepted (simplify it)"
        )
    if not geom.is_valid:
        raise InvalidInput(
            f"the area is not a valid polygon: {explain_validity(geom)}",
            details={"reason": explain_validity(geom)},
        )
    min_lon, min_lat, max_lon, max_lat = country_bounds
    x0, y0, x1, y1 = geom.bounds
    if x0 < min_lon or y0 < min_lat or x1 > max_lon or y1 > max_lat:
        raise InvalidInput(
            "the area reaches outside the country's bounds (longitude"
            f" {min_lon}..{max_lon}, latitude {min_lat}..{max_lat}); coordinates are"
            " [longitude, latitude]",
            details={"bounds": list(country_bounds), "area_bounds": [x0, y0, x1, y1]},
        )
    km2 = geodesic_area_km2(geom)
    if km2 > max_area_km2:
        raise InvalidInput(
            f"the area covers {km2:,.0f} km²; at most {max_area_km2:,.0f} km² are accepted",
            details={"area_km2": round(km2, 3), "max_area_km2": max_area_km2},
        )
    if km2 < MIN_AREA_KM2:
        raise InvalidInput(
            f"the area covers {km2 * 1e6:,.0f} m²: too small to be meant",
            details={"area_km2": km2, "min_area_km2": MIN_AREA_KM2},
        )
    return geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom])
