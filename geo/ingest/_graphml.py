"""Reads an OSMnx GraphML road graph into raw segments: one per road, two-way twins merged.

OSMnx stores a two-way road as two directed edges, u→v and v→u, the second with the geometry
reversed. Here the pair becomes one segment with ``oneway`` False; parallel edges between the
same two nodes with different geometry stay separate. GraphML is not OSM data, so it is read
with the standard library's XML parser; every value in it is a string.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import IO, Any

import numpy as np
import shapely

from geo.errors import ImportFileError
from geo.ingest._roads import (
    RawSegments,
    first_value,
    is_yes,
    parse_ids,
    parse_lanes,
    parse_maxspeed_kmh,
    split_values,
)
from geo.ingest.report import ReadReport, RejectedRow

_NS = "{http://graphml.graphdrawing.org/xmlns}"
_TRUE = frozenset({"true", "yes", "1"})
# Coordinates are compared at 1e-7 degrees (~1 cm), OSM's own precision.
_DECIMALS = 7
# A geometry "starts at u" when its first vertex is within ~1 cm of u.
_START_TOLERANCE_DEG = 1e-7


def _parse(stream: IO[bytes], source: str) -> tuple[dict[str, tuple[float, float]], list[Any]]:
    """Node positions (lon, lat degrees) by id and raw edges (source, target, attributes)."""
    key_names: dict[str, str] = {}
    nodes: dict[str, tuple[float, float]] = {}
    edges: list[tuple[str, str, dict[str, str]]] = []
    try:
        for _event, elem in ET.iterparse(stream, events=("end",)):
            tag = elem.tag
            if tag == _NS + "edge":
                data = {key_names.get(d.get("key", ""), ""): d.text or "" for d in elem}
                edges.append((elem.get("source", ""), elem.get("target", ""), data))
                elem.clear()
            elif tag == _NS + "node":
                data = {key_names.get(d.get("key", ""), ""): d.text or "" for d in elem}
                node_id = elem.get("id", "")
                try:
                    nodes[node_id] = (float(data["x"]), float(data["y"]))
                except (KeyError, ValueError) as exc:
                    raise ImportFileError(
                        f"{source}: GraphML node {node_id!r} has no numeric x/y attributes; "
                        "this is not an OSMnx road graph",
                        details={"node": node_id},
                    ) from exc
                elem.clear()
            elif tag == _NS + "key":
                key_names[elem.get("id", "")] = elem.get("attr.name", "")
    except ET.ParseError as exc:
        raise ImportFileError(f"{source}: GraphML is not well-formed XML ({exc})") from exc
    return nodes, edges


_TwinKey = tuple[int, int, bytes, tuple[int, ...]]


def _canonical_keys(
    u: np.ndarray, v: np.ndarray, geoms: np.ndarray, way_ids: list[tuple[int, ...]]
) -> Iterable[tuple[_TwinKey, bool]]:
    """For each edge, a direction-free key and whether the edge runs against it.

    Two edges are twins when their keys are equal and their directions opposite: same node
    pair, one geometry the reverse of the other, same OSM ways (two ways mapped over the same
    straight stretch are parallel edges with identical geometry; the ids keep them apart).
    """
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    coords = np.round(coords, _DECIMALS)
    bounds = np.searchsorted(index, np.arange(1, len(geoms)))
    parts = np.split(coords, bounds)
    for ui, vi, part, ids in zip(u.tolist(), v.tolist(), parts, way_ids, strict=True):
        forward = part.tobytes()
        backward = part[::-1].tobytes()
        flipped = ui > vi if ui != vi else backward < forward
        low, high = (vi, ui) if flipped else (ui, vi)
        yield (low, high, backward if flipped else forward, ids), flipped


def read_graphml_segments(
    stream: IO[bytes],
    report: ReadReport,
    *,
    highway_classes: frozenset[str] | None = None,
) -> RawSegments:
    """Read an OSMnx GraphML drive graph into one raw segment per road.

    Parameters
    ----------
    stream
        The GraphML document (binary file object).
    report
        Filled in place: ``rows_read`` is the number of directed edges, a reverse twin merged
        into its pair is ``merged`` (edge position, position of the kept twin), edges that
        cannot become a segment are ``rejected`` with their 1-based edge position.
    highway_classes
        When given, edges none of whose ``highway`` values is in the set are rejected.

    Returns
    -------
    RawSegments
        Geometry in lon/lat degrees (EPSG:4326), running u→v.
    """
    source = report.source
    nodes, edges = _parse(stream, source)
    report.rows_read = len(edges)
    if not edges:
        raise ImportFileError(
            f"{source}: GraphML with {len(nodes)} nodes and no edges is not a road network",
            details={"nodes": len(nodes)},
        )
    try:
        node_index = {int(node_id): i for i, node_id in enumerate(nodes)}
    except ValueError as exc:
        raise ImportFileError(
            f"{source}: GraphML node ids are not integers, so not OSM node ids ({exc})"
        ) from exc
    node_xy = np.array(list(nodes.values()), dtype=np.float64).reshape(-1, 2)

    # Edges that can become segments, by position in the file.
    keep: list[int] = []
    u_list: list[int] = []
    v_list: list[int] = []
    wkt: list[str | None] = []
    for position, (source_id, target_id, data) in enumerate(edges):
        try:
            u, v = int(source_id), int(target_id)
        except ValueError:
            u = v = -1
        if u not in node_index or v not in node_index:
            report.rejected.append(
                RejectedRow(
                    position + 1,
                    "source/target",
                    "edge refers to a node not in the graph",
                    f"{source_id}->{target_id}",
                )
            )
            continue
        if highway_classes is not None and not highway_classes.intersection(
            split_values(data.get("highway"))
        ):
            report.rejected.append(
                RejectedRow(
                    position + 1, "highway", "highway class not selected", data.get("highway", "")
                )
            )
            continue
        keep.append(position)
        u_list.append(u)
        v_list.append(v)
        wkt.append(data.get("geometry") or None)

    u_arr = np.array(u_list, dtype=np.int64)
    v_arr = np.array(v_list, dtype=np.int64)
    u_xy = node_xy[[node_index[u] for u in u_list]].reshape(-1, 2)
    v_xy = node_xy[[node_index[v] for v in v_list]].reshape(-1, 2)
    geoms = shapely.from_wkt(np.array(wkt, dtype=object), on_invalid="ignore")
    missing = np.array([w is None for w in wkt], dtype=bool)
    geoms[missing] = shapely.linestrings(np.stack([u_xy[missing], v_xy[missing]], axis=1))

    bad_wkt = (
        shapely.is_missing(geoms) | (shapely.get_type_id(geoms) != 1) | shapely.is_empty(geoms)
    )
    usable = geoms.copy()
    usable[bad_wkt] = None
    start = shapely.get_coordinates(shapely.get_point(usable, 0))
    end = shapely.get_coordinates(shapely.get_point(usable, -1))
    ok_index = np.flatnonzero(~bad_wkt)
    starts_at_u = np.zeros(len(geoms), dtype=bool)
    ends_at_u = np.zeros(len(geoms), dtype=bool)
    starts_at_u[ok_index] = np.all(np.abs(start - u_xy[ok_index]) <= _START_TOLERANCE_DEG, axis=1)
    ends_at_u[ok_index] = np.all(np.abs(end - u_xy[ok_index]) <= _START_TOLERANCE_DEG, axis=1)
    backwards = ~bad_wkt & ~starts_at_u & ends_at_u
    if backwards.any():
        geoms[backwards] = shapely.reverse(geoms[backwards])
        report.warnings.append(
            f"{int(backwards.sum())} edge geometries ran v→u and were reversed to run u→v"
        )
    zero_loop = ~bad_wkt & (u_arr == v_arr) & ~(shapely.length(geoms) > 0)

    usable = ~bad_wkt & ~zero_loop
    for i in np.flatnonzero(~usable).tolist():
        position = keep[i]
        if bad_wkt[i]:
            row = RejectedRow(
                position + 1, "geometry", "not a LineString in WKT", (wkt[i] or "")[:60]
            )
        else:
            row = RejectedRow(
                position + 1, "geometry", "self-loop without positive length", str(u_list[i])
            )
        report.rejected.append(row)

    # Pair each two-way edge with its reverse twin; keep the one in the way's own direction.
    data_of = [edges[position][2] for position in keep]
    two_way = np.array(
        [not _TRUE.intersection(v.lower() for v in split_values(d.get("oneway"))) for d in data_of],
        dtype=bool,
    )
    candidates = np.flatnonzero(usable & two_way)
    pending: dict[tuple[_TwinKey, bool], list[int]] = {}
    dropped = np.zeros(len(keep), dtype=bool)
    pairs = 0
    way_ids = [tuple(sorted(parse_ids(data_of[i].get("osmid")))) for i in candidates.tolist()]
    for i, (key, flipped) in zip(
        candidates.tolist(),
        _canonical_keys(u_arr[candidates], v_arr[candidates], geoms[candidates], way_ids),
        strict=True,
    ):
        twins = pending.get((key, not flipped))
        if not twins:
            pending.setdefault((key, flipped), []).append(i)
            continue
        j = twins.pop()
        kept, merged = j, i
        if data_of[j].get("reversed") == "True" and data_of[i].get("reversed") == "False":
            kept, merged = i, j
        dropped[merged] = True
        report.merged.append((keep[merged] + 1, keep[kept] + 1))
        pairs += 1
    report.rows_merged = pairs
    unpaired = sum(len(left) for left in pending.values())

    out = RawSegments(
        node_id=np.fromiter(node_index.keys(), dtype=np.int64, count=len(node_index)),
        node_lon=node_xy[:, 0].copy(),
        node_lat=node_xy[:, 1].copy(),
    )
    selected = np.flatnonzero(usable & ~dropped)
    for i in selected.tolist():
        data = data_of[i]
        ids = parse_ids(data.get("osmid"))
        names = split_values(data.get("name"))
        highways = split_values(data.get("highway"))
        out.u.append(u_list[i])
        out.v.append(v_list[i])
        out.osm_way_id.append(ids[0] if ids else -1)
        out.highway.append(highways[0] if highways else "")
        out.name.append(names[0] if names else "")
        out.oneway.append(not two_way[i])
        out.bridge.append(is_yes(data.get("bridge")))
        out.tunnel.append(is_yes(data.get("tunnel")))
        out.ref.append(";".join(split_values(data.get("ref"))))
        out.maxspeed_kmh.append(parse_maxspeed_kmh(data.get("maxspeed")))
        out.lanes.append(parse_lanes(data.get("lanes")))
        out.attributes.append(
            {
                "osmids": ids,
                "names": names,
                "highways": highways,
                "junction": first_value(data.get("junction")),
                "tags": {k: val for k, val in data.items() if k != "geometry"},
            }
        )
    out.geometry = geoms[selected]
    report.rows_kept = len(selected)
    report.extra.update(
        {
            "directed_edges": len(edges),
            "two_way_pairs": pairs,
            "unpaired_two_way_edges": unpaired,
            "oneway_edges": int((usable & ~two_way).sum()),
            "graph_nodes": len(nodes),
        }
    )
    if unpaired:
        report.warnings.append(
            f"{unpaired} two-way edges have no reverse twin in the graph (kept as one segment each)"
        )
    return out
