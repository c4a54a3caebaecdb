"""The base map's road tiles (``GET /v1/tiles/roads/{z}/{x}/{y}.pbf``) against the stored roads.

Tiles are decoded with mapbox-vector-tile and compared with a brute-force answer computed here
from the road_segment rows (pyproj + shapely): which segments a tile must hold, which it may
(the 64-unit buffer), their properties, and where their lines lie.
"""

from __future__ import annotations

import math
from pathlib import Path
from xml.etree import ElementTree

import mapbox_vector_tile
import pytest
import shapely
from flask import Flask
from mapo_world import MAPO_POINT, MapoWorld, mapo_fixtures
from pyproj import Transformer
from sqlalchemy.engine import Connection

from api import create_app
from api.settings import Settings
from api.tiles import roads_version, tile_cache, tiles_in_view, warm_tiles
from geo.crs import DEFAULT_COUNTRY_BOUNDS
from geo.ingest.osm import read_road_network
from geo.store.imports import import_road_network
from geo.store.road_segments import max_rank_at, road_tile

pytestmark = pytest.mark.db

BOUNDS = DEFAULT_COUNTRY_BOUNDS
EXTENT = 4096
BUFFER = 64
HALF_WORLD = 20037508.342789244
TO_MERCATOR = Transformer.from_crs(5179, 3857, always_xy=True)
RANKS = {
    **dict.fromkeys(("motorway", "motorway_link", "trunk", "trunk_link"), 1),
    **dict.fromkeys(("primary", "primary_link"), 2),
    **dict.fromkeys(("secondary", "secondary_link", "tertiary", "tertiary_link"), 3),
    **dict.fromkeys(("residential", "unclassified", "living_street", "road"), 4),
}


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """The tile's Web Mercator box (minx, miny, maxx, maxy), metres."""
    size = 2 * HALF_WORLD / (1 << z)
    minx = -HALF_WORLD + x * size
    maxy = HALF_WORLD - y * size
    return minx, maxy - size, minx + size, maxy


world, db = mapo_fixtures()[:2]


@pytest.fixture(scope="module")
def segments(world: MapoWorld) -> dict[int, dict[str, object]]:
    """Every stored segment: its row and its line in Web Mercator (brute force's input)."""
    rows = world.conn.exec_driver_sql(
        "SELECT id, highway, name, ref, oneway, ST_AsBinary(geom) AS wkb FROM road_segment"
    ).all()
    out = {}
    for row in rows:
        line = shapely.from_wkb(bytes(row.wkb))
        xs, ys = TO_MERCATOR.transform(*shapely.get_coordinates(line).T)
        out[int(row.id)] = {
            "class": row.highway,
            "rank": RANKS.get(row.highway, 5),
            "name": row.name,
            "ref": row.ref,
            "oneway": row.oneway,
            "line": shapely.linestrings(list(zip(xs, ys, strict=True))),
        }
    return out


@pytest.fixture
def app(db: Connection, base_settings: Settings) -> Flask:
    return create_app(base_settings, engine=db)


def decode(tile: bytes) -> list[dict[str, object]]:
    layers = mapbox_vector_tile.decode(tile, default_options={"y_coord_down": True})
    return list(layers["roads"]["features"]) if "roads" in layers else []


