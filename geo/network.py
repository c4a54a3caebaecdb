"""The road graph behind network cordons: compact CSR arrays in the working CRS, snapping a
point to its road, and bounded shortest road distances to or from that point.

:func:`build_road_network` turns the segment table of :func:`geo.ingest.osm.read_road_network`
(or the same columns from PostGIS or a GeoPackage) into flat numpy arrays, built once. A query
never touches the whole network: it selects the nodes inside the disk of radius R around the
snapped point — road distance is never shorter than straight-line distance, so no node farther
than R as the crow flies can be within R along the roads — and runs a bounded Dijkstra there.

Lengths are measured on the geometry in the working CRS (not the reader's geodesic
``length_m``, which differs by the projection's scale factor, under 0.1 % in Korea), so that
"the point at distance R along the edge" and the distances agree exactly.

Data edge: a road network is an extract. A reached node whose remaining budget (R minus its
road distance) would carry a traveller, as the crow flies, to the boundary of the extract's
extent could continue on roads that were cut off; such a cordon is *incomplete*: approaches
beyond the data are unknown, not absent.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, cast

import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike, NDArray

from geo.crs import DEFAULT_WORKING_CRS, geometry_to_xy, transform_geometry
from geo.domain import MAIN_ROAD_CLASSES, TRAVEL_MODES
from geo.errors import InvalidInput, NoRoadData, OutsideCoverageArea
from geo.kernels.arrays import floats, ints
from geo.kernels.build import (
    edge_distances,
    group_by_key,
    hilbert_keys,
    line_boxes,
    merged_adjacency,
)
from geo.kernels.cordon import SegmentAttrs
from geo.kernels.graph import Adjacency, Records, bounded_search
from geo.kernels.grid import Grid, build_grid, snap_in_grid
from geo.kernels.lines import Polylines, inside_and_edge_distance, locate, substrings

#: Snapping looks this far first, metres, before looking as far as it may.
_SNAP_NEAR_M = 50.0

#: Per-thread node-distance buffers of :meth:`RoadNetwork.node_scratch`.
_SCRATCH = threading.local()


@dataclass(frozen=True, eq=False)
class TravelGraph:
    """The directed edges one travel mode may use, and adjacency over them.

    An *edge record* is one direction of one segment: ``forward`` records run along the
    segment's geometry (u→v), backward ones against it. ``by_head``/``by_tail`` list record
    ids grouped by head/tail node (CSR with ``*_ptr``). ``out_*``/``in_*`` are the CSR
    adjacency (successors / predecessors) used by the shortest-path search, with parallel
    edges reduced to the shortest.
    """

    travel: str
    seg: NDArray[np.int64]
    forward: NDArray[np.bool_]
    tail: NDArray[np.int64]
    head: NDArray[np.int64]
    by_head_ptr: NDArray[np.int64]
    by_head: NDArray[np.int64]
    by_tail_ptr: NDArray[np.int64]
    by_tail: NDArray[np.int64]
    out_ptr: NDArray[np.int64]
    out_idx: NDArray[np.int64]
    out_w: NDArray[np.float64]
    in_ptr: NDArray[np.int64]
    in_idx: NDArray[np.int64]
    in_w: NDArray[np.float64]

    def adjacency(self, *, toward: bool) -> Adjacency:
        """The search's adjacency: predecessors (``toward`` a point: the reversed graph) or
        successors."""
        return self._structures[toward][0]

    def records(self, *, toward: bool) -> Records:
        """The edge records by the node a search reaches them from: by head ``toward`` a point
        (their far end the tail), else by tail (their far end the head)."""
        return self._structures[toward][1]

    @cached_property
    def _structures(self) -> dict[bool, tuple[Adjacency, Records]]:
        """:meth:`adjacency` and :meth:`records` by ``toward``, made once."""
        return {
            True: (
                Adjacency(self.in_ptr, self.in_idx, self.in_w),
                Records(self.by_head_ptr, self.by_head, self.seg, self.forward, self.tail),
            ),
            False: (
                Adjacency(self.out_ptr, self.out_idx, self.out_w),
                Records(self.by_tail_ptr, self.by_tail, self.seg, self.forward, self.head),
            ),
        }


@dataclass(frozen=True, eq=False)
class RoadNetwork:
    """A road network as flat arrays in the working CRS (metres).

    Nodes are indexed 0..n-1 (``node_id`` holds their OSM ids), segments 0..m-1 in the order of
    the input table. A segment's vertices are ``coord_x/coord_y[coord_start[s]:coord_start[s+1]]``
    and ``coord_cum`` their cumulative distance along the concatenation of all segments, so
    positions along any segment can be found with one ``searchsorted``.
    """

    crs: str
    extent: shapely.Geometry
    extent_boundary: shapely.Geometry
    node_id: NDArray[np.int64]
    node_x: NDArray[np.float64]
    node_y: NDArray[np.float64]
    node_edge_m: NDArray[np.float64]
    seg_u: NDArray[np.int64]
    seg_v: NDArray[np.int64]
    seg_oneway: NDArray[np.bool_]
    seg_length: NDArray[np.float64]
    seg_name: NDArray[np.object_]
    seg_highway: NDArray[np.object_]
    seg_ref: NDArray[np.object_]
    seg_way: NDArray[np.int64]
    seg_bridge: NDArray[np.bool_]
    seg_tunnel: NDArray[np.bool_]
    seg_main: NDArray[np.bool_]
    seg_road: NDArray[np.int64]
    seg_bounds: NDArray[np.float64]
    coord_x: NDArray[np.float64]
    coord_y: NDArray[np.float64]
    coord_start: NDArray[np.int64]
    coord_cum: NDArray[np.float64]
    graphs: Mapping[str, TravelGraph]
    seg_grid: Grid

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_id.shape[0])

    @property
    def n_segments(self) -> int:
        """Number of segments (a two-way street counts once)."""
        return int(self.seg_u.shape[0])

    def graph(self, travel: str) -> TravelGraph:
        """The directed graph for ``travel`` (``"drive"``: one-way respected; ``"foot"``: not)."""
        try:
            return self.graphs[travel]
        except KeyError:
            raise InvalidInput(
                f"unknown travel mode {travel!r}; use one of {', '.join(TRAVEL_MODES)}"
            ) from None

    def distance_to_edge(self, x: float, y: float) -> float:
        """Metres from (x, y) to the boundary of the data's extent; 0 outside it."""
        ax, ay, bx, by = self._extent_edges
        inside, distance = inside_and_edge_distance(ax, ay, bx, by, float(x), float(y))
        return float(distance) if inside else 0.0

    def covers(self, x: float, y: float) -> bool:
        """Whether (x, y) lies in the data's extent or on its boundary."""
        ax, ay, bx, by = self._extent_edges
        inside, distance = inside_and_edge_distance(ax, ay, bx, by, float(x), float(y))
        return bool(inside) or distance == 0.0

    @cached_property
    def seg_geometry(self) -> NDArray[np.object_]:
        """The segments as LineStrings (working CRS), made from the vertex arrays on first use:
        the incident query never needs them (planning and heading inference do)."""
        owner = np.repeat(np.arange(self.n_segments), np.diff(self.coord_start))
        coords = np.column_stack([self.coord_x, self.coord_y])
        return np.asarray(shapely.linestrings(coords, indices=owner), dtype=object)

    @cached_property
    def seg_tree(self) -> shapely.STRtree:
        """An R-tree over :attr:`seg_geometry`, made on first use."""
        return shapely.STRtree(self.seg_geometry)

    @cached_property
    def node_tree(self) -> shapely.STRtree:
        """An R-tree over the nodes' points, made on first use."""
        return shapely.STRtree(np.asarray(shapely.points(self.node_x, self.node_y), dtype=object))

    @cached_property
    def segment_attrs(self) -> SegmentAttrs:
        """What a cordon reads of each segment, as the compiled loops take it."""
        return SegmentAttrs(self.seg_oneway, self.seg_road, self.seg_main)

    @cached_property
    def polylines(self) -> Polylines:
        """The segments' geometry as the compiled loops take it."""
        return Polylines(
            self.coord_start, self.coord_cum, self.coord_x, self.coord_y, self.seg_length
        )

    @cached_property
    def _extent_edges(self) -> tuple[NDArray[np.float64], ...]:
        """The pieces of the extent's boundary: start x, y and end x, y."""
        return extent_edges(self.extent_boundary)

    def points_along(
        self, seg: ArrayLike, offset_m: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Points at ``offset_m`` metres along segments' geometry (from u), and the geometry's
        azimuth there (degrees clockwise from grid north, direction u→v).

        Offsets are clipped to the segment. At a vertex, the azimuth is the one of the piece
        that starts there (the last piece at the segment's end).
        """
        seg = ints(seg)
        x, y, azimuth, _, _ = locate(*self.polylines, seg, floats(offset_m, seg.shape[0]))
        return x, y, azimuth

    def substrings(
        self, seg: ArrayLike, start_m: ArrayLike, end_m: ArrayLike
    ) -> NDArray[np.object_]:
        """LineStrings of segments' geometry between two offsets (metres from u), vectorised.

        Each line runs from ``start_m`` to ``end_m``; where ``start_m > end_m`` it runs
        against the geometry. Offsets are clipped to the segment.
        """
        seg = ints(seg)
        if seg.shape[0] == 0:
            return np.empty(0, dtype=object)
        px, py, line = self.substring_vertices(seg, start_m, end_m)
        coords = np.empty((px.shape[0], 2))
        coords[:, 0], coords[:, 1] = px, py
        return np.asarray(shapely.linestrings(coords, indices=line), dtype=object)

    def substring_vertices(
        self, seg: ArrayLike, start_m: ArrayLike, end_m: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
        """The vertices of :meth:`substrings` without building geometries: x, y and the line
        (position in ``seg``) each belongs to, lines in order."""
        seg = ints(seg)
        if seg.shape[0] == 0:
            return np.empty(0), np.empty(0), np.empty(0, dtype=np.int64)
        n = seg.shape[0]
        return substrings(*self.polylines, seg, floats(start_m, n), floats(end_m, n))

    def node_scratch(self) -> NDArray[np.float64]:
        """This thread's buffer of node distances for the bounded search (all ``inf``)."""
        buffers = getattr(_SCRATCH, "buffers", None)
        if buffers is None:
            buffers = _SCRATCH.buffers = weakref.WeakKeyDictionary()
        scratch = buffers.get(self)
        if scratch is None:
            scratch = buffers[self] = np.full(self.n_nodes, np.inf)
        return cast(NDArray[np.float64], scratch)


@dataclass(frozen=True)
class SnappedPoint:
    """Where a point meets its nearest road segment.

    ``offset_m`` is the distance along the segment's geometry from its u end; ``distance_m``
    the straight-line distance from the original point (metres, working CRS).
    """

    segment: int
    offset_m: float
    x: float
    y: float
    distance_m: float


@dataclass(frozen=True, eq=False)
class Reach:
    """Bounded road distances between a snapped point P and the nodes around it.

    ``toward`` True: distances *to* P (traffic coming in); False: *from* P (traffic leaving).
    ``nodes`` (sorted node indices) are the nodes within ``radius_m`` along the roads and
    ``dist`` their road distance in metres.

    The search also finds where the cordon's bound cuts the graph: ``crossing_rec`` are the
    edge records (of the travel graph) running from beyond the bound to a reached node (toward
    P) or from a reached node to beyond it (from P), P's own segment excepted, and
    ``crossing_along`` the metres from the reached end to the bound. ``end_dist`` holds the
    road distances of P's segment's u and v ends (``inf`` beyond the radius), and
    ``reaches_edge`` whether a traveller within the budget could get to the data's edge from a
    reached node.
    """

    snap: SnappedPoint
    radius_m: float
    travel: str
    toward: bool
    nodes: NDArray[np.int64]
    dist: NDArray[np.float64]
    crossing_rec: NDArray[np.int64] = field(repr=False)
    crossing_along: NDArray[np.float64] = field(repr=False)
    end_dist: tuple[float, float] = (np.inf, np.inf)
    reaches_edge: bool = False

    def lookup(self, node: ArrayLike) -> NDArray[np.float64]:
        """Road distance (metres) of nodes by index; ``inf`` where beyond the radius."""
        node = np.asarray(node, dtype=np.int64)
        if self.nodes.shape[0] == 0:
            return np.full(node.shape, np.inf)
        pos = np.searchsorted(self.nodes, node)
        pos_c = np.minimum(pos, self.nodes.shape[0] - 1)
        found = self.nodes[pos_c] == node
        return np.where(found, self.dist[pos_c], np.inf)

    @property
    def reached(self) -> NDArray[np.int64]:
        """Indices of the nodes within ``radius_m`` along the roads."""
        return self.nodes


def _column(frame: Any, name: str, default: Any, n: int) -> NDArray[Any]:
    if name in frame:
        return np.asarray(frame[name])
    return np.full(n, default)


def _text_codes(frame: Any, name: str, n: int) -> tuple[NDArray[np.int64], NDArray[np.object_]]:
    """A text column as codes into its distinct values (str; a missing value is ``""``): the
    column is ``values[codes]``."""
    raw = frame[name] if name in frame else np.full(n, "")
    codes, uniques = pd.factorize(raw if isinstance(raw, pd.Series) else pd.Series(np.asarray(raw)))
    values = np.empty(len(uniques) + 1, dtype=object)
    values[:-1] = [str(v) for v in np.asarray(uniques, dtype=object)]
    values[-1] = ""
    return np.where(codes < 0, len(uniques), codes).astype(np.int64), values


def _road_numbers(
    name: tuple[NDArray[np.int64], NDArray[np.object_]],
    ref: tuple[NDArray[np.int64], NDArray[np.object_]],
    way: NDArray[np.int64],
) -> NDArray[np.int64]:
    """Each segment's road: one name, else one ref, else one OSM way; numbered in the order
    of their labels ``n:<name>``, ``r:<ref>``, ``w:<way>`` (the labels are made once per road,
    not per segment)."""
    (name_codes, names), (ref_codes, refs) = name, ref
    way_codes, ways = pd.factorize(way)
    named = (names != "")[name_codes]
    reffed = (refs != "")[ref_codes]
    kind = np.where(named, 0, np.where(reffed, 1, 2)).astype(np.int64)
    value = np.where(named, name_codes, np.where(reffed, ref_codes, way_codes)).astype(np.int64)
    groups, keys = pd.factorize((kind << 40) | value)
    keys = np.asarray(keys, dtype=np.int64)
    key_kind, key_value = keys >> 40, keys & ((1 << 40) - 1)
    labels = np.empty(keys.shape[0], dtype=object)
    for k, prefix, values in ((0, "n:", names), (1, "r:", refs), (2, "w:", ways)):
        at = np.flatnonzero(key_kind == k)
        labels[at] = [prefix + str(v) for v in np.asarray(values, dtype=object)[key_value[at]]]
    rank = np.empty(keys.shape[0], dtype=np.int64)
    rank[np.argsort(labels.astype(str), kind="stable")] = np.arange(keys.shape[0])
    return rank[groups]


def extent_edges(boundary: shapely.Geometry) -> tuple[NDArray[np.float64], ...]:
    """The pieces of an extent's boundary (every ring): start x, y and end x, y."""
    rings = shapely.get_parts(shapely.get_parts(boundary))
    coords, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[1:] == ring[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    return tuple(np.ascontiguousarray(v) for v in (a[:, 0], a[:, 1], b[:, 0], b[:, 1]))


def spatial_order(geometries: ArrayLike, *, bits: int = 16) -> NDArray[np.int64]:
    """A permutation putting geometries in the order of the Hilbert curve through the centres
    of their bounding boxes (see :func:`hilbert_order`).

    A road network built from a table in this order numbers near segments (and, through
    them, near nodes) with near numbers, so a query's few hundred segments and nodes lie in a
    few stretches of memory instead of all over it.

    Examples
    --------
    >>> lines = shapely.linestrings([[(0, 0), (1, 0)], [(9, 9), (9, 8)], [(1, 1), (0, 1)]])
    >>> spatial_order(lines).tolist()
    [0, 2, 1]
    """
    bounds = shapely.bounds(np.asarray(geometries, dtype=object)).reshape(-1, 4)
    return hilbert_order(
        (bounds[:, 0] + bounds[:, 2]) / 2, (bounds[:, 1] + bounds[:, 3]) / 2, bits=bits
    )


def hilbert_order(x: ArrayLike, y: ArrayLike, *, bits: int = 16) -> NDArray[np.int64]:
    """A permutation putting points in the order of the Hilbert curve on a ``2**bits`` grid
    over their extent; points in one cell keep their order.

    Examples
    --------
    >>> hilbert_order([0, 9, 0, 9], [0, 0, 9, 9]).tolist()  # up, right, down
    [0, 2, 3, 1]
    """
    cx, cy = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = cx.shape[0]
    if n == 0:
        return np.empty(0, dtype=np.int64)
    side = 1 << bits
    span = max(float(np.ptp(cx)), float(np.ptp(cy)), 1e-9)
    gx = np.minimum(((cx - cx.min()) / span * side).astype(np.int64), side - 1)
    gy = np.minimum(((cy - cy.min()) / span * side).astype(np.int64), side - 1)
    key = hilbert_keys(ints(gx), ints(gy), side)
    return np.argsort(key, kind="stable").astype(np.int64)


def _csr_by(key: NDArray[np.int64], n: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    ptr, order = group_by_key(ints(key), n)
    return ptr, order


def _adjacency(
    src: NDArray[np.int64], dst: NDArray[np.int64], w: NDArray[np.float64], n: int
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """CSR rows by ``src``, each row's edges by ``dst``; of parallel edges only the shortest is
    kept."""
    ptr, targets, weights = merged_adjacency(ints(src), ints(dst), floats(w), n)
    return ptr, targets, weights  # explicit zeros stay edges in csgraph


def _travel_graph(
    travel: str,
    *,
    u: NDArray[np.int64],
    v: NDArray[np.int64],
    oneway: NDArray[np.bool_],
    length: NDArray[np.float64],
    n: int,
) -> TravelGraph:
    two_way = ~oneway if travel == "drive" else np.ones(u.shape[0], dtype=bool)
    seg_ids = np.arange(u.shape[0], dtype=np.int64)
    back = seg_ids[two_way]
    seg = np.concatenate([seg_ids, back])
    forward = np.concatenate([np.ones(u.shape[0], bool), np.zeros(back.shape[0], bool)])
    tail = np.concatenate([u, v[back]])
    head = np.concatenate([v, u[back]])
    w = length[seg]
    by_head_ptr, by_head = _csr_by(head, n)
    by_tail_ptr, by_tail = _csr_by(tail, n)
    out_ptr, out_idx, out_w = _adjacency(tail, head, w, n)
    in_ptr, in_idx, in_w = _adjacency(head, tail, w, n)
    return TravelGraph(
        travel, seg, forward, tail, head, by_head_ptr, by_head, by_tail_ptr, by_tail,
        out_ptr, out_idx, out_w, in_ptr, in_idx, in_w,
    )  # fmt: skip


def _working_geometry(segments: Any, crs: str, segments_crs: Any) -> NDArray[np.object_]:
    """Segment geometries in the working CRS; a table without a CRS is taken as lon/lat."""
    geoms = np.asarray(segments["geometry"], dtype=object)
    source = segments_crs if segments_crs is not None else getattr(segments, "crs", None)
    if source is None:
        return geometry_to_xy(geoms, crs=crs)
    return transform_geometry(geoms, source=source, target=crs)


def build_road_network(
    segments: Any,
    *,
    crs: str = DEFAULT_WORKING_CRS,
    extent: shapely.Geometry | None = None,
    segments_crs: Any = None,
) -> RoadNetwork:
    """Build the compact road graph from a segment table, once.

    Parameters
    ----------
    segments
        A (Geo)DataFrame or mapping of columns: ``u``, ``v`` (OSM node ids), ``oneway`` (True:
        traffic only u→v, the geometry runs u→v), ``geometry`` (LineStrings; lon/lat unless a
        GeoDataFrame says otherwise), and optionally ``name``, ``highway``, ``ref``,
        ``osm_way_id``, ``bridge``, ``tunnel``. A two-way street appears once.
    crs
        Working CRS (metres).
    extent
        Area the extract covers, in the working CRS (e.g. ``road_network.extent`` in PostGIS).
        Default: the bounding box of every vertex. Used for "outside the data" and incomplete
        cordons.
    segments_crs
        CRS of the segment geometries when the table does not carry one (default lon/lat).

    Raises
    ------
    NoRoadData
        when the table is empty.
    InvalidInput
        when a column is missing or a geometry does not start at u and end at v.
    """
    for column in ("u", "v", "oneway", "geometry"):
        if column not in segments:
            raise InvalidInput(f"road segments need a {column!r} column")
    n_seg = len(segments["u"])
    if n_seg == 0:
        raise NoRoadData("the road network has no segments")
    geoms = _working_geometry(segments, crs, segments_crs)
    if not np.all(shapely.get_type_id(geoms) == shapely.GeometryType.LINESTRING):
        raise InvalidInput("every road segment geometry must be a LineString")
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    counts = np.bincount(owner, minlength=n_seg)
    return road_network_from_vertices(segments, coords, counts, crs=crs, extent=extent)


def segment_bounds(coords: NDArray[np.float64], counts: NDArray[np.int64]) -> NDArray[np.float64]:
    """Bounding boxes (n, 4: minx, miny, maxx, maxy) of lines given as their vertices
    (``coords``, (m, 2)) and each line's vertex count (every count ≥ 1), as
    ``shapely.bounds`` gives them."""
    counts = ints(counts)
    if counts.shape[0] == 0:
        return np.empty((0, 4))
    return line_boxes(floats(coords[:, 0]), floats(coords[:, 1]), counts)


def road_network_from_vertices(
    segments: Any,
    coords: NDArray[np.float64],
    counts: NDArray[np.int64],
    *,
    crs: str = DEFAULT_WORKING_CRS,
    extent: shapely.Geometry | None = None,
) -> RoadNetwork:
    """:func:`build_road_network` for segments whose geometry is given as vertices: ``coords``
    ((m, 2), working CRS, one segment's after the other's) and each segment's vertex count;
    ``segments`` holds the other columns (``u``, ``v``, ``oneway``, …). Readers that have
    the vertices as arrays (the PostGIS snapshot) build no geometry object at all.
    """
    n_seg = len(segments["u"])
    if n_seg == 0:
        raise NoRoadData("the road network has no segments")
    counts = np.asarray(counts, dtype=np.int64)
    if np.any(counts < 2):
        raise InvalidInput("every road segment geometry needs at least two vertices")
    coord_start = np.zeros(n_seg + 1, dtype=np.int64)
    np.cumsum(counts, out=coord_start[1:])
    step = np.hypot(np.diff(coords[:, 0]), np.diff(coords[:, 1]))
    step[coord_start[1:-1] - 1] = 0.0  # no length between one segment's end and the next start
    coord_cum = np.concatenate([[0.0], np.cumsum(step)])
    seg_length = coord_cum[coord_start[1:] - 1] - coord_cum[coord_start[:-1]]

    u_ids = np.asarray(segments["u"], dtype=np.int64)
    v_ids = np.asarray(segments["v"], dtype=np.int64)
    # nodes numbered in the order the segments first name them (u, then v): a table in
    # spatial order (see :func:`spatial_order`) gives neighbouring nodes neighbouring numbers
    ends = np.column_stack([u_ids, v_ids]).reshape(-1)
    codes, node_id = pd.factorize(ends)  # numbered in order of first appearance
    numbered = codes.astype(np.int64).reshape(n_seg, 2)
    seg_u = np.ascontiguousarray(numbered[:, 0])
    seg_v = np.ascontiguousarray(numbered[:, 1])
    inverse = np.concatenate([seg_u, seg_v])
    n_nodes = node_id.shape[0]
    # a node's position is the end of the first segment that names it
    end_xy = np.concatenate([coords[coord_start[:-1]], coords[coord_start[1:] - 1]])
    first = np.full(n_nodes, -1, dtype=np.int64)
    order = np.arange(2 * n_seg)[::-1]
    first[inverse[order]] = order
    node_x, node_y = end_xy[first, 0], end_xy[first, 1]

    if extent is None:
        extent = shapely.box(*shapely.bounds(shapely.multipoints(coords)))
    extent_boundary = shapely.boundary(extent)
    shapely.prepare(extent)
    shapely.prepare(extent_boundary)
    # 0 outside the extent; inside, the distance to its boundary (every ring)
    ax, ay, bx, by = extent_edges(extent_boundary)
    node_edge_m = np.where(
        shapely.contains_xy(extent, node_x, node_y),
        edge_distances(ax, ay, bx, by, floats(node_x), floats(node_y), 64),
        0.0,
    )

    # writable copies, as a mapped snapshot's arrays are: the compiled loops take one layout
    oneway = np.array(pd.Series(np.asarray(segments["oneway"])).fillna(False), dtype=bool)
    highway_codes, highways = _text_codes(segments, "highway", n_seg)
    names, refs = _text_codes(segments, "name", n_seg), _text_codes(segments, "ref", n_seg)
    highway, name, ref = highways[highway_codes], names[1][names[0]], refs[1][refs[0]]
    way = np.array(pd.to_numeric(pd.Series(_column(segments, "osm_way_id", -1, n_seg)))
                     .fillna(-1), dtype=np.int64)  # fmt: skip
    bridge = np.array(pd.Series(_column(segments, "bridge", False, n_seg)).fillna(False), bool)
    tunnel = np.array(pd.Series(_column(segments, "tunnel", False, n_seg)).fillna(False), bool)
    seg_road = _road_numbers(names, refs, way)
    main = np.isin(highways, list(MAIN_ROAD_CLASSES))[highway_codes]

    seg_bounds = segment_bounds(coords, counts)
    graphs = {
        travel: _travel_graph(travel, u=seg_u, v=seg_v, oneway=oneway, length=seg_length, n=n_nodes)
        for travel in TRAVEL_MODES
    }
    return RoadNetwork(
        crs=crs,
        extent=extent,
        extent_boundary=extent_boundary,
        node_id=node_id.astype(np.int64),
        node_x=node_x,
        node_y=node_y,
        node_edge_m=node_edge_m,
        seg_u=seg_u,
        seg_v=seg_v,
        seg_oneway=oneway,
        seg_length=seg_length,
        seg_name=name,
        seg_highway=highway,
        seg_ref=ref,
        seg_way=way,
        seg_bridge=bridge,
        seg_tunnel=tunnel,
        seg_main=main,
        seg_road=seg_road.astype(np.int64),
        seg_bounds=seg_bounds,
        coord_x=np.ascontiguousarray(coords[:, 0]),
        coord_y=np.ascontiguousarray(coords[:, 1]),
        coord_start=coord_start,
        coord_cum=coord_cum,
        graphs=graphs,
        seg_grid=build_grid(seg_bounds),
    )


def lines_from_vertices(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    part: NDArray[np.int64],
    owner: NDArray[np.int64],
    n: int,
) -> NDArray[np.object_]:
    """``n`` geometries from vertices: ``part`` numbers each vertex's line, ``owner`` each
    line's geometry (both ascending); a geometry of one line is a LineString, of several a
    MultiLineString (its lines in order)."""
    out = np.empty(n, dtype=object)
    if n == 0:
        return out
    coords = np.empty((x.shape[0], 2))
    coords[:, 0], coords[:, 1] = x, y
    lines = np.asarray(shapely.linestrings(coords, indices=part), dtype=object)
    counts = np.bincount(owner, minlength=n)
    first = np.cumsum(counts) - counts
    out[:] = lines[first]
    many = np.flatnonzero(counts > 1)
    if many.shape[0]:
        parts = np.concatenate([np.arange(first[g], first[g] + counts[g]) for g in many])
        which = np.repeat(np.arange(many.shape[0]), counts[many])
        out[many] = shapely.multilinestrings(lines[parts], indices=which)
    return out


def snap_to_road(
    network: RoadNetwork, x: float, y: float, *, max_distance_m: float
) -> SnappedPoint:
    """Snap a point (metres, working CRS) to its nearest road segment.

    Of several equally near segments the first in the table wins.

    Raises
    ------
    OutsideCoverageArea
        when the point is outside the data's extent or farther than ``max_distance_m`` from
        every road.
    """
    x, y = float(x), float(y)
    if network.distance_to_edge(x, y) <= 0.0:
        raise OutsideCoverageArea(
            "the incident point is outside the loaded road data; load the road network that "
            "covers it",
            details={"x": x, "y": y},
        )
    seg, offset, px, py, distance = snap_in_grid(
        *network.seg_grid, *network.polylines, x, y, _SNAP_NEAR_M, float(max_distance_m)
    )
    if seg < 0:
        raise OutsideCoverageArea(
            f"the incident point is more than {max_distance_m:g} m from any road, so it has no "
            "approaches within that radius",
            details={"x": x, "y": y, "radius_m": max_distance_m},
        )
    return SnappedPoint(segment=seg, offset_m=offset, x=px, y=py, distance_m=distance)


def road_distances(
    network: RoadNetwork, snap: SnappedPoint, *, radius_m: float, travel: str, toward: bool
) -> Reach:
    """Shortest road distances (metres) between the snapped point P and the nodes within
    ``radius_m`` of it along the roads, by a Dijkstra bounded at ``radius_m``.

    P splits its segment: the segment's ends are reached through P, each way only where the
    travel mode allows that direction. The search visits only what lies within the radius
    (road distance is never shorter than straight-line distance), whatever the network's size.

    Parameters
    ----------
    toward
        True: each node's distance *to* P (search on the reversed graph); False: *from* P.
    """
    travel_graph = network.graph(travel)
    r = float(radius_m)
    seg = snap.segment
    a, b = int(network.seg_u[seg]), int(network.seg_v[seg])
    to_a, to_b = snap.offset_m, float(network.seg_length[seg]) - snap.offset_m
    two_way = travel == "foot" or not bool(network.seg_oneway[seg])
    # searching toward P walks the reversed edges: a→P (always) and b→P (two-way) give P→a,
    # P→b; searching from P walks P→b (always) and P→a (two-way).
    from_a = to_a if (two_way or toward) else np.inf
    from_b = to_b if (two_way or not toward) else np.inf
    nodes, dist, rec, along, end_a, end_b, reaches_edge = bounded_search(
        *travel_graph.adjacency(toward=toward), *travel_graph.records(toward=toward),
        a, b, from_a, from_b, r, network.node_scratch(), seg, network.node_edge_m,
    )  # fmt: skip
    return Reach(
        snap, r, travel, toward, nodes, dist, crossing_rec=rec, crossing_along=along,
        end_dist=(end_a, end_b), reaches_edge=reaches_edge,
    )  # fmt: skip
