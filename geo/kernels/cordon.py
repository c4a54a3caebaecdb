"""A cordon's crossings grouped into approaches: where roads cross the bound of the area
around an incident (the network search's bound, or a circle), inward for approaches and
outward for exits, with their watch stretches (see :mod:`geo.approaches` for the definitions).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit
from numpy.typing import NDArray

from geo.kernels.arrays import fields_of, stable_order
from geo.kernels.graph import Records
from geo.kernels.grid import Grid, grid_query
from geo.kernels.lines import Polylines, line_bounds, locate_one, substrings


class CordonSpec(NamedTuple):
    """One cordon query: network cordon (``network_mode``) or circle; the directions searched
    (``outbound_flags``: False for approaches, True for exits); the incident (``cx``, ``cy``)
    and where it snapped (segment ``snap_seg``, ``snap_offset`` metres from u); the radius,
    metres; whether on foot (one-way streets ignored); the watch stretch's half-length, the
    merge distance (metres) and the bearing difference under which two crossings run the same
    way (degrees); the grid azimuth of true north at the incident (degrees)."""

    network_mode: bool
    outbound_flags: NDArray[np.bool_]
    cx: float
    cy: float
    snap_seg: int
    snap_offset: float
    radius: float
    foot: bool
    watch_m: float
    merge_m: float
    same_direction_deg: float
    north_deg: float


class NetworkBound(NamedTuple):
    """Where the network searches left the cordon, per direction searched ``d``: the edge
    records crossing the bound ``crossing_rec[crossing_ptr[d]:crossing_ptr[d + 1]]`` with the
    metres from their reached end to the bound (``crossing_along``, as
    :func:`geo.kernels.graph.bounded_search` gives them), and the road distances of the
    incident's segment's ends ``end_a[d]``, ``end_b[d]`` (``inf`` beyond the radius). Empty
    for a circle."""

    crossing_rec: NDArray[np.int64]
    crossing_along: NDArray[np.float64]
    crossing_ptr: NDArray[np.int64]
    end_a: NDArray[np.float64]
    end_b: NDArray[np.float64]


class SegmentAttrs(NamedTuple):
    """What a cordon reads of each segment: one-way, the road it belongs to (one number per
    name, else ref, else OSM way), on a main road."""

    seg_oneway: NDArray[np.bool_]
    seg_road: NDArray[np.int64]
    seg_main: NDArray[np.bool_]


class CordonTable(NamedTuple):
    """A cordon's approaches as parallel arrays (one column per approach), see
    :func:`cordon_table`. Columns of one type share an array, one row each (an array fewer
    for numba to box is a microsecond less): ``flags`` rows forward, outbound, main;
    ``values`` rows offset_m, x, y, bearing_deg; ``stretch_xy`` rows x, y."""

    segment: NDArray[np.int64]
    flags: NDArray[np.bool_]
    values: NDArray[np.float64]
    member_seg: NDArray[np.int64]
    member_ptr: NDArray[np.int64]
    stretch_xy: NDArray[np.float64]
    stretch_part: NDArray[np.int64]
    stretch_owner: NDArray[np.int64]
    stretch_bounds: NDArray[np.float64]


@njit(cache=True, nogil=True)
def _empty_crossings(k):
    """Room for ``k`` crossings: (segment, forward, offset, bearing, x, y)."""
    return (np.empty(k, dtype=np.int64), np.empty(k, dtype=np.bool_), np.empty(k),
            np.empty(k), np.empty(k), np.empty(k))  # fmt: skip


@njit(cache=True, nogil=True)
def network_crossings(
    rec, along, rec_seg, rec_forward, coord_start, coord_cum, coord_x, coord_y, seg_length,
    outbound, snap_seg, snap_offset, d_a, d_b, radius, two_way,
):  # fmt: skip
    """The crossings of a network cordon's bound: each edge record ``rec`` crossing it with
    ``along`` metres from its reached end to the bound (:func:`bounded_search`), then the
    halves of P's own segment (a→P, P→b forward; b→P, P→a backward where ``two_way``) whose
    far end lies beyond ``radius`` (its road distance ``d_a``/``d_b``). Returns (segment,
    forward, offset, grid bearing of travel, x, y) as :func:`circle_crossings` does."""
    n_rec = rec.shape[0]
    if outbound:
        extra = int(d_b > radius) + int(two_way and d_a > radius)
    else:
        extra = int(d_a > radius) + int(two_way and d_b > radius)
    k = n_rec + extra
    seg, fwd, off, bear, x, y = _empty_crossings(k)
    for i in range(n_rec):
        s = rec_seg[rec[i]]
        f = rec_forward[rec[i]]
        seg[i], fwd[i] = s, f
        # metres from the u end: the reached end is the tail (outbound) or head (inbound)
        if outbound:
            off[i] = along[i] if f else seg_length[s] - along[i]
        else:
            off[i] = seg_length[s] - along[i] if f else along[i]
    j = n_rec
    if outbound:
        if d_b > radius:
            seg[j], fwd[j], off[j] = snap_seg, True, snap_offset + radius
            j += 1
        if two_way and d_a > radius:
            seg[j], fwd[j], off[j] = snap_seg, False, snap_offset - radius
            j += 1
    else:
        if d_a > radius:
            seg[j], fwd[j], off[j] = snap_seg, True, snap_offset - radius
            j += 1
        if two_way and d_b > radius:
            seg[j], fwd[j], off[j] = snap_seg, False, snap_offset + radius
            j += 1
    for i in range(k):
        x[i], y[i], azimuth, _, _ = locate_one(
            coord_start, coord_cum, coord_x, coord_y, seg_length, seg[i], off[i]
        )
        bear[i] = azimuth if fwd[i] else np.mod(azimuth + 180.0, 360.0)
    return seg, fwd, off, bear, x, y


@njit(cache=True, nogil=True)
def circle_crossings(
    coord_start, coord_cum, coord_x, coord_y, seg_oneway, seg_bounds, segs, cx, cy, r, foot,
    outbound,
):  # fmt: skip
    """Crossings of the circle (cx, cy, r) by the pieces of ``segs`` in the direction asked:
    (segment, forward, offset, grid bearing, x, y), segments in ascending order.

    A segment whose bounding box lies wholly inside the circle or wholly outside it (by more
    than a micrometre, far beyond any rounding of the roots) is not looked at further."""
    out_seg = []
    out_fwd = []
    out_off = []
    out_bear = []
    out_x = []
    out_y = []
    margin = 1e-6
    inner2 = (r - margin) * (r - margin)
    outer2 = (r + margin) * (r + margin)
    for s in np.sort(segs):
        x0, y0, x1, y1 = seg_bounds[s, 0], seg_bounds[s, 1], seg_bounds[s, 2], seg_bounds[s, 3]
        fx = max(abs(x0 - cx), abs(x1 - cx))
        fy = max(abs(y0 - cy), abs(y1 - cy))
        if fx * fx + fy * fy < inner2:
            continue  # every corner, so every point, inside
        nx = max(x0 - cx, 0.0, cx - x1)
        ny = max(y0 - cy, 0.0, cy - y1)
        if nx * nx + ny * ny > outer2:
            continue  # the nearest point of the box outside
        backward_ok = foot or not seg_oneway[s]
        base = coord_cum[coord_start[s]]
        for p in range(coord_start[s], coord_start[s + 1] - 1):
            ax, ay = coord_x[p], coord_y[p]
            dx, dy = coord_x[p + 1] - ax, coord_y[p + 1] - ay
            fx, fy = ax - cx, ay - cy
            qa = dx * dx + dy * dy
            qb = fx * dx + fy * dy
            qc = fx * fx + fy * fy - r * r
            disc = qb * qb - qa * qc
            if not (disc > 0 and qa > 0):
                continue
            root = np.sqrt(disc)
            s1 = (-qb - root) / qa
            s2 = (-qb + root) / qa
            # travelling along the piece it enters the disk at s1 and leaves it at s2
            along_in = s1 > 0 and s1 <= 1
            along_out = s2 >= 0 and s2 < 1
            if not (along_in or along_out):
                continue
            fwd_hit, fwd_s = (along_out, s2) if outbound else (along_in, s1)
            back_hit, back_s = (along_in, s1) if outbound else (along_out, s2)
            azimuth = np.degrees(np.arctan2(dx, dy))
            for forward, hit, t in (
                (True, fwd_hit, fwd_s),
                (False, back_hit and backward_ok, back_s),
            ):
                if not hit:
                    continue
                out_seg.append(s)
                out_fwd.append(forward)
                out_off.append(coord_cum[p] - base + t * np.sqrt(qa))
                out_bear.append(np.mod(azimuth + (0.0 if forward else 180.0), 360.0))
                out_x.append(ax + t * dx)
                out_y.append(ay + t * dy)
    k = len(out_seg)
    seg, fwd, off, bear, x, y = _empty_crossings(k)
    for i in range(k):
        seg[i], fwd[i], off[i] = out_seg[i], out_fwd[i], out_off[i]
        bear[i], x[i], y[i] = out_bear[i], out_x[i], out_y[i]
    return seg, fwd, off, bear, x, y


@njit(cache=True, nogil=True)
def merge_labels(x, y, bearing, road, outbound, main, merge_m, same_direction_deg):
    """Group label per crossing: crossings of one road in one direction (bearings less than
    ``same_direction_deg`` apart) within ``merge_m`` of each other, and chains of such, are one
    group, labelled by its representative's position (a main road first, then the first)."""
    k = x.shape[0]
    parent = np.arange(k)
    merge2 = merge_m * merge_m
    for i in range(k):
        for j in range(i + 1, k):
            if road[i] != road[j] or outbound[i] != outbound[j]:
                continue
            dx, dy = x[i] - x[j], y[i] - y[j]
            if dx * dx + dy * dy > merge2:
                continue
            turn = np.abs(np.mod(bearing[i] - bearing[j] + 180.0, 360.0) - 180.0)
            if turn >= same_direction_deg:
                continue
            a, b = i, j
            while parent[a] != a:
                a = parent[a]
            while parent[b] != b:
                b = parent[b]
            if a != b:
                parent[max(a, b)] = min(a, b)
    label = np.empty(k, dtype=np.int64)
    best = np.full(k, -1, dtype=np.int64)  # per root: its representative
    for i in range(k):
        root = i
        while parent[root] != root:
            root = parent[root]
        rep = best[root]
        if rep < 0 or (main[i] and not main[rep]):
            best[root] = i
    for i in range(k):
        root = i
        while parent[root] != root:
            root = parent[root]
        label[i] = best[root]
    return label


