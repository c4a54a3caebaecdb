"""Road networks in: OSMnx GraphML, OSM XML and OSM PBF read into nodes and segments, no database.

The readers are pure: they take a file and return pandas tables that the store loads into
PostGIS and the network module turns into a routing graph. A **segment** is a stretch of road
between two graph nodes (junctions or road ends), stored once: a two-way street is one segment
with ``oneway`` False, a one-way street one segment whose ``u → v`` is the direction of travel
and whose geometry runs from u to v. Coordinates are lon/lat degrees (EPSG:4326); lengths are
geodesic metres on the WGS84 ellipsoid.

The format is recognised from the file's content, never its name: OSMnx GraphML, OSM XML
(optionally gzip/bzip2-compressed) and OSM PBF. OSM data is read with pyosmium; anything else
(a CSV, JSON, an empty file, a graph without edges, OSM data without roads) is an
:class:`~geo.errors.ImportFileError` that says what the file looks like.
"""

from __future__ import annotations

import bz2
import gzip
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

import numpy as np
import osmium
import pandas as pd
import shapely
from pyproj import Geod

from geo.errors import ImportFileError
from geo.ingest._graphml import read_graphml_segments
from geo.ingest._osm_handler import read_osm_segments
from geo.ingest._roads import RawSegments
from geo.ingest.report import ReadReport

#: ``highway`` classes read from raw OSM by default: the roads a car may drive on. Paths for
#: people only (footway, path, cycleway, steps, pedestrian, bridleway, corridor, platform),
#: ``track``, roads not yet open (construction, proposed) and ``area=yes`` surfaces are left
#: out. ``access`` tags are not filtered here; they are kept in ``attributes["tags"]``.
DRIVABLE_HIGHWAYS: frozenset[str] = frozenset(
    {
        "motorway",
        "trunk",
        "primary",
        "secondary",
        "tertiary",
        "motorway_link",
        "trunk_link",
        "primary_link",
        "secondary_link",
        "tertiary_link",
        "unclassified",
        "residential",
        "living_street",
        "service",
        "road",
    }
)

SEGMENT_COLUMNS = (
    "u",
    "v",
    "osm_way_id",
    "highway",
    "name",
    "oneway",
    "length_m",
    "geometry",
    "bridge",
    "tunnel",
    "ref",
    "maxspeed_kmh",
    "lanes",
    "attributes",
)
NODE_COLUMNS = ("osm_id", "lon", "lat", "street_count")

_GEOD = Geod(ellps="WGS84")
_SNIFF_BYTES = 64 * 1024
_XML_PROLOGUE = re.compile(rb"<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>", re.DOTALL)
_XML_ROOT = re.compile(rb"<([A-Za-z_][\w.:-]*)")


@dataclass
class RoadNetworkRead:
    """A road network read from one file.

    Attributes
    ----------
    nodes
        One row per graph node: ``osm_id`` (int64, unique), ``lon``, ``lat`` (degrees,
        EPSG:4326), ``street_count`` (segment ends at the node; a self-loop counts twice).
    segments
        One row per road segment, columns :data:`SEGMENT_COLUMNS`: ``u``, ``v`` (int64 OSM node
        ids, both in ``nodes``), ``osm_way_id`` (first way id), ``highway`` (first class),
        ``name`` (first name or ""), ``oneway`` (True: traffic only u→v), ``length_m``
        (geodesic metres), ``geometry`` (shapely LineString, lon/lat, from u to v), ``bridge``,
        ``tunnel``, ``ref`` (";"-joined), ``maxspeed_kmh`` (km/h, NaN if unknown), ``lanes``
        (NaN if unknown), ``attributes`` (JSON-serialisable dict: ``osmids``, ``names``,
        ``highways``, ``junction``, raw ``tags``).
    report
        Rows are GraphML edges or OSM ways of the selected classes; ``report.check()`` holds.
    source_format
        ``"graphml"``, ``"osm"`` or ``"pbf"``.
    bounds
        ``(min_lon, min_lat, max_lon, max_lat)`` of the nodes, degrees.
    """

    nodes: pd.DataFrame
    segments: pd.DataFrame
    report: ReadReport
    source_format: str
    bounds: tuple[float, float, float, float]


