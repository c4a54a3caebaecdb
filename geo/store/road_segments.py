"""The road segments as the console's base map: Web Mercator vector tiles from PostGIS.

:func:`road_tile` answers one ``z/x/y`` tile (Mapbox Vector Tile, layer ``roads``) with
``ST_AsMVT`` over the segments meeting it; the SQL is ``sql/road_segments/tile.sql``.
:func:`road_version` names the stored roads' state, which tiles are kept and cached under.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from geo.store.queries import query

#: Highest zoom level a tile is made for; deeper ones are the client's overzoom of this one.
MAX_ZOOM = 22


def max_rank_at(z: int) -> int:
    """The least important road rank drawn at zoom ``z`` (1 motorways … 5 service roads).

    Examples
    --------
    >>> [max_rank_at(z) for z in (8, 11, 12, 13, 14)]
    [2, 3, 3, 4, 5]
    """
    if z <= 10:
        return 2
    if z <= 12:
        return 3
    if z == 13:
        return 4
    return 5


def road_version(conn: Connection) -> str:
    """A token (16 hex digits) that changes whenever the stored roads do, and only then: a
    digest of the road networks' ids (``sql/road_segments/version.sql`` says why that is
    enough). Camera imports leave it alone."""
    return str(conn.execute(query("road_segments/version")).scalar_one())


def road_tile(
    conn: Connection, z: int, x: int, y: int, *, bounds: tuple[float, float, float, float]
) -> bytes:
    """The vector tile ``z/x/y`` of the stored roads (empty bytes when none meets it).

    Each feature is one segment, clipped to the tile: properties ``class`` (the OSM highway
    value), ``rank`` (1–5, see the SQL), ``name``, ``ref``, ``oneway``, ``bridge``, ``tunnel``;
    its id is the segment's.

    ``z`` is 0..:data:`MAX_ZOOM`, ``x`` and ``y`` 0..2**z-1 (the caller checks). ``bounds``
    (west, south, east, north; degrees) is the country's box (``GILMOK_COUNTRY_BOUNDS``): no
    road lies outside it, and the working CRS is not defined far beyond it.
    """
    west, south, east, north = bounds
    params: dict[str, float] = {"z": z, "x": x, "y": y, "max_rank": max_rank_at(z)}
    params |= {"west": west, "south": south, "east": east, "north": north}
    found = conn.execute(query("road_segments/tile"), params).scalar_one()
    return bytes(found)
