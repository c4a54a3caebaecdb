"""The console's base map: vector tiles of gilmok's own roads (``GET /v1/tiles/roads/...``).

Tiles (``{z}/{x}/{y}.pbf``) are Web Mercator Mapbox Vector Tiles made by PostGIS
(:func:`geo.store.road_segments.road_tile`) and kept by each worker (:class:`TileCache`, least
recently used first out, bounded in bytes), keyed by the roads' version
(:func:`geo.store.road_segments.road_version`, checked at most every :data:`CHECK_INTERVAL_S`
seconds), so an import of roads is drawn within seconds. Any authenticated caller may read
them: roads are public, and nothing else is in them.

Browsers keep them too. The console asks for ``?v=<the roads' version>`` (its page says which):
a tile asked for under the current version never changes, and is cached for a year; under an
older one it must be revalidated, by its ETag (version and place), and without ``v`` (other
clients) it may be reused for :data:`BROWSER_MAX_AGE_S`. Each worker
makes the tiles of the console's opening view when it starts (:func:`warm_tiles`), so the first
console to open does not wait for PostGIS.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask import Flask, Response, current_app, request
from flask.views import MethodView
from marshmallow import fields

from api.auth import requires_roles
from api.context import app_state, transaction
from api.schemas import Blueprint
from geo import domain
from geo.errors import GilmokError, InvalidInput
from geo.store.road_segments import MAX_ZOOM, road_tile, road_version

MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
#: Bytes of tiles one worker keeps.
CACHE_BYTES = 64 * 1024 * 1024
#: Seconds between two checks of the registry's version by one worker.
CHECK_INTERVAL_S = 10.0
#: How long a browser keeps a tile asked for under the roads' current version: a year.
VERSIONED_MAX_AGE_S = 365 * 24 * 3600
#: How long a browser may reuse a tile asked for without a version, seconds.
BROWSER_MAX_AGE_S = 300
EXTENSION = "gilmok.tiles"
_INIT_LOCK = threading.Lock()

blp = Blueprint(
    "tiles",
    __name__,
    url_prefix="/v1/tiles",
    description="The base map: vector tiles of the stored road network (any API key)",
)

Version = str


class TileCache:
    """One worker's tiles, by (roads' version, z, x, y); the least recently used go first."""

    def __init__(
        self,
        version: Callable[[], Version],
        *,
        max_bytes: int = CACHE_BYTES,
        check_interval_s: float = CHECK_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._version_of = version
        self.max_bytes = max_bytes
        self.check_interval_s = check_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._tiles: OrderedDict[tuple[Version, int, int, int], bytes] = OrderedDict()
        self._bytes = 0
        self._version: Version | None = None
        self._checked_at = 0.0
        self.hits = 0
        self.misses = 0

    def version(self) -> Version:
        """The roads' version to key tiles by, asked of the database when due."""
        now = self._clock()
        if self._version is None or now - self._checked_at >= self.check_interval_s:
            current = self._version_of()
            with self._lock:
                if current != self._version:
                    self._tiles.clear()
                    self._bytes = 0
                self._version, self._checked_at = current, now
        assert self._version is not None
        return self._version

    def get(self, key: tuple[Version, int, int, int]) -> bytes | None:
        with self._lock:
            tile = self._tiles.get(key)
            if tile is None:
                self.misses += 1
                return None
            self._tiles.move_to_end(key)
            self.hits += 1
            return tile

    def put(self, key: tuple[Version, int, int, int], tile: bytes) -> None:
        if len(tile) > self.max_bytes:
            return
        with self._lock:
            if key[0] != self._version or key in self._tiles:
                return
            self._tiles[key] = tile
            self._bytes += len(tile)
            while self._bytes > self.max_bytes:
                _, dropped = self._tiles.popitem(last=False)
                self._bytes -= len(dropped)


def _version_from_app() -> Version:
    with transaction() as conn:
        return road_version(conn)


