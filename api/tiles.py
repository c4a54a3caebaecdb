"""The console's base map: vector tiles of gilmok's own roads (``GET /v1/tiles/roads/...``).

Tiles (``{z}/{x}/{y}.pbf``) are Web Mercator Mapbox Vector Tiles made by PostGIS
(:func:`geo.store.road_segments.road_tile`) and kept by each worker (:class:`TileCache`, least
recently used first out, bounded in bytes), keyed by the registry's version
(:func:`geo.store.cameras.registry_version`, checked at most every :data:`CHECK_INTERVAL_S`
seconds), so an import of roads is drawn within seconds. Any
authenticated caller may read them: roads are public, and nothing else is in them.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app
from flask.views import MethodView

from api.auth import requires_roles
from api.context import app_state, transaction
from api.schemas import Blueprint
from geo import domain
from geo.errors import InvalidInput
from geo.store.cameras import registry_version
from geo.store.road_segments import MAX_ZOOM, road_tile

MVT_MEDIA_TYPE = "application/vnd.mapbox-vector-tile"
#: Bytes of tiles one worker keeps.
CACHE_BYTES = 64 * 1024 * 1024
#: Seconds between two checks of the registry's version by one worker.
CHECK_INTERVAL_S = 10.0
#: How long a browser may reuse a tile without asking again, seconds.
BROWSER_MAX_AGE_S = 300
EXTENSION = "gilmok.tiles"
_INIT_LOCK = threading.Lock()

blp = Blueprint(
    "tiles",
    __name__,
    url_prefix="/v1/tiles",
    description="The base map: vector tiles of the stored road network (any API key)",
)

Version = tuple[int, int, int]


class TileCache:
    """One worker's tiles, by (registry version, z, x, y); the least recently used go first."""

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
        """The registry version to key tiles by, asked of the database when due."""
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
        return registry_version(conn)


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


@blp.route("/roads/<int:z>/<int:x>/<int:y>.pbf")
class RoadTile(MethodView):
    @requires_roles(*domain.ROLES)
    @blp.doc(**_TILE_DOC)
    def get(self, z: int, x: int, y: int) -> Response:
        """A vector tile of the road network (Web Mercator z/x/y, Mapbox Vector Tile)

        Layer `roads`, one feature per road segment clipped to the tile: `class` (the OSM
        highway value), `rank` (1 motorway/trunk, 2 primary, 3 secondary/tertiary, 4 local,
        5 other; ranks 3+ only from zoom 11, 4 from 13, 5 from 14), `name`, `ref`, `oneway`,
        `bridge`, `tunnel`; the feature id is the segment's. x and y outside 0..2^z-1 are 422.
        """
        _check_tile(z, x, y)
        cache = tile_cache()
        key = (cache.version(), z, x, y)
        tile = cache.get(key)
        if tile is None:
            bounds = app_state().settings.country_bounds
            with transaction() as conn:
                tile = road_tile(conn, z, x, y, bounds=bounds)
            cache.put(key, tile)
        response = Response(tile, mimetype=MVT_MEDIA_TYPE)
        response.headers["Cache-Control"] = f"private, max-age={BROWSER_MAX_AGE_S}"
        return response
