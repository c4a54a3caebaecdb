"""Compiled loops of the incident query's hot path (numba), over the flat arrays of
:class:`geo.network.RoadNetwork` and :class:`geo.index.CoverageIndex`.

One incident touches a few hundred nodes and a few dozen segments. Written as numpy
expressions, each step costs tens of small array operations of a few microseconds each; these
loops do the same arithmetic, in the same order and with the same formulas as the numpy
versions they replace (so the answers are bit for bit those the property tests check), in one
call per step.

Every function here is pure: arrays in, new arrays out. The one exception is the ``scratch``
array of :func:`bounded_search`, a per-thread buffer of node distances that the search leaves
as it found it (all ``inf``).

Compiled code is cached beside this file (``cache=True``): the first process on a fresh
checkout compiles for a few seconds, later ones load it in milliseconds.
"""

from __future__ import annotations

import heapq
import math

import numpy as np
from numba import njit
from numpy.typing import ArrayLike, NDArray

#: Offsets along a road closer than this are one point, metres.
_SAME_POINT_M = 1e-9


def ints(values: ArrayLike) -> NDArray[np.int64]:
    """``values`` as a writable C-contiguous int64 vector (one compiled variant per kernel)."""
    if (
        type(values) is np.ndarray
        and values.dtype == np.int64
        and values.ndim == 1
        and values.flags.c_contiguous
        and values.flags.writeable
    ):
        return values
    return np.require(np.asarray(values, dtype=np.int64).reshape(-1), requirements=["C", "W"])


def floats(values: ArrayLike, n: int | None = None) -> NDArray[np.float64]:
    """``values`` (broadcast to length ``n`` when given) as a writable C-contiguous float64
    vector."""
    if (
        type(values) is np.ndarray
        and values.dtype == np.float64
        and values.ndim == 1
        and (n is None or values.shape[0] == n)
        and values.flags.c_contiguous
        and values.flags.writeable
    ):
        return values
    array = np.asarray(values, dtype=np.float64)
    if n is not None and array.shape != (n,):
        array = np.broadcast_to(array, (n,))
    return np.require(array.reshape(-1), requirements=["C", "W"])


@njit(cache=True, nogil=True)
def _piece_at(coord_cum, first, last_piece, target):
    """The piece (first vertex) holding ``target`` on ``coord_cum``: the last vertex in
    ``[first, last_piece]`` whose cumulative distance is not beyond it (``first`` if none)."""
    if coord_cum[last_piece] <= target:
        return last_piece
    lo, hi = first, last_piece  # answer in [first, last_piece - 1]
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if coord_cum[mid] <= target:
            lo = mid
        else:
            hi = mid - 1
    return lo


@njit(cache=True, nogil=True)
def _point_at(coord_start, coord_cum, coord_x, coord_y, seg_length, s, offset):
    """The point ``offset`` metres along segment ``s`` (clipped to it): ``(x, y, piece,
    target, dx, dy)``, ``target`` its position on ``coord_cum`` and (dx, dy) the piece."""
    first = coord_start[s]
    last_piece = max(first, coord_start[s + 1] - 2)
    t = coord_cum[first] + min(max(offset, 0.0), seg_length[s])
    p = _piece_at(coord_cum, first, last_piece, t)
    start = coord_cum[p]
    piece_len = coord_cum[p + 1] - start
    frac = (t - start) / (piece_len if piece_len > 0 else 1.0)
    frac = min(max(frac, 0.0), 1.0)
    x0, y0 = coord_x[p], coord_y[p]
    dx, dy = coord_x[p + 1] - x0, coord_y[p + 1] - y0
    return x0 + frac * dx, y0 + frac * dy, p, t, dx, dy


@njit(cache=True, nogil=True)
def _locate_one(coord_start, coord_cum, coord_x, coord_y, seg_length, s, offset):
    """:func:`locate` for one point: ``(x, y, azimuth, piece, target)``."""
    x, y, p, t, dx, dy = _point_at(coord_start, coord_cum, coord_x, coord_y, seg_length, s, offset)
    return x, y, np.mod(np.degrees(np.arctan2(dx, dy)), 360.0), p, t