@njit(cache=True, nogil=True)
def approach_table(
    outbound, seg, forward, offset, x, y, bearing,
    seg_road, seg_main, coord_start, coord_cum, coord_x, coord_y, seg_length,
    watch_m, merge_m, same_direction_deg,
):  # fmt: skip
    """Crossings sorted (outbound last, then by segment, forward first, then by offset), their
    watch stretches' vertices, and their grouping into approaches (see :func:`merge_labels`).

    Returns ``(order, sx, sy, part, part_owner, reps, by_group, group_ptr, group_main)``:
    ``order`` sorts the input; ``reps`` are the sorted positions of each approach's
    representative, ``by_group[group_ptr[g]:group_ptr[g + 1]]`` the sorted positions of
    approach ``g``'s crossings (ascending), ``group_main`` whether any is on a main road. The
    watch stretches run ``watch_m`` either side of each crossing in the direction of travel:
    their vertices ``sx, sy`` come in approach order, ``part`` numbering each vertex's
    stretch (the crossing ``by_group[part]``) and ``part_owner`` each stretch's approach.
    """
    k = seg.shape[0]
    # outbound last, then by segment, forward first: one key; then by offset
    key = np.empty(k, dtype=np.int64)
    for i in range(k):
        key[i] = ((np.int64(outbound[i]) * seg_length.shape[0] + seg[i]) << 1) | np.int64(
            not forward[i]
        )
    order = np.argsort(offset, kind="mergesort")
    order = stable_order(order, key)
    s_seg = seg[order]
    s_fwd = forward[order]
    s_off = offset[order]
    sign = np.where(s_fwd, 1.0, -1.0)
    px, py, line = substrings(
        coord_start, coord_cum, coord_x, coord_y, seg_length, s_seg,
        s_off - sign * watch_m, s_off + sign * watch_m,
    )  # fmt: skip
    road = seg_road[s_seg]
    main = seg_main[s_seg]
    if k >= 2 and merge_m > 0:
        label = merge_labels(
            x[order], y[order], bearing[order], road, outbound[order], main,
            merge_m, same_direction_deg,
        )  # fmt: skip
    else:
        label = np.arange(k)
    by_group = np.argsort(label, kind="mergesort")
    sorted_label = label[by_group]
    n_groups = 0
    for i in range(k):
        if i == 0 or sorted_label[i] != sorted_label[i - 1]:
            n_groups += 1
    reps = np.empty(n_groups, dtype=np.int64)
    group_ptr = np.empty(n_groups + 1, dtype=np.int64)
    group_main = np.zeros(n_groups, dtype=np.bool_)
    g = -1
    for i in range(k):
        if i == 0 or sorted_label[i] != sorted_label[i - 1]:
            g += 1
            reps[g] = sorted_label[i]
            group_ptr[g] = i
        if main[by_group[i]]:
            group_main[g] = True
    group_ptr[n_groups] = k
    # the stretches' vertices in approach order: part j is crossing by_group[j]
    line_ptr = np.zeros(k + 1, dtype=np.int64)
    for q in range(line.shape[0]):
        line_ptr[line[q] + 1] = q + 1
    sx = np.empty(px.shape[0])
    sy = np.empty(px.shape[0])
    part = np.empty(px.shape[0], dtype=np.int64)
    part_owner = np.empty(k, dtype=np.int64)
    at = 0
    for g in range(n_groups):
        for j in range(group_ptr[g], group_ptr[g + 1]):
            part_owner[j] = g
            c = by_group[j]
            for q in range(line_ptr[c], line_ptr[c + 1]):
                sx[at], sy[at], part[at] = px[q], py[q], j
                at += 1
    return order, sx, sy, part, part_owner, reps, by_group, group_ptr, group_main