def tile_cache(app: Flask | None = None) -> TileCache:
    """The tile cache of ``app`` (default: the current app), created on first use."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    cache: TileCache | None = app.extensions.get(EXTENSION)
    if cache is None:
        with _INIT_LOCK:
            cache = app.extensions.setdefault(EXTENSION, TileCache(_version_from_app))
    return cache


def _check_tile(z: int, x: int, y: int) -> None:
    if not 0 <= z <= MAX_ZOOM:
        raise InvalidInput(f"z must be 0..{MAX_ZOOM}", details={"field": "z", "value": z})
    side = 1 << z
    for name, value in (("x", x), ("y", y)):
        if not 0 <= value < side:
            raise InvalidInput(
                f"{name} must be 0..{side - 1} at zoom {z}", details={"field": name, "value": value}
            )


_TILE_DOC: dict[str, Any] = {
    "parameters": [
        {"name": "z", "in": "path", "required": True, "description": f"zoom, 0..{MAX_ZOOM}",
         "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ZOOM}},
        {"name": "x", "in": "path", "required": True, "description": "column, 0..2^z-1",
         "schema": {"type": "integer", "minimum": 0}},
        {"name": "y", "in": "path", "required": True, "description": "row from the north, 0..2^z-1",
         "schema": {"type": "integer", "minimum": 0}},
    ],
    "responses": {
        "200": {
            "description": "The tile (layer `roads`; empty when no road meets it)",
            "content": {MVT_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        },
    },
}  # fmt: skip


class TileQuery(ma.Schema):
    v = fields.String(
        load_default=None,
        validate=ma.validate.Length(max=64),
        metadata={
            "description": "The roads' version the caller expects (the console's page says it):"
            " when it is the current one the tile is cached for a year, else revalidated"
        },
    )


def cached_tile(z: int, x: int, y: int) -> tuple[Version, bytes]:
    """(roads' version, tile): from this worker's cache, else made and kept."""
    cache = tile_cache()
    version = cache.version()
    key = (version, z, x, y)
    tile = cache.get(key)
    if tile is None:
        bounds = app_state().settings.country_bounds
        with transaction() as conn:
            tile = road_tile(conn, z, x, y, bounds=bounds)
        cache.put(key, tile)
    return version, tile


@blp.route("/roads/<int:z>/<int:x>/<int:y>.pbf")
class RoadTile(MethodView):
    @requires_roles(*domain.ROLES)
    @blp.arguments(TileQuery, location="query", unknown=ma.RAISE)
    @blp.doc(**_TILE_DOC)
    def get(self, args: dict[str, Any], z: int, x: int, y: int) -> Response:
        """A vector tile of the road network (Web Mercator z/x/y, Mapbox Vector Tile)

        Layer `roads`, one feature per road segment clipped to the tile: `class` (the OSM
        highway value), `rank` (1 motorway/trunk, 2 primary, 3 secondary/tertiary, 4 local,
        5 other; ranks 3+ only from zoom 11, 4 from 13, 5 from 14), `name`, `ref`, `oneway`,
        `bridge`, `tunnel`; the feature id is the segment's. x and y outside 0..2^z-1 are 422.
        Asked for with `v` = the roads' current version (the console's page carries it), the
        tile is cached for a year (`immutable`); with an older `v` it is revalidated by its
        ETag; without `v`, reused for 5 minutes.
        """
        _check_tile(z, x, y)
        version, tile = cached_tile(z, x, y)
        response = Response(tile, mimetype=MVT_MEDIA_TYPE)
        response.set_etag(f"{version}-{z}-{x}-{y}")
        if args["v"] is None:
            response.headers["Cache-Control"] = f"private, max-age={BROWSER_MAX_AGE_S}"
        elif args["v"] == version:
            response.headers["Cache-Control"] = f"private, max-age={VERSIONED_MAX_AGE_S}, immutable"
        else:  # a page of older roads: what it gets now must not outlive the check
            response.headers["Cache-Control"] = "private, no-cache"
        response.make_conditional(request)  # 304 and no body when the ETag matches
        return response


def roads_version() -> Version | None:
    """The roads' current version for the console's page, or None when the database does not
    answer (the page then asks for tiles without it, and they are revalidated)."""
    try:
        return tile_cache().version()
    except GilmokError as exc:
        current_app.logger.warning("the roads' version is unknown: %s", exc)
        return None


def tiles_in_view(
    lon: float, lat: float, zoom: int, *, width_px: int, height_px: int
) -> list[tuple[int, int, int]]:
    """The tiles MapLibre asks for (512 pixels wide: those of ``zoom`` itself) to fill a view
    of ``width_px`` × ``height_px`` centred on ``lon``, ``lat`` (degrees) at ``zoom``.

    Examples
    --------
    >>> tiles = tiles_in_view(126.9769, 37.5759, 15, width_px=900, height_px=500)
    >>> sorted({x for _, x, _ in tiles}), sorted({y for _, _, y in tiles})
    ([27940, 27941, 27942], [12687, 12688])
    """
    z = zoom
    n = 1 << z
    fx = (lon + 180.0) / 360.0 * n
    fy = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n
    half_w, half_h = width_px / 2 / 512, height_px / 2 / 512
    xs = range(max(math.floor(fx - half_w), 0), min(math.floor(fx + half_w), n - 1) + 1)
    ys = range(max(math.floor(fy - half_h), 0), min(math.floor(fy + half_h), n - 1) + 1)
    return [(z, x, y) for x in xs for y in ys]


def warm_tiles(app: Flask, lon: float, lat: float, zoom: int) -> int:
    """Make (and keep in ``app``'s cache) the tiles a large screen shows at the console's
    opening view, and one zoom out; the number made. Run in a thread of its own at start."""
    wanted = tiles_in_view(lon, lat, zoom, width_px=1920, height_px=1200)
    wanted += tiles_in_view(lon, lat, zoom - 1, width_px=1920, height_px=1200)
    with app.app_context():
        for z, x, y in wanted:
            cached_tile(z, x, y)
    return len(wanted)