@njit(cache=True, nogil=True)
def locate(coord_start, coord_cum, coord_x, coord_y, seg_length, seg, offset):
    """Points at ``offset`` metres along segments (clipped to the segment): x, y, the grid
    azimuth of the piece there (degrees, u→v), the piece, and the position on ``coord_cum``."""
    k = seg.shape[0]
    x = np.empty(k)
    y = np.empty(k)
    azimuth = np.empty(k)
    piece = np.empty(k, dtype=np.int64)
    target = np.empty(k)
    for i in range(k):
        x[i], y[i], azimuth[i], piece[i], target[i] = _locate_one(
            coord_start, coord_cum, coord_x, coord_y, seg_length, seg[i], offset[i]
        )
    return x, y, azimuth, piece, target


@njit(cache=True, nogil=True)
def substrings(coord_start, coord_cum, coord_x, coord_y, seg_length, seg, start, end):
    """Vertices of the parts of segments between two offsets: (x, y, line index) for
    ``shapely.linestrings``; a line runs against the geometry where ``start > end``."""
    k = seg.shape[0]
    lo = np.minimum(start, end)
    hi = np.maximum(start, end)
    lx, ly, lt = np.empty(k), np.empty(k), np.empty(k)
    hx, hy, ht = np.empty(k), np.empty(k), np.empty(k)
    first_inner = np.empty(k, dtype=np.int64)
    n_inner = np.empty(k, dtype=np.int64)
    total = 0
    for i in range(k):
        lx[i], ly[i], _, lt[i], _, _ = _point_at(
            coord_start, coord_cum, coord_x, coord_y, seg_length, seg[i], lo[i]
        )
        hx[i], hy[i], _, ht[i], _, _ = _point_at(
            coord_start, coord_cum, coord_x, coord_y, seg_length, seg[i], hi[i]
        )
        a = coord_start[seg[i]]
        b = coord_start[seg[i] + 1] - 1
        # interior vertices: strictly after the low offset, strictly before the high one; a
        # vertex a rounding error away from an end is that end, not a repeated point
        v = a
        while v <= b and coord_cum[v] <= lt[i] + _SAME_POINT_M:
            v += 1
        w = v
        while w <= b and coord_cum[w] < ht[i] - _SAME_POINT_M:
            w += 1
        first_inner[i] = v
        n_inner[i] = max(w - v, 0)
        total += n_inner[i] + 2
    px = np.empty(total)
    py = np.empty(total)
    line = np.empty(total, dtype=np.int64)
    j = 0
    for i in range(k):
        count = n_inner[i] + 2
        flip = start[i] > end[i]
        for m in range(count):
            at = j + (count - 1 - m if flip else m)
            if m == 0:
                px[at], py[at] = lx[i], ly[i]
            elif m == count - 1:
                px[at], py[at] = hx[i], hy[i]
            else:
                v = first_inner[i] + m - 1
                px[at], py[at] = coord_x[v], coord_y[v]
            line[j + m] = i
        j += count
    return px, py, line