@fields_of(CordonSpec, NetworkBound, Polylines, Grid, SegmentAttrs, Records)
@njit(cache=True, nogil=True)
def cordon_table(
    network_mode, outbound_flags, cx, cy, snap_seg, snap_offset, radius, foot, watch_m, merge_m,
    same_direction_deg, north_deg,
    crossing_rec, crossing_along, crossing_ptr, end_a, end_b,
    coord_start, coord_cum, coord_x, coord_y, seg_length,
    ptr, entries, bounds, x0, y0, cell, nx, ny,
    seg_oneway, seg_road, seg_main,
    rec_ptr, rec_by_node, rec_seg, rec_forward, rec_far,  # noqa: ARG001
):  # fmt: skip
    """A cordon's approaches (and/or exits) in one call, from the fields of a
    :class:`CordonSpec`, a :class:`NetworkBound`, the roads (:class:`Polylines`, their
    :class:`Grid`, :class:`SegmentAttrs`) and the travel mode's edge :class:`Records` (only
    ``rec_seg`` and ``rec_forward`` are read): the crossings of each direction in
    ``outbound_flags`` — of the network search's bound (:func:`network_crossings`) or of the
    circle around (cx, cy) by the segments whose box meets its box in the grid
    (:func:`geo.kernels.grid.grid_query`, :func:`circle_crossings`) — grouped into approaches
    by :func:`approach_table`.

    Returns the fields of a :class:`CordonTable` (``CordonTable._make`` names them: numba
    would box a namedtuple through its Python constructor, microseconds more): per approach
    its representative crossing's segment; whether it runs along the segment's geometry, is an
    exit, is on a main road; its offset, x, y and bearing (grid bearing less ``north_deg``,
    modulo 360);
    the merged crossings' segments (``member_seg[member_ptr[i]:member_ptr[i + 1]]``); the watch
    stretches' vertices with ``stretch_part``/``stretch_owner`` as :func:`approach_table` gives
    them (``part`` and ``part_owner``); and each approach's stretch bounding box (minx, miny,
    maxx, maxy)."""
    two_way = foot or not seg_oneway[snap_seg]
    n_dir = outbound_flags.shape[0]
    segs = np.empty(0, dtype=np.int64)
    if not network_mode:
        segs = grid_query(ptr, entries, bounds, x0, y0, cell, nx, ny,
                          cx - radius, cy - radius, cx + radius, cy + radius)  # fmt: skip
    pieces = []
    for d in range(n_dir):
        outbound = outbound_flags[d]
        if network_mode:
            first, last = crossing_ptr[d], crossing_ptr[d + 1]
            got = network_crossings(
                crossing_rec[first:last], crossing_along[first:last], rec_seg, rec_forward,
                coord_start, coord_cum, coord_x, coord_y, seg_length, outbound, snap_seg,
                snap_offset, end_a[d], end_b[d], radius, two_way,
            )  # fmt: skip
        else:
            got = circle_crossings(
                coord_start, coord_cum, coord_x, coord_y, seg_oneway, bounds, segs, cx, cy,
                radius, foot, outbound,
            )  # fmt: skip
        pieces.append(got)
    total = 0
    for got in pieces:
        total += got[0].shape[0]
    c_out = np.empty(total, dtype=np.bool_)
    c_seg, c_fwd, c_off, c_bear, c_x, c_y = _empty_crossings(total)
    at = 0
    for d in range(n_dir):
        seg, fwd, off, bear, x, y = pieces[d]
        for i in range(seg.shape[0]):
            c_out[at], c_seg[at], c_fwd[at], c_off[at] = outbound_flags[d], seg[i], fwd[i], off[i]
            c_bear[at], c_x[at], c_y[at] = bear[i], x[i], y[i]
            at += 1
    order, sx, sy, part, part_owner, reps, by_group, group_ptr, group_main = approach_table(
        c_out, c_seg, c_fwd, c_off, c_x, c_y, c_bear, seg_road, seg_main, coord_start,
        coord_cum, coord_x, coord_y, seg_length, watch_m, merge_m, same_direction_deg,
    )  # fmt: skip
    k = reps.shape[0]
    rep_seg = np.empty(k, dtype=np.int64)
    flags = np.empty((3, k), dtype=np.bool_)
    values = np.empty((4, k))
    for g in range(k):
        i = order[reps[g]]
        rep_seg[g] = c_seg[i]
        flags[0, g], flags[1, g], flags[2, g] = c_fwd[i], c_out[i], group_main[g]
        values[0, g], values[1, g], values[2, g] = c_off[i], c_x[i], c_y[i]
        values[3, g] = np.mod(c_bear[i] - north_deg, 360.0)
    member_seg = np.empty(by_group.shape[0], dtype=np.int64)
    for j in range(by_group.shape[0]):
        member_seg[j] = c_seg[order[by_group[j]]]
    stretch_xy = np.empty((2, sx.shape[0]))
    stretch_xy[0], stretch_xy[1] = sx, sy
    boxes, _ = line_bounds(sx, sy, part, part_owner, k)  # every stretch has vertices
    return rep_seg, flags, values, member_seg, group_ptr, stretch_xy, part, part_owner, boxes
