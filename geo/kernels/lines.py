"""Lines as flat vertex arrays: points, pieces and substrings along them, the nearest of them
to a point, and a point's place with respect to a polygon's boundary pieces.

Line ``s`` of a :class:`Polylines` has the vertices ``coord_x/coord_y[coord_start[s]:
coord_start[s + 1]]``; ``coord_cum`` is their cumulative distance along the concatenation of
all lines, so positions along any line are found by bisection (metres, working CRS).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit
from numpy.typing import NDArray

from geo.kernels.arrays import fields_of

#: Offsets along a road closer than this are one point, metres.
_SAME_POINT_M = 1e-9


class Polylines(NamedTuple):
    """Road segments' geometry as flat vertices (see the module's docstring) and each
    segment's length along it, metres."""

    coord_start: NDArray[np.int64]
    coord_cum: NDArray[np.float64]
    coord_x: NDArray[np.float64]
    coord_y: NDArray[np.float64]
    seg_length: NDArray[np.float64]


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
def locate_one(coord_start, coord_cum, coord_x, coord_y, seg_length, s, offset):
    """:func:`locate` for one point: ``(x, y, azimuth, piece, target)``."""
    x, y, p, t, dx, dy = _point_at(coord_start, coord_cum, coord_x, coord_y, seg_length, s, offset)
    return x, y, np.mod(np.degrees(np.arctan2(dx, dy)), 360.0), p, t


@fields_of(Polylines)
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
        x[i], y[i], azimuth[i], piece[i], target[i] = locate_one(
            coord_start, coord_cum, coord_x, coord_y, seg_length, seg[i], offset[i]
        )
    return x, y, azimuth, piece, target


@fields_of(Polylines)
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
def to_piece(px, py, ax, ay, bx, by):
    """From (px, py) to the piece a→b: ``(distance, t, length²)``, ``t`` in [0, 1] the nearest
    point's position along the piece."""
    dx, dy = bx - ax, by - ay
    qx, qy = px - ax, py - ay
    length2 = dx * dx + dy * dy
    t = (qx * dx + qy * dy) / (length2 if length2 > 0 else 1.0)
    t = min(max(t, 0.0), 1.0)
    return math.hypot(qx - t * dx, qy - t * dy), t, length2


@njit(cache=True, nogil=True)
def distance_to_edges(ax, ay, bx, by, px, py):
    """Distance from (px, py) to the nearest of the pieces a→b (``inf`` if there are none)."""
    best = np.inf
    for q in range(ax.shape[0]):
        best = min(best, to_piece(px, py, ax[q], ay[q], bx[q], by[q])[0])
    return best


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
            d, t, length2 = to_piece(px, py, coord_x[p], coord_y[p], coord_x[p + 1], coord_y[p + 1])
            if d < best_d or (d == best_d and s < best_seg):
                best_seg = s
                best_d = d
                best_off = coord_cum[p] - coord_cum[first] + t * math.sqrt(length2)
    return best_seg, best_d, best_off


@fields_of(Polylines)
@njit(cache=True, nogil=True)
def snap_point(coord_start, coord_cum, coord_x, coord_y, seg_length, segs, px, py):
    """:func:`nearest_segment`, then the point there: ``(segment, offset, x, y)`` with the
    offset clipped to the segment and (x, y) located as :func:`locate` does;
    ``(-1, 0, nan, nan)`` when ``segs`` is empty."""
    s, _, offset = nearest_segment(coord_start, coord_cum, coord_x, coord_y, segs, px, py)
    if s < 0:
        return s, 0.0, np.nan, np.nan
    offset = min(max(offset, 0.0), seg_length[s])
    x, y, _, _, _ = locate_one(coord_start, coord_cum, coord_x, coord_y, seg_length, s, offset)
    return s, offset, x, y