@njit(cache=True, nogil=True)
def bounded_search(
    adj_ptr,
    adj_idx,
    adj_w,
    node_a,
    node_b,
    dist_a,
    dist_b,
    radius,
    scratch,
    rec_ptr,
    rec_by_node,
    rec_seg,
    rec_outside,
    skip_seg,
    node_edge_m,
):
    """Dijkstra from a virtual source (edges to ``node_a``/``node_b`` of lengths
    ``dist_a``/``dist_b``, ``inf`` for none) over a CSR
    adjacency, bounded at ``radius``; then the edge records crossing the bound.

    Returns ``(nodes, dist, crossing_rec, crossing_along, end_a, end_b, reaches_edge)``: every node
    within ``radius`` with its distance, by node index; each record listed in ``rec_by_node``
    under a reached node whose other end (``rec_outside``) lies beyond ``radius``, except
    those of segment ``skip_seg``, with the metres left from the reached node to the bound;
    the distances of ``node_a`` and ``node_b`` (``inf`` beyond the radius); whether some reached
    node's remaining budget reaches the data's edge (``node_edge_m``). ``scratch`` (``inf``
    everywhere) holds tentative distances during the search and is restored before returning.
    """
    heap = [(0.0, np.int64(0))]
    heap.pop()
    touched = []
    for node, d in ((node_a, dist_a), (node_b, dist_b)):
        if d < scratch[node]:
            if scratch[node] == np.inf:
                touched.append(node)
            scratch[node] = d
            heapq.heappush(heap, (d, node))
    nodes = []
    dists = []
    while heap:
        d, u = heapq.heappop(heap)
        if d > scratch[u]:
            continue  # a stale entry
        if d > radius:
            break
        nodes.append(u)
        dists.append(d)
        for e in range(adj_ptr[u], adj_ptr[u + 1]):
            v = adj_idx[e]
            nd = d + adj_w[e]
            if nd < scratch[v]:
                if scratch[v] == np.inf:
                    touched.append(v)
                scratch[v] = nd
                heapq.heappush(heap, (nd, v))

    n = len(nodes)
    node_arr = np.empty(n, dtype=np.int64)
    dist_arr = np.empty(n)
    by_node = np.empty(n, dtype=np.int64)
    reaches_edge = False
    recs = []
    alongs = []
    for i in range(n):
        u, d = nodes[i], dists[i]
        node_arr[i] = u
        dist_arr[i] = d
        budget = radius - d
        if node_edge_m[u] <= budget:
            reaches_edge = True
        for q in range(rec_ptr[u], rec_ptr[u + 1]):
            rec = rec_by_node[q]
            if rec_seg[rec] == skip_seg:
                continue
            if scratch[rec_outside[rec]] > radius:
                recs.append(rec)
                alongs.append(budget)
    end_a = scratch[node_a] if scratch[node_a] <= radius else np.inf
    end_b = scratch[node_b] if scratch[node_b] <= radius else np.inf
    for node in touched:
        scratch[node] = np.inf
    # the reached nodes by node index
    by_node[:] = np.argsort(node_arr)
    node_arr = node_arr[by_node]
    dist_arr = dist_arr[by_node]
    rec_arr = np.empty(len(recs), dtype=np.int64)
    along_arr = np.empty(len(recs))
    for i in range(len(recs)):
        rec_arr[i] = recs[i]
        along_arr[i] = alongs[i]
    return node_arr, dist_arr, rec_arr, along_arr, end_a, end_b, reaches_edge


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
        x[i], y[i], azimuth, _, _ = _locate_one(
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
def _to_piece(px, py, ax, ay, bx, by):
    """From (px, py) to the piece a→b: ``(distance, t, length²)``, ``t`` in [0, 1] the nearest
    point's position along the piece."""
    dx, dy = bx - ax, by - ay
    qx, qy = px - ax, py - ay
    length2 = dx * dx + dy * dy
    t = (qx * dx + qy * dy) / (length2 if length2 > 0 else 1.0)
    t = min(max(t, 0.0), 1.0)
    return math.hypot(qx - t * dx, qy - t * dy), t, length2


@njit(cache=True, nogil=True)
def nearest_segment(coord_start, coord_cum, coord_x, coord_y, segs, px, py):
    """The segment of ``segs`` nearest to (px, py): ``(segment, distance, offset)`` where the
    offset is the distance along its geometry from u to the nearest point. Of equally near
    segments the lowest index wins, of equally near pieces of one segment the first;
    ``(-1, inf, 0)`` when ``segs`` is empty."""
    best_seg = -1
    best_d = np.inf
    best_off = 0.0
    for i in range(segs.shape[0]):
        s = segs[i]
        first = coord_start[s]
        for p in range(first, coord_start[s + 1] - 1):
            d, t, length2 = _to_piece(
                px, py, coord_x[p], coord_y[p], coord_x[p + 1], coord_y[p + 1]
            )
            if d < best_d or (d == best_d and s < best_seg):
                best_seg = s
                best_d = d
                best_off = coord_cum[p] - coord_cum[first] + t * math.sqrt(length2)
    return best_seg, best_d, best_off


@njit(cache=True, nogil=True)
def snap_point(coord_start, coord_cum, coord_x, coord_y, seg_length, segs, px, py):
    """:func:`nearest_segment`, then the point there: ``(segment, offset, x, y)`` with the
    offset clipped to the segment and (x, y) located as :func:`locate` does;
    ``(-1, 0, nan, nan)`` when ``segs`` is empty."""
    s, _, offset = nearest_segment(coord_start, coord_cum, coord_x, coord_y, segs, px, py)
    if s < 0:
        return s, 0.0, np.nan, np.nan
    offset = min(max(offset, 0.0), seg_length[s])
    x, y, _, _, _ = _locate_one(coord_start, coord_cum, coord_x, coord_y, seg_length, s, offset)
    return s, offset, x, y


@njit(cache=True, nogil=True)
def distance_to_edges(ax, ay, bx, by, px, py):
    """Distance from (px, py) to the nearest of the pieces a→b (``inf`` if there are none)."""
    best = np.inf
    for q in range(ax.shape[0]):
        best = min(best, _to_piece(px, py, ax[q], ay[q], bx[q], by[q])[0])
    return best


@njit(cache=True, nogil=True)
def grid_build(bounds, x0, y0, cell, nx, ny):
    """A uniform grid over boxes (minx, miny, maxx, maxy): cell ``ix + iy·nx`` lists, in
    ``entries[ptr[c]:ptr[c + 1]]`` and ascending, every box meeting it."""
    n = bounds.shape[0]
    ptr = np.zeros(nx * ny + 1, dtype=np.int64)
    for i in range(n):
        ax, bx, ay, by = _cell_span(bounds[i, 0], bounds[i, 1], bounds[i, 2], bounds[i, 3],
                                    x0, y0, cell, nx, ny)  # fmt: skip
        for iy in range(ay, by + 1):
            for ix in range(ax, bx + 1):
                ptr[iy * nx + ix + 1] += 1
    for c in range(nx * ny):
        ptr[c + 1] += ptr[c]
    fill = ptr[:-1].copy()
    entries = np.empty(ptr[-1], dtype=np.int64)
    for i in range(n):
        ax, bx, ay, by = _cell_span(bounds[i, 0], bounds[i, 1], bounds[i, 2], bounds[i, 3],
                                    x0, y0, cell, nx, ny)  # fmt: skip
        for iy in range(ay, by + 1):
            for ix in range(ax, bx + 1):
                c = iy * nx + ix
                entries[fill[c]] = i
                fill[c] += 1
    return ptr, entries


@njit(cache=True, nogil=True)
def _cell_span(minx, miny, maxx, maxy, x0, y0, cell, nx, ny):
    """The grid cells (first and last column, first and last row) a box meets, clipped."""
    ax = min(max(np.int64(np.floor((minx - x0) / cell)), 0), nx - 1)
    bx = min(max(np.int64(np.floor((maxx - x0) / cell)), 0), nx - 1)
    ay = min(max(np.int64(np.floor((miny - y0) / cell)), 0), ny - 1)
    by = min(max(np.int64(np.floor((maxy - y0) / cell)), 0), ny - 1)
    return ax, bx, ay, by


@njit(cache=True, nogil=True)
def grid_query(ptr, entries, bounds, x0, y0, cell, nx, ny, minx, miny, maxx, maxy):
    """The boxes (rows of ``bounds``, indexed by :func:`grid_build`) meeting the query box,
    ascending: what an R-tree's query with that box gives."""
    if maxx < x0 or maxy < y0 or minx > x0 + nx * cell or miny > y0 + ny * cell:
        return np.empty(0, dtype=np.int64)
    ax, bx, ay, by = _cell_span(minx, miny, maxx, maxy, x0, y0, cell, nx, ny)
    total = 0
    for iy in range(ay, by + 1):
        total += ptr[iy * nx + bx + 1] - ptr[iy * nx + ax]
    found = np.empty(total, dtype=np.int64)
    k = 0
    for iy in range(ay, by + 1):
        for q in range(ptr[iy * nx + ax], ptr[iy * nx + bx + 1]):
            i = entries[q]
            if (bounds[i, 0] <= maxx and bounds[i, 2] >= minx
                    and bounds[i, 1] <= maxy and bounds[i, 3] >= miny):  # fmt: skip
                found[k] = i
                k += 1
    found = np.sort(found[:k])
    # a box over several cells is listed in each
    m = 0
    for j in range(k):
        if j == 0 or found[j] != found[j - 1]:
            found[m] = found[j]
            m += 1
    return found[:m]


@njit(cache=True, nogil=True)
def inside_and_edge_distance(ax, ay, bx, by, px, py):
    """Whether (px, py) lies inside the polygon whose boundary pieces are a→b (even-odd
    rule over every ring), and its distance to the boundary."""
    inside = False
    for q in range(ax.shape[0]):
        if (ay[q] > py) != (by[q] > py):
            cross = ax[q] + (py - ay[q]) * (bx[q] - ax[q]) / (by[q] - ay[q])
            if px < cross:
                inside = not inside
    return inside, distance_to_edges(ax, ay, bx, by, px, py)


@njit(cache=True, nogil=True)
def snap_in_grid(
    ptr, entries, seg_bounds, x0, y0, cell, nx, ny, coord_start, coord_cum, coord_x, coord_y,
    seg_length, px, py, near_m, max_m,
):  # fmt: skip
    """:func:`snap_point` over the segments whose box meets the box of half-side ``near_m``
    around (px, py), or if none is that near, of half-side ``max_m``: ``(segment, offset,
    x, y, distance)``, segment -1 when none is within ``max_m``."""
    reach = min(near_m, max_m)
    while True:
        segs = grid_query(ptr, entries, seg_bounds, x0, y0, cell, nx, ny,
                          px - reach, py - reach, px + reach, py + reach)  # fmt: skip
        s, offset, x, y = snap_point(
            coord_start, coord_cum, coord_x, coord_y, seg_length, segs, px, py
        )
        distance = math.hypot(x - px, y - py) if s >= 0 else np.inf
        if distance <= reach or reach >= max_m:
            break
        reach = max_m
    if distance > max_m:
        return -1, 0.0, np.nan, np.nan, distance
    return s, offset, x, y, distance


@njit(cache=True, nogil=True)
def _stable_order(order, key):
    """``order`` re-sorted stably by ``key[order]`` (one pass of a lexicographic sort)."""
    return order[np.argsort(key[order], kind="mergesort")]


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
    order = _stable_order(order, key)
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


@njit(cache=True, nogil=True)
def cordon_table(
    network_mode, outbound_flags, rec, along, rec_ptr, end_a, end_b, rec_seg, rec_forward,
    grid_ptr, grid_seg, grid_x0, grid_y0, grid_cell, grid_nx, grid_ny, cx, cy, coord_start,
    coord_cum, coord_x, coord_y, seg_length, seg_oneway, seg_bounds, seg_road, seg_main,
    snap_seg, snap_offset, radius, foot, watch_m, merge_m, same_direction_deg, north_deg,
):  # fmt: skip
    """A cordon's approaches (and/or exits) in one call: the crossings of each direction in
    ``outbound_flags`` — of the network search's bound (``rec``/``along`` of direction ``d``
    at ``rec_ptr[d]:rec_ptr[d + 1]``, P's segment's end distances ``end_a[d]``/``end_b[d]``;
    :func:`network_crossings`) or of the circle around (cx, cy) by the segments whose box
    meets its box in the grid (:func:`grid_query`, :func:`circle_crossings`) — grouped into
    approaches by :func:`approach_table`.

    Returns ``(seg, flags, values, member_seg, member_ptr, stretch_xy, part, part_owner,
    boxes)`` per approach: its representative crossing's segment; ``flags`` rows forward,
    outbound, main; ``values`` rows offset, x, y and bearing (grid bearing less
    ``north_deg``, modulo 360); the merged crossings' segments; the watch stretches' vertices
    (rows x, y) with ``part``/``part_owner`` as :func:`approach_table` gives them; and each
    approach's stretch bounding box (minx, miny, maxx, maxy)."""
    two_way = foot or not seg_oneway[snap_seg]
    n_dir = outbound_flags.shape[0]
    segs = np.empty(0, dtype=np.int64)
    if not network_mode:
        segs = grid_query(grid_ptr, grid_seg, seg_bounds, grid_x0, grid_y0, grid_cell, grid_nx,
                          grid_ny, cx - radius, cy - radius, cx + radius, cy + radius)  # fmt: skip
    pieces = []
    for d in range(n_dir):
        outbound = outbound_flags[d]
        if network_mode:
            got = network_crossings(
                rec[rec_ptr[d] : rec_ptr[d + 1]], along[rec_ptr[d] : rec_ptr[d + 1]], rec_seg,
                rec_forward, coord_start, coord_cum, coord_x, coord_y, seg_length, outbound,
                snap_seg, snap_offset, end_a[d], end_b[d], radius, two_way,
            )  # fmt: skip
        else:
            got = circle_crossings(
                coord_start, coord_cum, coord_x, coord_y, seg_oneway, seg_bounds, segs, cx, cy,
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


@njit(cache=True, nogil=True)
def sector_rings(cx, cy, start_deg, span_deg, radius, tolerance_m, min_step_deg, max_step_deg):
    """Vertices (x, y, ring) of circular sectors' rings, as :func:`geo.coverage.sector_polygons`
    draws them: a sector is its centre, its arc points, its centre; a disk (span ≥ 360°) its arc
    points with the first repeated. Arc points are ``step`` apart, the largest angle whose chord
    stays within ``tolerance_m`` of the arc, clipped to [min_step_deg, max_step_deg], spread
    evenly over the span."""
    n = cx.shape[0]
    steps = np.empty(n, dtype=np.int64)
    counts = np.empty(n, dtype=np.int64)
    total = 0
    for i in range(n):
        cos_half = min(max(1.0 - tolerance_m / max(radius[i], 1e-9), -1.0), 1.0)
        step = min(max(np.degrees(2.0 * np.arccos(cos_half)), min_step_deg), max_step_deg)
        span = min(span_deg[i], 360.0)
        steps[i] = max(1, np.int64(np.ceil(span / step - 1e-9)))
        counts[i] = steps[i] + 1 if span_deg[i] >= 360 else steps[i] + 3
        total += counts[i]
    px = np.empty(total)
    py = np.empty(total)
    ring = np.empty(total, dtype=np.int64)
    at = 0
    for i in range(n):
        disk = span_deg[i] >= 360
        span = min(span_deg[i], 360.0)
        base = np.radians(start_deg[i])
        per_step = np.radians(span) / steps[i]
        last = counts[i] - 1
        for j in range(counts[i]):
            centre = not disk and (j == 0 or j == last)  # noqa: PLR1714 (numba: no tuple `in`)
            if centre:
                px[at], py[at] = cx[i], cy[i]
            else:
                arc_k = (0 if j == last else j) if disk else j - 1
                angle = base + per_step * arc_k
                px[at] = cx[i] + radius[i] * np.sin(angle)
                py[at] = cy[i] + radius[i] * np.cos(angle)
            ring[at] = i
            at += 1
    return px, py, ring


@njit(cache=True, nogil=True)
def watch_candidates(
    cam_x, cam_y, radius, span_deg, coord_x, coord_y, part_of, owner, n_geoms, pair_geom,
    tolerance_m, min_step_deg, max_step_deg,
):  # fmt: skip
    """For each candidate pair (camera i, line ``pair_geom[i]``): the distance from the camera
    to the line, and whether its coverage surely meets the line (1), surely does not (0), or
    only its polygon can tell (2).

    Lines are given by their vertices: ``part_of`` numbers each vertex's part, ``owner`` each
    part's line (both ascending). A disk's polygon holds every point within ``r·cos(step/2)``
    of its centre (its chords, ``step`` as in :func:`sector_rings`), and no point of any
    coverage lies beyond ``r``.
    """
    # each line's vertices are contiguous: find where each starts
    start = np.zeros(n_geoms + 1, dtype=np.int64)
    for q in range(part_of.shape[0]):
        start[owner[part_of[q]] + 1] = q + 1
    for g in range(1, n_geoms + 1):
        start[g] = max(start[g], start[g - 1])
    n = pair_geom.shape[0]
    near = np.empty(n)
    status = np.zeros(n, dtype=np.int8)
    for i in range(n):
        g = pair_geom[i]
        best = np.inf
        for q in range(start[g], start[g + 1] - 1):
            if part_of[q] != part_of[q + 1]:
                continue
            d = _to_piece(cam_x[i], cam_y[i], coord_x[q], coord_y[q], coord_x[q + 1],
                          coord_y[q + 1])[0]  # fmt: skip
            best = min(best, d)
        near[i] = best
        r = radius[i]
        if span_deg[i] >= 360.0:
            cos_half = min(max(1.0 - tolerance_m / max(r, 1e-9), -1.0), 1.0)
            step = min(max(np.degrees(2.0 * np.arccos(cos_half)), min_step_deg), max_step_deg)
            if best <= r * np.cos(np.radians(step) / 2) * (1 - 1e-9):
                status[i] = 1
                continue
        if best <= r * (1 + 1e-9):
            status[i] = 2
    return near, status


@njit(cache=True, nogil=True)
def line_bounds(x, y, part_of, owner, n_lines):
    """Bounding boxes of the lines given by their vertices (as in :func:`watch_candidates`)
    that have any: ``(boxes, line)``, ``boxes`` (m, 4) as minx, miny, maxx, maxy and ``line``
    the line each belongs to, ascending."""
    lo_x = np.full(n_lines, np.inf)
    lo_y = np.full(n_lines, np.inf)
    hi_x = np.full(n_lines, -np.inf)
    hi_y = np.full(n_lines, -np.inf)
    seen = np.zeros(n_lines, dtype=np.bool_)
    for q in range(x.shape[0]):
        g = owner[part_of[q]]
        seen[g] = True
        lo_x[g] = min(lo_x[g], x[q])
        lo_y[g] = min(lo_y[g], y[q])
        hi_x[g] = max(hi_x[g], x[q])
        hi_y[g] = max(hi_y[g], y[q])
    m = 0
    for g in range(n_lines):
        m += seen[g]
    boxes = np.empty((m, 4))
    line = np.empty(m, dtype=np.int64)
    j = 0
    for g in range(n_lines):
        if seen[g]:
            boxes[j, 0], boxes[j, 1], boxes[j, 2], boxes[j, 3] = lo_x[g], lo_y[g], hi_x[g], hi_y[g]
            line[j] = g
            j += 1
    return boxes, line


@njit(cache=True, nogil=True)
def watch_pairs(
    cam_x, cam_y, cam_radius, cam_span, coord_x, coord_y, part_of, owner, n_geoms, pair_geom,
    pair_cam, tolerance_m, min_step_deg, max_step_deg,
):  # fmt: skip
    """:func:`watch_candidates` for (line, camera row) pairs, reading the cameras' position,
    radius and span from the index's columns; the pairs that may watch (status 1 or 2)
    sorted by line, then camera: ``(pair_geom, pair_cam, near, unsure, n_unsure)``."""
    n = pair_geom.shape[0]
    x = np.empty(n)
    y = np.empty(n)
    radius = np.empty(n)
    span = np.empty(n)
    for i in range(n):
        c = pair_cam[i]
        x[i], y[i], radius[i], span[i] = cam_x[c], cam_y[c], cam_radius[c], cam_span[c]
    near, status = watch_candidates(
        x, y, radius, span, coord_x, coord_y, part_of, owner, n_geoms, pair_geom,
        tolerance_m, min_step_deg, max_step_deg,
    )  # fmt: skip
    keep = np.flatnonzero(status != 0)
    kept = keep.shape[0]
    order = np.argsort(pair_geom[keep] * cam_x.shape[0] + pair_cam[keep])  # by line, camera
    out_geom = np.empty(kept, dtype=np.int64)
    out_cam = np.empty(kept, dtype=np.int64)
    out_near = np.empty(kept)
    unsure = np.empty(kept, dtype=np.bool_)
    n_unsure = 0
    for j in range(kept):
        i = keep[order[j]]
        out_geom[j], out_cam[j], out_near[j] = pair_geom[i], pair_cam[i], near[i]
        unsure[j] = status[i] == 2
        n_unsure += unsure[j]
    return out_geom, out_cam, out_near, unsure, n_unsure


@njit(cache=True, nogil=True, error_model="numpy")
def rank_watchers(
    pair_app, cams, near, pixels_h, lens_factor, fixed, heading, pan_min, pan_max, online,
    id_rank, cam_x, cam_y, app_bearing, app_x, app_y, thresholds, level_idx, facing_deg,
    n_approaches,
):  # fmt: skip
    """Per (approach, camera) pair: pixel density at ``near`` metres, the DORI level reached
    (index into ``thresholds``, at least ``level_idx``), whether the camera can face the
    traffic (see :func:`geo.select.facing_traffic`), its distance to the crossing point; then
    the pairs ranked within each approach (online first, stronger level, facing, nearer, lower
    ``id_rank``). Returns, in ranked order, ``ints`` (rows approach, camera row, rank),
    ``values`` (rows density, distance, camera x, camera y), ``flags`` (rows facing, online)
    and the levels reached; and per approach (of ``n_approaches``) whether it is blind: no
    online camera among its pairs."""
    n = pair_app.shape[0]
    density = np.empty(n)
    reached = np.empty(n, dtype=np.int64)
    facing = np.empty(n, dtype=np.bool_)
    distance = np.empty(n)
    cam_online = np.empty(n, dtype=np.bool_)
    cam_id = np.empty(n, dtype=np.int64)
    for i in range(n):
        c = cams[i]
        a = pair_app[i]
        d = pixels_h[c] / (lens_factor[c] * near[i])
        density[i] = d
        level = -1
        for t in range(thresholds.shape[0]):
            if thresholds[t] <= d:
                level = t
        reached[i] = max(level, level_idx)
        target = np.mod(app_bearing[a] + 180.0, 360.0)
        if fixed[c]:
            h = heading[c]
            turn = np.abs(np.mod(h - target + 180.0, 360.0) - 180.0)
            facing[i] = np.isfinite(h) and turn <= facing_deg
        else:
            lo, hi = pan_min[c], pan_max[c]
            if not (np.isfinite(lo) and np.isfinite(hi)):
                facing[i] = True
            else:
                sweep = np.mod(hi - lo, 360.0) + 2 * facing_deg
                within = np.mod(target - (lo - facing_deg), 360.0) <= sweep
                facing[i] = sweep >= 360.0 or within
        distance[i] = np.hypot(cam_x[c] - app_x[a], cam_y[c] - app_y[a])
        cam_online[i] = online[c]
        cam_id[i] = id_rank[c]
    # lexicographic: approach, online first, stronger level, facing first, nearer, id
    order = np.argsort(cam_id, kind="mergesort")
    order = _stable_order(order, distance)
    order = _stable_order(order, ~facing)
    order = _stable_order(order, -reached)
    order = _stable_order(order, ~cam_online)
    order = _stable_order(order, pair_app)
    ints = np.empty((3, n), dtype=np.int64)  # approach, camera, rank
    values = np.empty((4, n))  # density, distance, camera x, camera y
    flags = np.empty((2, n), dtype=np.bool_)  # facing, online
    ranked_level = np.empty(n, dtype=np.int64)
    blind = np.ones(n_approaches, dtype=np.bool_)
    for j in range(n):
        i = order[j]
        a, c = pair_app[i], cams[i]
        ints[0, j], ints[1, j] = a, c
        if j > 0 and a == ints[0, j - 1]:
            ints[2, j] = ints[2, j - 1] + 1
        else:
            ints[2, j] = 1
        values[0, j], values[1, j] = density[i], distance[i]
        values[2, j], values[3, j] = cam_x[c], cam_y[c]
        flags[0, j], flags[1, j] = facing[i], cam_online[i]
        ranked_level[j] = reached[i]
        if cam_online[i]:
            blind[a] = False
    return ints, values, flags, ranked_level, blind


@njit(cache=True, nogil=True)
def cordon_pieces(
    nodes, dist, rec_ptr, rec_by_node, rec_seg, rec_forward, seg_length, snap_seg,
    snap_offset, radius, toward,
):  # fmt: skip
    """The parts of road a traveller covers within ``radius`` of P: for each reached node and
    each edge record listed under it (its edges ending there when ``toward`` P, starting there
    otherwise; P's own segment apart), the stretch of the edge next to the node that the
    remaining budget covers; then P's segment within ``radius`` of P. Returns (segment, start,
    end) offsets along each segment's geometry."""
    total = 0
    for i in range(nodes.shape[0]):
        total += rec_ptr[nodes[i] + 1] - rec_ptr[nodes[i]]
    seg = np.empty(total + 1, dtype=np.int64)
    start = np.empty(total + 1)
    end = np.empty(total + 1)
    k = 0
    for i in range(nodes.shape[0]):
        v = nodes[i]
        budget = radius - dist[i]
        for q in range(rec_ptr[v], rec_ptr[v + 1]):
            rec = rec_by_node[q]
            s = rec_seg[rec]
            if s == snap_seg:
                continue
            length = seg_length[s]
            covered = min(budget, length)
            # the covered part touches the reached end
            if rec_forward[rec] == toward:
                start[k], end[k] = length - covered, length
            else:
                start[k], end[k] = 0.0, covered
            seg[k] = s
            k += 1
    seg[k] = snap_seg
    start[k] = max(0.0, snap_offset - radius)
    end[k] = min(seg_length[snap_seg], snap_offset + radius)
    k += 1
    return seg[:k], start[:k], end[:k]


@njit(cache=True, nogil=True)
def drop_empty_lines(px, py, line):
    """Vertices of lines (as :func:`substrings` gives them) without the lines of zero length,
    the remaining lines renumbered from 0 in order."""
    n_lines = line[-1] + 1 if line.shape[0] else 0
    length = np.zeros(n_lines)
    for q in range(line.shape[0] - 1):
        if line[q] == line[q + 1]:
            length[line[q]] += np.hypot(px[q + 1] - px[q], py[q + 1] - py[q])
    new_id = np.empty(n_lines, dtype=np.int64)
    kept = 0
    for j in range(n_lines):
        new_id[j] = kept if length[j] > 0 else -1
        if length[j] > 0:
            kept += 1
    count = 0
    for q in range(line.shape[0]):
        if new_id[line[q]] >= 0:
            count += 1
    x = np.empty(count)
    y = np.empty(count)
    out = np.empty(count, dtype=np.int64)
    k = 0
    for q in range(line.shape[0]):
        j = new_id[line[q]]
        if j >= 0:
            x[k], y[k], out[k] = px[q], py[q], j
            k += 1
    return x, y, out