def read_road_network(
    path: str | Path, *, highway_classes: frozenset[str] | None = None
) -> RoadNetworkRead:
    """Read a road network file into graph nodes and road segments.

    Parameters
    ----------
    path
        An OSMnx GraphML file, an OSM XML file (``.osm``, may be gzip/bzip2-compressed) or an
        OSM PBF file; the format is detected from the content.
    highway_classes
        ``highway`` values to keep. For OSM data the default is :data:`DRIVABLE_HIGHWAYS`;
        for GraphML (already a drive network) the default keeps every edge, and a given set
        keeps the edges with at least one of their classes in it.

    Returns
    -------
    RoadNetworkRead
        Nodes and segments in lon/lat degrees (EPSG:4326), lengths in metres.

    Raises
    ------
    ImportFileError
        The file is missing, empty, or not a road network (named in the message).

    Examples
    --------
    The central-Seoul drive network of the real data folder (``DATA_DIR``, see ``data/``):

    >>> net = read_road_network(DATA_DIR / "seoul_central_drive.graphml")
    >>> len(net.segments), int(net.segments.oneway.sum())
    (5042, 1254)
    """
    path = Path(path)
    kind, compression = detect_road_format(path)
    report = ReadReport(source=str(path))
    if kind == "graphml":
        with _open(path, compression) as stream:
            raw = read_graphml_segments(stream, report, highway_classes=highway_classes)
    else:
        osm_format = "pbf" if kind == "pbf" else "osm" + (f".{compression}" if compression else "")
        raw = read_osm_segments(
            osmium.io.File(str(path), osm_format),
            report,
            highway_classes=DRIVABLE_HIGHWAYS if highway_classes is None else highway_classes,
        )
    return _assemble(raw, report, kind)


def detect_road_format(path: str | Path) -> tuple[str, str]:
    """Recognise a road network file from its first bytes.

    Parameters
    ----------
    path
        Any file.

    Returns
    -------
    tuple of str
        The format (``"graphml"``, ``"osm"`` or ``"pbf"``) and the compression (``""``,
        ``"gz"`` or ``"bz2"``).

    Raises
    ------
    ImportFileError
        Missing, empty or not one of the three formats; the message says what it looks like.
    """
    path = Path(path)
    if not path.is_file():
        raise ImportFileError(f"{path}: no such file")
    with path.open("rb") as raw:
        head = raw.read(_SNIFF_BYTES)
    if not head:
        raise ImportFileError(f"{path}: the file is empty, not a road network")
    compression = ""
    if head[:2] == b"\x1f\x8b":
        compression = "gz"
    elif head[:3] == b"BZh":
        compression = "bz2"
    if compression:
        with _open(path, compression) as stream:
            try:
                head = stream.read(_SNIFF_BYTES)
            except (OSError, EOFError) as exc:
                raise ImportFileError(f"{path}: damaged {compression} file ({exc})") from exc
    if _is_pbf(head):
        if compression:
            raise ImportFileError(f"{path}: a compressed PBF file; PBF is compressed already")
        return "pbf", ""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<"):
        root = _XML_ROOT.search(_XML_PROLOGUE.sub(b"", text))
        name = root.group(1).decode("ascii", "replace").split(":")[-1] if root else ""
        if name == "graphml":
            return "graphml", compression
        if name == "osm":
            return "osm", compression
        if name == "osmChange":
            raise ImportFileError(f"{path}: an OSM change file (osmChange), not a road network")
        raise ImportFileError(f"{path}: XML with root element <{name}>, not GraphML or OSM XML")
    raise ImportFileError(f"{path}: {_describe(text)}, not a road network (GraphML, .osm, .pbf)")