def tiles_around(z: int) -> list[tuple[int, int, int]]:
    x, y = tile_of(*MAPO_POINT, z)
    return [(z, x + dx, y + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]


@pytest.mark.parametrize("z", [12, 14, 15, 16])
def test_each_tile_holds_exactly_the_segments_meeting_it(
    db: Connection, segments: dict[int, dict[str, object]], z: int
) -> None:
    """Every segment of a drawn rank meeting the tile is in it, none beyond its buffer is, and
    each feature carries its segment's class, rank, name and ref."""
    max_rank = max_rank_at(z)
    seen_any = False
    for tz, tx, ty in tiles_around(z):
        minx, miny, maxx, maxy = tile_bounds(tz, tx, ty)
        unit = (maxx - minx) / EXTENT
        inner = shapely.box(minx + unit, miny + unit, maxx - unit, maxy - unit)
        pad = BUFFER * unit
        outer = shapely.box(
            minx - pad - unit, miny - pad - unit, maxx + pad + unit, maxy + pad + unit
        )
        drawn = {i: s for i, s in segments.items() if int(s["rank"]) <= max_rank}  # type: ignore[call-overload]
        must = {i for i, s in drawn.items() if shapely.intersects(s["line"], inner)}
        may = {i for i, s in drawn.items() if shapely.intersects(s["line"], outer)}
        features = decode(road_tile(db, tz, tx, ty, bounds=BOUNDS))
        got = {int(f["id"]) for f in features}
        assert len(got) == len(features), "one feature per segment"
        assert must <= got, sorted(must - got)[:10]
        assert got <= may, sorted(got - may)[:10]
        for feature in features:
            row = segments[int(feature["id"])]
            props = feature["properties"]
            assert props["class"] == row["class"]
            assert props["rank"] == row["rank"]
            assert props["name"] == row["name"]
            assert props["ref"] == row["ref"]
            assert props["oneway"] == row["oneway"]
        seen_any = seen_any or bool(must)
    assert seen_any, "the tiles around the Mapo point hold roads"


def test_lines_are_where_the_roads_are(
    db: Connection, segments: dict[int, dict[str, object]]
) -> None:
    """Each feature's line, back in Web Mercator, lies within a tile unit (plus rounding) of its
    segment clipped to the buffered tile."""
    z, x, y = tiles_around(16)[4]
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    unit = (maxx - minx) / EXTENT
    features = decode(road_tile(db, z, x, y, bounds=BOUNDS))
    assert features
    named = [f for f in features if f["properties"]["name"]]
    assert named, "Mapo's roads have Hangul names"
    assert any(
        any("\uac00" <= ch <= "\ud7a3" for ch in str(f["properties"]["name"])) for f in named
    )
    inner = shapely.box(minx, miny, maxx, maxy)
    for feature in features:
        geometry = feature["geometry"]
        parts = (
            [geometry["coordinates"]]
            if geometry["type"] == "LineString"
            else geometry["coordinates"]
        )
        drawn = shapely.multilinestrings(
            [[(minx + px * unit, maxy - py * unit) for px, py in part] for part in parts]
        )
        truth = segments[int(feature["id"])]["line"]
        # drawn within 2 units of the road, and the road inside the tile within 2 units of drawn
        assert (
            max(shapely.distance(shapely.points(shapely.get_coordinates(drawn)), truth)) < 2 * unit
        )
        inside = shapely.intersection(truth, inner)
        if not inside.is_empty:
            dense = shapely.segmentize(inside, unit)
            assert (
                max(shapely.distance(shapely.points(shapely.get_coordinates(dense)), drawn))
                < 2 * unit
            )


def test_minor_roads_wait_for_their_zoom(
    db: Connection, segments: dict[int, dict[str, object]]
) -> None:
    ranks_at = {}
    for z in (12, 13, 15):
        ranks_at[z] = {
            int(f["properties"]["rank"])
            for t in tiles_around(z)
            for f in decode(road_tile(db, *t, bounds=BOUNDS))
        }
    assert max(ranks_at[12]) <= 3
    assert max(ranks_at[13]) <= 4
    assert 4 in ranks_at[15] or 5 in ranks_at[15]


def test_tile_endpoint_serves_cached_tiles_to_any_key(
    app: Flask, world: MapoWorld, db: Connection
) -> None:
    client = app.test_client()
    z, x, y = tiles_around(15)[4]
    path = f"/v1/tiles/roads/{z}/{x}/{y}.pbf"
    assert client.get(path).status_code == 401
    for role in ("requester", "municipal_centre", "auditor", "planner"):
        response = client.get(path, headers=world.headers(role))
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "application/vnd.mapbox-vector-tile"
        assert response.data == road_tile(db, z, x, y, bounds=BOUNDS)
        assert "max-age" in response.headers["Cache-Control"]
    cache = tile_cache(app)
    assert (cache.misses, cache.hits) == (1, 3)
    # Busan: no road stored there, an empty tile
    bx, by = tile_of(129.07, 35.18, 15)
    empty = client.get(f"/v1/tiles/roads/15/{bx}/{by}.pbf", headers=world.headers("requester"))
    assert empty.status_code == 200
    assert empty.data == b""


@pytest.mark.parametrize("z", range(7))
def test_low_zooms_spanning_the_world_are_made(db: Connection, z: int) -> None:
    """A tile far wider than the working CRS's domain (the whole world at zoom 0) is made
    without error (segments of tens of metres are below a tile unit there, kilometres, and
    drop out); one on the other side of the world is empty."""
    x, y = tile_of(*MAPO_POINT, z)
    assert isinstance(road_tile(db, z, x, y, bounds=BOUNDS), bytes)
    far = ((x + (1 << z) // 2) % (1 << z), y)
    if far != (x, y):
        assert road_tile(db, z, *far, bounds=BOUNDS) == b""


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/tiles/roads/23/0/0.pbf", "z"),
        ("/v1/tiles/roads/3/8/0.pbf", "x"),
        ("/v1/tiles/roads/3/0/8.pbf", "y"),
    ],
)
def test_tiles_outside_the_grid_are_422(
    app: Flask, world: MapoWorld, path: str, field: str
) -> None:
    response = app.test_client().get(path, headers=world.headers("requester"))
    assert response.status_code == 422
    assert response.json["details"]["field"] == field


def test_browsers_keep_tiles_of_the_current_roads_for_good(app: Flask, world: MapoWorld) -> None:
    """A tile asked for under the roads' current version (what the console's page carries) is
    cached for a year; under another version it is revalidated by its ETag, which answers 304
    with no body while the roads are the same; without one, it is reused for 5 minutes."""
    client = app.test_client()
    z, x, y = tiles_around(15)[4]
    path = f"/v1/tiles/roads/{z}/{x}/{y}.pbf"
    who = world.headers("requester")
    version = roads_version_of(app)
    current = client.get(f"{path}?v={version}", headers=who)
    assert current.status_code == 200
    cache_control = current.headers["Cache-Control"]
    assert "immutable" in cache_control
    assert "max-age=31536000" in cache_control
    assert "private" in cache_control  # only the browser: it was asked with a credential
    for other, cached in ((path, "private, max-age=300"), (f"{path}?v=0123", "private, no-cache")):
        plain = client.get(other, headers=who)
        assert plain.headers["Cache-Control"] == cached
        assert plain.data == current.data
        assert plain.headers["ETag"] == current.headers["ETag"]
    again = client.get(path, headers={**who, "If-None-Match": current.headers["ETag"]})
    assert again.status_code == 304
    assert again.data == b""
    assert client.get(f"{path}?v=x&w=1", headers=who).status_code == 422


def test_tiles_change_when_the_roads_do(
    app: Flask, world: MapoWorld, db: Connection, data_dir: Path, tmp_path: Path
) -> None:
    """Importing the Mapo roads again without their residential streets: the roads' version
    changes, so the tile under the old version's URL is no longer cached for good, its old
    ETag no longer matches, and the tile now holds no residential street."""
    client = app.test_client()
    z = 15
    x, y = tile_of(*MAPO_POINT, z)
    path = f"/v1/tiles/roads/{z}/{x}/{y}.pbf"
    who = world.headers("requester")
    old_version = roads_version_of(app)
    before = client.get(f"{path}?v={old_version}", headers=who)
    assert any(f["properties"]["class"] == "residential" for f in decode(before.data))

    tree = ElementTree.parse(data_dir / "mapo.osm")
    osm = tree.getroot()
    for way in osm.findall("way"):
        if any(t.get("k") == "highway" and t.get("v") == "residential" for t in way.iter("tag")):
            osm.remove(way)
    changed = tmp_path / "mapo.osm"
    tree.write(changed, encoding="utf-8", xml_declaration=True)
    import_road_network(db, read_road_network(changed), path=changed)
    tile_cache(app).check_interval_s = 0.0  # ask the database now, not within 10 s

    new_version = roads_version_of(app)
    assert new_version != old_version
    stale = client.get(f"{path}?v={old_version}", headers=who)
    assert stale.headers["Cache-Control"] == "private, no-cache"
    revalidated = client.get(path, headers={**who, "If-None-Match": before.headers["ETag"]})
    assert revalidated.status_code == 200
    assert revalidated.headers["ETag"] != before.headers["ETag"]
    after = decode(revalidated.data)
    assert after
    assert not any(f["properties"]["class"] == "residential" for f in after)
    assert revalidated.data == road_tile(db, z, x, y, bounds=BOUNDS)


def test_the_consoles_opening_tiles_are_made_before_anyone_asks(
    app: Flask, world: MapoWorld
) -> None:
    """``gilmok serve`` warms each worker's cache with the tiles of the console's opening view
    (the tiles a 1920×1200 screen shows there, and one zoom out): the console's first load
    finds every one of them made, and asking for them makes no new one."""
    lon, lat = MAPO_POINT
    cache = tile_cache(app)
    made = warm_tiles(app, lon, lat, 15)
    assert made > 0
    assert cache.misses == made  # each made once
    misses = cache.misses
    client = app.test_client()
    for z, x, y in tiles_in_view(lon, lat, 15, width_px=1280, height_px=800):
        got = client.get(f"/v1/tiles/roads/{z}/{x}/{y}.pbf", headers=world.headers("requester"))
        assert got.status_code == 200
    assert cache.misses == misses


def roads_version_of(app: Flask) -> str:
    with app.app_context():
        version = roads_version()
    assert version is not None
    return version
