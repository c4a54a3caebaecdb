"""National-scale bench data made from the real Seoul rows (never committed, written on demand).

Korea publishes no single national CCTV file of 1.6 million cameras, nor a road network we may
ship, so the benchmarks tile the real data across the country's extent. The **tile** is the
real central-Seoul drive network's box (:data:`TILE_BOX`, about 5 km × 5 km): its 5,042
segments and the real Seoul CCTV rows whose position lies inside it (~1,900 cameras). Every
tile is a translated copy of that one — roads and cameras moved by the same whole offset
(:func:`tile_offsets`, shared by both generators) — so cameras sit on the roads exactly as in
Seoul, with central Seoul's density, quirks and camera mix.

- :func:`make_national_roads` writes the first ~400 tiles' roads (≈ 2 million segments);
  each copy gets fresh node and way ids (``tile · 10¹¹ + OSM id``). Tiles are not stitched:
  they sit apart on the grid, so a cordon never leaves its tile along the roads (in euclidean
  mode a 2 km circle can reach a neighbouring tile's roads, in both implementations alike).
- :func:`make_national_cctv` writes the cameras of as many tiles as its target needs (≈ 840
  tiles for 1.6 million): the first ~400 on roads, the rest where no road network is loaded —
  a national registry with the roads of the regions that have been imported.

Offsets are in degrees (lon, lat), applied to both alike; tile 0 is central Seoul itself and
the others are the cells of a grid over :data:`KOREA_BOX`, nearest to Seoul first.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import shapely
from sqlalchemy import text
from sqlalchemy.engine import URL

from api.settings import load_settings
from geo.store import connect
from geo.store.migrate import upgrade

if TYPE_CHECKING:
    from geo.ingest.osm import RoadNetworkRead

SEOUL_FILE = "seoul_cctv_2018.csv"
ROADS_FILE = "seoul_central_drive.graphml"
BENCH_DIR = Path("/tmp/gilmok-bench")
# Where copies go: mainland Korea's box, lon/lat degrees.
KOREA_BOX = (126.2, 34.6, 129.3, 38.2)
# The central-Seoul drive network's node box (seoul_central_drive.graphml), lon/lat degrees.
TILE_BOX = (126.9499316, 37.5441976, 127.0066452, 37.589145)
TILE_SEGMENTS = 5_042  # segments of one road tile
TILE_CAMERAS = 1_914  # cameras of one tile after the reader's merges (positions inside TILE_BOX)
#: Node and way ids of tile t are ``t * ID_STRIDE + the OSM id`` (OSM ids are below 10¹¹).
ID_STRIDE = 10**11


def data_dir() -> Path:
    default = Path(__file__).resolve().parents[2] / "shared" / "data"
    return Path(os.environ.get("GILMOK_DATA_DIR", default))


def tile_offsets(tiles: int) -> list[tuple[float, float]]:
    """(dlon, dlat) of each tile, degrees; the first is central Seoul itself (0, 0).

    The others are cells of a grid over :data:`KOREA_BOX` wide enough that tiles never
    overlap (cells are at least a tile plus a margin apart), nearest to Seoul first.
    """
    x0, y0, x1, y1 = KOREA_BOX
    tile_w, tile_h = TILE_BOX[2] - TILE_BOX[0], TILE_BOX[3] - TILE_BOX[1]
    cols = max(1, math.ceil(math.sqrt(tiles * 1.2 * (x1 - x0) / (y1 - y0))))
    rows = math.ceil(tiles * 1.2 / cols) + 1
    step_x, step_y = (x1 - x0) / cols, (y1 - y0) / rows
    if step_x < tile_w * 1.05 or step_y < tile_h * 1.05:
        raise ValueError(f"{tiles} tiles do not fit in KOREA_BOX without overlapping")
    centre = ((TILE_BOX[0] + TILE_BOX[2]) / 2, (TILE_BOX[1] + TILE_BOX[3]) / 2)
    cells = [
        (x0 + step_x * (j + 0.5) - centre[0], y0 + step_y * (i + 0.5) - centre[1])
        for i in range(rows)
        for j in range(cols)
    ]
    cells.sort(key=lambda d: (d[0] ** 2 + d[1] ** 2, d))
    # the cell holding Seoul becomes tile 0 at offset zero
    return [(0.0, 0.0), *cells[1:tiles]]


def make_national_cctv(out: Path, *, target_cameras: int = 1_600_000) -> Path:
    """Write a 13-column CP949 CCTV standard file with about ``target_cameras`` cameras.

    Tile t holds the Seoul rows positioned inside :data:`TILE_BOX`, shifted by
    ``tile_offsets(...)[t]``; the rows with unusable coordinates (placeholders, blanks) are
    kept once, unshifted, for the reader to reject. Reuses ``out`` when it exists (its name
    should carry the target).
    """
    if out.exists():
        return out
    source = data_dir() / SEOUL_FILE
    with open(source, encoding="cp949", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = list(reader)
    lat_i, lon_i = header.index("위도"), header.index("경도")
    inside: list[tuple[list[str], float, float]] = []
    unusable: list[list[str]] = []
    for row in rows:
        try:
            lat, lon = float(row[lat_i]), float(row[lon_i])
        except ValueError:
            unusable.append(row)
            continue
        if TILE_BOX[0] <= lon <= TILE_BOX[2] and TILE_BOX[1] <= lat <= TILE_BOX[3]:
            inside.append((row, lon, lat))
        elif not (33 <= lat <= 39 and 124 <= lon <= 132):
            unusable.append(row)
    tiles = max(1, round(target_cameras / TILE_CAMERAS))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(unusable)
    for dlon, dlat in tile_offsets(tiles):
        for row, lon, lat in inside:
            shifted = list(row)
            shifted[lat_i] = f"{lat + dlat:.7f}"
            shifted[lon_i] = f"{lon + dlon:.7f}"
            writer.writerow(shifted)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_bytes(buf.getvalue().encode("cp949"))
    tmp.rename(out)
    return out


_SEGMENT_FILE = "segments.parquet"
_NODE_FILE = "nodes.parquet"


def make_national_roads(out: Path, *, target_segments: int = 2_000_000) -> Path:
    """Write the tiled road network into the folder ``out`` (Parquet, lon/lat WKB); reuse it.

    ``out/segments.parquet`` has the columns of :func:`geo.ingest.osm.read_road_network`'s
    segments (``geometry`` as WKB, no ``attributes``) and the ``tile`` of each;
    ``out/nodes.parquet`` its nodes. Load them with :func:`read_national_roads`.
    """
    if (out / _SEGMENT_FILE).exists() and (out / _NODE_FILE).exists():
        return out
    from geo.ingest.osm import line_lengths_m, read_road_network

    seoul = read_road_network(data_dir() / ROADS_FILE)
    seg, nodes = seoul.segments, seoul.nodes
    assert seoul.bounds == TILE_BOX, "TILE_BOX must be the road file's node box"
    tiles = max(1, round(target_segments / len(seg)))
    coords, owner = shapely.get_coordinates(seg["geometry"].to_numpy(), return_index=True)
    n_seg, n_coords = len(seg), coords.shape[0]
    offsets = np.asarray(tile_offsets(tiles))
    tile_of_coord = np.repeat(np.arange(tiles), n_coords)
    all_coords = np.tile(coords, (tiles, 1)) + offsets[tile_of_coord]
    all_owner = (np.tile(owner, tiles) + tile_of_coord * n_seg).astype(np.int64)
    geometry = shapely.linestrings(all_coords, indices=all_owner)
    tile_of_seg = np.repeat(np.arange(tiles, dtype=np.int64), n_seg)
    shift = tile_of_seg * ID_STRIDE
    segments = pd.DataFrame(
        {
            "u": np.tile(seg["u"].to_numpy(np.int64), tiles) + shift,
            "v": np.tile(seg["v"].to_numpy(np.int64), tiles) + shift,
            "osm_way_id": np.tile(seg["osm_way_id"].to_numpy(np.int64), tiles) + shift,
            "highway": np.tile(seg["highway"].to_numpy(object), tiles),
            "name": np.tile(seg["name"].to_numpy(object), tiles),
            "oneway": np.tile(seg["oneway"].to_numpy(bool), tiles),
            "length_m": line_lengths_m(geometry),
            "geometry": shapely.to_wkb(geometry),
            "bridge": np.tile(seg["bridge"].to_numpy(bool), tiles),
            "tunnel": np.tile(seg["tunnel"].to_numpy(bool), tiles),
            "ref": np.tile(seg["ref"].to_numpy(object), tiles),
            "maxspeed_kmh": np.tile(seg["maxspeed_kmh"].to_numpy(float), tiles),
            "lanes": np.tile(seg["lanes"].to_numpy(float), tiles),
            "tile": tile_of_seg,
        }
    )
    n_nodes = len(nodes)
    tile_of_node = np.repeat(np.arange(tiles, dtype=np.int64), n_nodes)
    node_table = pd.DataFrame(
        {
            "osm_id": np.tile(nodes["osm_id"].to_numpy(np.int64), tiles) + tile_of_node * ID_STRIDE,
            "lon": np.tile(nodes["lon"].to_numpy(float), tiles) + offsets[tile_of_node, 0],
            "lat": np.tile(nodes["lat"].to_numpy(float), tiles) + offsets[tile_of_node, 1],
            "street_count": np.tile(nodes["street_count"].to_numpy(np.int64), tiles),
        }
    )
    out.mkdir(parents=True, exist_ok=True)
    for frame, name in ((segments, _SEGMENT_FILE), (node_table, _NODE_FILE)):
        tmp = out / (name + ".tmp")
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp)
        tmp.rename(out / name)
    return out


def read_national_roads(folder: Path) -> RoadNetworkRead:
    """The tiled network as a :class:`geo.ingest.osm.RoadNetworkRead`: what
    :func:`geo.store.imports.import_road_network` loads (pass ``path=folder / "segments.parquet"``)
    and what :func:`geo.network.build_road_network` builds from (``.segments``)."""
    from geo.ingest.osm import RoadNetworkRead
    from geo.ingest.report import ReadReport

    segments = pq.read_table(folder / _SEGMENT_FILE).to_pandas()
    segments["geometry"] = shapely.from_wkb(segments["geometry"].to_numpy())
    # the copies carry no raw OSM attributes (their OSM ids would be wrong anyway)
    segments["attributes"] = None
    nodes = pq.read_table(folder / _NODE_FILE).to_pandas()
    report = ReadReport(source=str(folder), rows_read=len(segments), rows_kept=len(segments))
    bounds = (
        float(nodes.lon.min()),
        float(nodes.lat.min()),
        float(nodes.lon.max()),
        float(nodes.lat.max()),
    )
    return RoadNetworkRead(nodes, segments, report, "graphml", bounds)


@contextlib.contextmanager
def bench_database(name: str, *, fresh: bool = True, keep: bool = False) -> Iterator[URL]:
    """URL, as the schema's owner, of the benchmark database ``name``: made anew unless
    ``fresh`` is False (reuse it), migrated to the newest schema either way (a database kept by
    an older release gets the tables added since), dropped afterwards unless ``keep``."""
    settings = load_settings()
    admin = connect(
        settings.owner_database_url.set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    url = settings.owner_database_url.set(database=name)
    try:
        if fresh:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        upgrade(url)
        yield url
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