def line_lengths_m(geometry: np.ndarray) -> np.ndarray:
    """Geodesic length of each lon/lat LineString on the WGS84 ellipsoid, vectorised.

    Parameters
    ----------
    geometry
        shapely LineStrings with lon/lat coordinates in degrees (EPSG:4326).

    Returns
    -------
    numpy.ndarray
        Lengths in metres (float64), 0 for empty or missing geometries.

    Examples
    --------
    >>> round(float(line_lengths_m(np.array([shapely.LineString([(127, 37.5), (127, 37.6)])]))[0]))
    11099
    """
    coords, index = shapely.get_coordinates(geometry, return_index=True)
    same = index[1:] == index[:-1]
    start, end = coords[:-1][same], coords[1:][same]
    _, _, distance = _GEOD.inv(start[:, 0], start[:, 1], end[:, 0], end[:, 1])
    return np.bincount(index[1:][same], weights=distance, minlength=len(geometry))


def _assemble(raw: RawSegments, report: ReadReport, kind: str) -> RoadNetworkRead:
    """Lengths, the node table and the bounds from a reader's raw segments."""
    u = np.asarray(raw.u, dtype=np.int64)
    v = np.asarray(raw.v, dtype=np.int64)
    segments = pd.DataFrame(
        {
            "u": u,
            "v": v,
            "osm_way_id": np.asarray(raw.osm_way_id, dtype=np.int64),
            "highway": pd.Series(raw.highway, dtype=object),
            "name": pd.Series(raw.name, dtype=object),
            "oneway": np.asarray(raw.oneway, dtype=bool),
            "length_m": line_lengths_m(raw.geometry),
            "geometry": pd.Series(raw.geometry, dtype=object),
            "bridge": np.asarray(raw.bridge, dtype=bool),
            "tunnel": np.asarray(raw.tunnel, dtype=bool),
            "ref": pd.Series(raw.ref, dtype=object),
            "maxspeed_kmh": np.asarray(raw.maxspeed_kmh, dtype=np.float64),
            "lanes": np.asarray(raw.lanes, dtype=np.float64),
            "attributes": pd.Series(raw.attributes, dtype=object),
        },
        columns=list(SEGMENT_COLUMNS),
    )
    node_ids, street_count = np.unique(np.concatenate([u, v]), return_counts=True)
    order = np.argsort(raw.node_id, kind="stable")
    where = order[np.searchsorted(raw.node_id, node_ids, sorter=order)]
    nodes = pd.DataFrame(
        {
            "osm_id": node_ids,
            "lon": raw.node_lon[where],
            "lat": raw.node_lat[where],
            "street_count": street_count.astype(np.int64),
        }
    )
    if kind == "graphml":
        report.extra["graph_nodes_without_segments"] = len(raw.node_id) - len(node_ids)
    report.check()
    bounds = (
        float(nodes.lon.min()),
        float(nodes.lat.min()),
        float(nodes.lon.max()),
        float(nodes.lat.max()),
    )
    return RoadNetworkRead(nodes, segments, report, kind, bounds)


def _open(path: Path, compression: str) -> IO[bytes]:
    if compression == "gz":
        return cast(IO[bytes], gzip.open(path, "rb"))
    if compression == "bz2":
        return cast(IO[bytes], bz2.open(path, "rb"))
    return path.open("rb")


def _is_pbf(head: bytes) -> bool:
    """An OSM PBF file starts with a 4-byte big-endian BlobHeader size and an OSMHeader blob."""
    if len(head) < 8:
        return False
    size = int.from_bytes(head[:4], "big")
    return 0 < size < 64 * 1024 and b"OSMHeader" in head[4 : 4 + size]


def _describe(text: bytes) -> str:
    """A short human description of a non-XML, non-PBF file's start."""
    if text[:1] in (b"{", b"["):
        return "JSON data"
    if b"\x00" in text[:1024]:
        return "a binary file of unknown kind"
    line = text.split(b"\n", 1)[0].rstrip(b"\r")
    for encoding in ("utf-8", "cp949"):
        try:
            first_line = line.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        return "a text file of unknown encoding"
    if first_line.count(",") >= 2 or first_line.count("\t") >= 2:
        return f"a CSV/table file (first line {first_line[:60]!r})"
    return f"a text file starting {first_line[:60]!r}"
