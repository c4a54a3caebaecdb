"""Reads OSM ways (XML or PBF, through pyosmium) and splits them into segments at junctions.

A segment runs between two graph nodes: the ends of a kept way and every node that appears
more than once among the kept ways (a junction, or a way touching itself). Ways are reversed
first where ``oneway=-1``, so a one-way segment's geometry always runs in the direction of
travel. Nodes missing from the extract (a way clipped at the extract's edge) cut the way into
the stretches whose nodes are present; each stretch end becomes a dead end.
"""

from __future__ import annotations

from array import array
from collections import Counter
from itertools import chain
from typing import Any

import numpy as np
import osmium
import shapely

from geo.errors import ImportFileError
from geo.ingest._roads import (
    RawSegments,
    is_yes,
    parse_lanes,
    parse_maxspeed_kmh,
    split_values,
)
from geo.ingest.report import ReadReport, RejectedRow

# libosmium's coordinate of a node whose location is unknown (not in the extract).
_UNDEFINED = 2147483647
_COORDINATE_PRECISION = 1e7
TAGS_OF_INTEREST = (
    "highway",
    "name",
    "name:ko",
    "name:en",
    "ref",
    "oneway",
    "junction",
    "bridge",
    "tunnel",
    "layer",
    "maxspeed",
    "lanes",
    "access",
    "service",
)
_FORWARD = frozenset({"yes", "true", "1"})
_BACKWARD = frozenset({"-1", "reverse"})
_IMPLIED_ONEWAY_JUNCTIONS = frozenset({"roundabout", "circular"})
_MAX_WAY_WARNINGS = 100


def travel_direction(tags: dict[str, str]) -> int:
    """+1 one-way along the way, -1 one-way against it, 0 two-way, from OSM tags.

    ``oneway=yes|true|1`` and ``-1|reverse`` are explicit; ``no|false|0`` is explicitly two-way;
    without a ``oneway`` tag, ``junction=roundabout|circular`` and ``highway=motorway`` imply
    one-way as OSM defines. Other values (``reversible``, ``alternating``: the direction
    changes with time) are two-way.

    Examples
    --------
    >>> travel_direction({"highway": "residential", "oneway": "-1"})
    -1
    >>> travel_direction({"highway": "motorway"}), travel_direction({"highway": "motorway",
    ...     "oneway": "no"})
    (1, 0)
    """
    value = tags.get("oneway", "").strip().lower()
    if value in _FORWARD:
        return 1
    if value in _BACKWARD:
        return -1
    if value:
        return 0
    if tags.get("junction") in _IMPLIED_ONEWAY_JUNCTIONS or tags.get("highway") == "motorway":
        return 1
    return 0


