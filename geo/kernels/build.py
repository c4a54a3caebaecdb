"""Compiled loops that build the road graph's arrays once
(:func:`geo.network.road_network_from_vertices`): edges grouped by node with a counting sort,
the adjacency rows with parallel edges merged, and every node's distance to the edge of the
data. Each replaces a sort or one geometry call per node (seconds on a national network) with
one pass over the arrays."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from geo.kernels.lines import to_piece


@njit(cache=True, nogil=True)
def group_by_key(key, n):
    """``(ptr, order)``: the positions of ``key`` (ints in [0, n)) grouped by key, each group
    in ascending position (a stable counting sort: what ``np.argsort(key, kind="stable")``
    gives), group k being ``order[ptr[k]:ptr[k + 1]]``."""
    ptr = np.zeros(n + 1, dtype=np.int64)
    for i in range(key.shape[0]):
        ptr[key[i] + 1] += 1
    for k in range(n):
        ptr[k + 1] += ptr[k]
    fill = ptr[:-1].copy()
    order = np.empty(key.shape[0], dtype=np.int64)
    for i in range(key.shape[0]):
        k = key[i]
        order[fill[k]] = i
        fill[k] += 1
    return ptr, order


@njit(cache=True, nogil=True)
def merged_adjacency(src, dst, w, n):
    """CSR rows of the edges ``src → dst`` (weights ``w``) by ``src``, each row's targets
    ascending; of parallel edges (same src and dst) one, with the least weight:
    ``(ptr, targets, weights)``."""
    ptr_in, order = group_by_key(src, n)
    out_dst = np.empty(src.shape[0], dtype=np.int64)
    out_w = np.empty(src.shape[0], dtype=np.float64)
    ptr = np.zeros(n + 1, dtype=np.int64)
    k = 0
    for row in range(n):
        start = k
        for j in range(ptr_in[row], ptr_in[row + 1]):
            e = order[j]
            d = dst[e]
            x = w[e]
            i = k - 1
            while i >= start and out_dst[i] > d:
                i -= 1
            if i >= start and out_dst[i] == d:
                out_w[i] = min(out_w[i], x)
                continue
            # insertion: rows are a node's few edges
            for q in range(k, i + 1, -1):
                out_dst[q] = out_dst[q - 1]
                out_w[q] = out_w[q - 1]
            out_dst[i + 1] = d
            out_w[i + 1] = x
            k += 1
        ptr[row + 1] = k
    return ptr, out_dst[:k].copy(), out_w[:k].copy()


@njit(cache=True, nogil=True)
def _box_gap(x0, y0, x1, y1, u0, v0, u1, v1):
    """Distance between the boxes [x0, x1]×[y0, y1] and [u0, u1]×[v0, v1] (0 if they meet)."""
    gx = max(0.0, u0 - x1, x0 - u1)
    gy = max(0.0, v0 - y1, y0 - v1)
    return math.hypot(gx, gy)


@njit(cache=True, nogil=True)
def edge_distances(ax, ay, bx, by, px, py, cells):
    """Each point's distance to the nearest of the pieces a→b (``inf`` if there are none).

    The points' box is cut into ``cells`` × ``cells``; a cell keeps only the pieces that can
    be nearest to a point inside it (those no farther from the cell than the least distance
    from the cell's centre to a piece, plus half the cell's diagonal), so a point looks at a
    few pieces, not at every one."""
    n, m = px.shape[0], ax.shape[0]
    out = np.full(n, np.inf)
    if n == 0 or m == 0:
        return out
    x0, y0, x1, y1 = px.min(), py.min(), px.max(), py.max()
    w = max((x1 - x0) / cells, 1e-9)
    h = max((y1 - y0) / cells, 1e-9)
    half_diag = 0.5 * math.hypot(w, h)
    lo_x, lo_y = np.minimum(ax, bx), np.minimum(ay, by)
    hi_x, hi_y = np.maximum(ax, bx), np.maximum(ay, by)
    ptr = np.zeros(cells * cells + 1, dtype=np.int64)
    keep = np.empty(cells * cells * m, dtype=np.int64)
    k = 0
    for c in range(cells * cells):
        cx0 = x0 + (c % cells) * w
        cy0 = y0 + (c // cells) * h
        mx, my = cx0 + 0.5 * w, cy0 + 0.5 * h
        bound = np.inf
        for q in range(m):
            bound = min(bound, to_piece(mx, my, ax[q], ay[q], bx[q], by[q])[0])
        bound += half_diag
        for q in range(m):
            if _box_gap(cx0, cy0, cx0 + w, cy0 + h, lo_x[q], lo_y[q], hi_x[q], hi_y[q]) <= bound:
                keep[k] = q
                k += 1
        ptr[c + 1] = k
    for i in range(n):
        ix = min(int((px[i] - x0) / w), cells - 1)
        iy = min(int((py[i] - y0) / h), cells - 1)
        c = ix + iy * cells
        best = np.inf
        for j in range(ptr[c], ptr[c + 1]):
            q = keep[j]
            best = min(best, to_piece(px[i], py[i], ax[q], ay[q], bx[q], by[q])[0])
        out[i] = best
    return out


@njit(cache=True, nogil=True)
def linestring_counts(raw):
    """The vertex count of each 2-D LineString in ``raw`` (bytes of little-endian WKB one
    after the other), walking header to header; ``(counts, ok)``, ``ok`` False where a header
    is not a little-endian 2-D LineString's or a geometry runs past the end."""
    counts = np.empty(raw.shape[0] // 41 + 1, dtype=np.int64)  # a LineString takes >= 41 bytes
    n = 0
    pos = np.int64(0)
    end = np.int64(raw.shape[0])
    while pos < end:
        if pos + 9 > end or raw[pos] != 1:
            return counts[:n], False
        kind = raw[pos + 1] | (raw[pos + 2] << 8) | (raw[pos + 3] << 16) | (raw[pos + 4] << 24)
        if kind != 2:
            return counts[:n], False
        count = (
            np.int64(raw[pos + 5])
            | (np.int64(raw[pos + 6]) << 8)
            | (np.int64(raw[pos + 7]) << 16)
            | (np.int64(raw[pos + 8]) << 24)
        )
        pos += 9 + 16 * count
        if pos > end or n >= counts.shape[0]:
            return counts[:n], False
        counts[n] = count
        n += 1
    return counts[:n], True


@njit(cache=True, nogil=True)
def hilbert_keys(gx, gy, side):
    """Each grid cell's (``gx``, ``gy``: ints in [0, side), side a power of two) position
    along the Hilbert curve through the ``side`` × ``side`` grid."""
    key = np.zeros(gx.shape[0], dtype=np.int64)
    for i in range(gx.shape[0]):
        x, y, k = gx[i], gy[i], np.int64(0)
        s = side // 2
        while s > 0:
            rx = 1 if (x & s) > 0 else 0
            ry = 1 if (y & s) > 0 else 0
            k += s * s * ((3 * rx) ^ ry)
            if ry == 0:  # rotate the quadrant so that the curve runs on through it
                if rx == 1:
                    x = side - 1 - x
                    y = side - 1 - y
                x, y = y, x
            s //= 2
        key[i] = k
    return key


@njit(cache=True, nogil=True)
def line_boxes(coord_x, coord_y, counts):
    """The bounding box (minx, miny, maxx, maxy) of each line, given its vertices one line
    after the other and each line's vertex count (every count >= 1)."""
    out = np.empty((counts.shape[0], 4), dtype=np.float64)
    at = 0
    for i in range(counts.shape[0]):
        x0 = x1 = coord_x[at]
        y0 = y1 = coord_y[at]
        for j in range(at + 1, at + counts[i]):
            x0 = min(x0, coord_x[j])
            x1 = max(x1, coord_x[j])
            y0 = min(y0, coord_y[j])
            y1 = max(y1, coord_y[j])
        out[i, 0], out[i, 1], out[i, 2], out[i, 3] = x0, y0, x1, y1
        at += counts[i]
    return out