def read_osm_segments(
    osm_file: osmium.io.File,
    report: ReadReport,
    *,
    highway_classes: frozenset[str],
) -> RawSegments:
    """Read the road ways of an OSM file and split them into segments.

    Parameters
    ----------
    osm_file
        The OSM XML or PBF file, format already set.
    report
        Filled in place. ``rows_read`` counts the ways of the selected classes (not
        ``area=yes``); a way is kept when it yields at least one segment and rejected
        otherwise, its ``line`` being its 1-based position among the ways read and its
        ``value`` its OSM id. Ways of other classes are counted in
        ``extra["highway_ways_not_selected"]``.
    highway_classes
        ``highway`` values to keep.

    Returns
    -------
    RawSegments
        Geometry in lon/lat degrees (EPSG:4326), running u→v in the direction of travel.
    """
    source = report.source
    processor = (
        osmium.FileProcessor(osm_file)
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter("highway"))
    )
    not_selected: Counter[str] = Counter()
    way_ids: list[int] = []
    way_tags: list[dict[str, str]] = []
    way_reversed: list[bool] = []
    way_sizes: list[int] = []
    # (ref, x, y) of every way node, flattened: 24 bytes a node, not a Python tuple.
    flat = array("q")
    try:
        for way in processor:
            if not isinstance(way, osmium.osm.Way):
                continue
            tags = way.tags
            highway = tags.get("highway") or ""
            if highway not in highway_classes:
                not_selected[highway] += 1
                continue
            if tags.get("area") == "yes":
                not_selected[f"{highway} (area=yes)"] += 1
                continue
            kept = {k: tags[k] for k in TAGS_OF_INTEREST if k in tags}
            direction = travel_direction(kept)
            nodes = [(n.ref, n.x, n.y) for n in way.nodes]
            if direction < 0:
                nodes.reverse()
            way_ids.append(way.id)
            way_tags.append(kept)
            way_reversed.append(direction < 0)
            way_sizes.append(len(nodes))
            flat.extend(chain.from_iterable(nodes))
    except RuntimeError as exc:
        raise ImportFileError(f"{source}: pyosmium cannot read this OSM file ({exc})") from exc

    report.rows_read = len(way_ids)
    report.extra["highway_ways_not_selected"] = dict(not_selected.most_common())
    if not way_ids:
        if not_selected:
            shown = ", ".join(f"{k}: {n}" for k, n in not_selected.most_common(8))
            raise ImportFileError(
                f"{source}: OSM file has {sum(not_selected.values())} highway ways but none of "
                f"the selected road classes ({shown})",
                details={"highway_ways": dict(not_selected)},
            )
        raise ImportFileError(
            f"{source}: OSM file has no ways tagged highway=*, not a road network"
        )

    table = np.frombuffer(flat, dtype=np.int64).reshape(-1, 3)
    way_of = np.repeat(np.arange(len(way_ids)), way_sizes)
    ref, x, y = table[:, 0], table[:, 1], table[:, 2]
    # A node repeated back to back in a way is a mapping error, not a junction.
    repeat = np.zeros(len(ref), dtype=bool)
    repeat[1:] = (ref[1:] == ref[:-1]) & (way_of[1:] == way_of[:-1])
    ref, x, y, way_of = ref[~repeat], x[~repeat], y[~repeat], way_of[~repeat]

    located = x != _UNDEFINED
    position = np.flatnonzero(located)
    ref, x, y, way_of = ref[position], x[position], y[position], way_of[position]
    run_break = (way_of[1:] != way_of[:-1]) | (np.diff(position) != 1)
    run = np.concatenate([[0], np.cumsum(run_break)]) if len(ref) else np.empty(0, np.int64)
    long_run = np.bincount(run)[run] >= 2 if len(ref) else np.empty(0, bool)
    ref, x, y = ref[long_run], x[long_run], y[long_run]
    way_of, run = way_of[long_run], run[long_run]

    run_start = np.ones(len(ref), dtype=bool)
    run_start[1:] = run[1:] != run[:-1]
    run_end = np.ones(len(ref), dtype=bool)
    run_end[:-1] = run[1:] != run[:-1]
    unique_refs, inverse, uses = np.unique(ref, return_inverse=True, return_counts=True)
    is_node = (uses[inverse] >= 2) | run_start | run_end

    split = np.flatnonzero(is_node)
    same_run = run[split[:-1]] == run[split[1:]]
    first, last = split[:-1][same_run], split[1:][same_run]
    sizes = last - first + 1
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    vertex = np.repeat(first - offsets, sizes) + np.arange(int(sizes.sum()))
    lon = x / _COORDINATE_PRECISION
    lat = y / _COORDINATE_PRECISION
    geoms = (
        shapely.linestrings(
            lon[vertex], lat[vertex], indices=np.repeat(np.arange(len(first)), sizes)
        )
        if len(first)
        else np.empty(0, dtype=object)
    )
    seg_u, seg_v, seg_way = ref[first], ref[last], way_of[first]
    usable = (seg_u != seg_v) | (shapely.length(geoms) > 0)
    geoms, seg_u, seg_v, seg_way = geoms[usable], seg_u[usable], seg_v[usable], seg_way[usable]

    _report_ways(
        report,
        way_ids=way_ids,
        way_sizes=way_sizes,
        located=located,
        repeat=repeat,
        seg_way=seg_way,
    )
    if report.rows_kept == 0:
        raise ImportFileError(
            f"{source}: none of its {len(way_ids)} road ways has two nodes inside the extract",
            details={"ways": len(way_ids)},
        )

    out = RawSegments(
        geometry=geoms,
        node_id=unique_refs,
        node_lon=np.zeros(len(unique_refs)),
        node_lat=np.zeros(len(unique_refs)),
    )
    out.node_lon[inverse] = lon
    out.node_lat[inverse] = lat
    per_way = [_way_columns(way_ids[i], way_tags[i], way_reversed[i]) for i in range(len(way_ids))]
    out.u = seg_u.tolist()
    out.v = seg_v.tolist()
    for w in seg_way.tolist():
        columns, attributes = per_way[w]
        out.osm_way_id.append(columns["osm_way_id"])
        out.highway.append(columns["highway"])
        out.name.append(columns["name"])
        out.oneway.append(columns["oneway"])
        out.bridge.append(columns["bridge"])
        out.tunnel.append(columns["tunnel"])
        out.ref.append(columns["ref"])
        out.maxspeed_kmh.append(columns["maxspeed_kmh"])
        out.lanes.append(columns["lanes"])
        out.attributes.append(
            {
                "osmids": [columns["osm_way_id"]],
                "names": list(attributes["names"]),
                "highways": [columns["highway"]],
                "junction": attributes["junction"],
                "reversed": attributes["reversed"],
                "tags": dict(attributes["tags"]),
            }
        )
    return out


def _way_columns(way_id: int, tags: dict[str, str], flipped: bool) -> tuple[dict[str, Any], ...]:
    """Per-way column values and attributes, computed once and shared by its segments."""
    names = split_values(tags.get("name"))
    columns = {
        "osm_way_id": way_id,
        "highway": tags.get("highway", ""),
        "name": names[0] if names else "",
        "oneway": travel_direction(tags) != 0,
        "bridge": is_yes(tags.get("bridge")),
        "tunnel": is_yes(tags.get("tunnel")),
        "ref": tags.get("ref", ""),
        "maxspeed_kmh": parse_maxspeed_kmh(tags.get("maxspeed")),
        "lanes": parse_lanes(tags.get("lanes")),
    }
    attributes = {
        "names": names,
        "junction": tags.get("junction", ""),
        "reversed": flipped,
        "tags": tags,
    }
    return columns, attributes


def _report_ways(
    report: ReadReport,
    *,
    way_ids: list[int],
    way_sizes: list[int],
    located: np.ndarray,
    repeat: np.ndarray,
    seg_way: np.ndarray,
) -> None:
    """Count kept and rejected ways and warn about ways clipped by the extract's edge."""
    n_ways = len(way_ids)
    way_of_all = np.repeat(np.arange(n_ways), way_sizes)
    way_of_distinct = way_of_all[~repeat]
    distinct = np.bincount(way_of_distinct, minlength=n_ways)
    present = np.bincount(way_of_distinct[located], minlength=n_ways)
    has_segment = np.zeros(n_ways, dtype=bool)
    has_segment[seg_way] = True
    report.rows_kept = int(has_segment.sum())
    for w in np.flatnonzero(~has_segment).tolist():
        if present[w] < 2:
            reason = f"only {present[w]} of its {distinct[w]} nodes are in the extract"
        else:
            reason = "no stretch of positive length (all its located nodes coincide)"
        report.rejected.append(RejectedRow(w + 1, "nd", reason, f"way {way_ids[w]}"))
    clipped = np.flatnonzero(has_segment & (present < distinct))
    report.extra["ways_clipped"] = len(clipped)
    if len(clipped):
        report.warnings.append(
            f"{len(clipped)} ways are clipped by the extract's edge: only their stretches with "
            "nodes in the file were kept"
        )
        for w in clipped[:_MAX_WAY_WARNINGS].tolist():
            report.warnings.append(
                f"way {way_ids[w]}: {distinct[w] - present[w]} of {distinct[w]} nodes missing "
                "from the extract"
            )
