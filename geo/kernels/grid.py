"""A uniform grid over boxes (the road segments' bounding boxes): the boxes meeting a query
box, as an R-tree's query answers it, and snapping a point to its nearest segment with it."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit
from numpy.typing import NDArray

from geo.kernels.arrays import fields_of
from geo.kernels.lines import Polylines, snap_point

#: Most cells of a grid built by :func:`build_grid`.
MAX_GRID_CELLS = 4_000_000


class Grid(NamedTuple):
    """A uniform grid over ``bounds`` (n, 4: minx, miny, maxx, maxy, metres): cell ``ix + iy·nx``
    of side ``cell`` metres from (``x0``, ``y0``) lists the boxes (rows of ``bounds``) meeting
    it, ascending, in ``entries[ptr[c]:ptr[c + 1]]``."""

    ptr: NDArray[np.int64]
    entries: NDArray[np.int64]
    bounds: NDArray[np.float64]
    x0: float
    y0: float
    cell: float
    nx: int
    ny: int


def build_grid(bounds: NDArray[np.float64], *, cell: float = 500.0) -> Grid:
    """The grid over ``bounds`` (n boxes; for none, one empty cell), its cells ``cell`` metres
    wide (wider where more than :data:`MAX_GRID_CELLS` would be needed).

    Examples
    --------
    >>> g = build_grid(np.array([[0.0, 0.0, 10.0, 10.0], [900.0, 0.0, 1000.0, 50.0]]))
    >>> g.nx, g.ny, g.entries.tolist()
    (3, 1, [0, 1, 1])
    >>> grid_query(*g, 950.0, 0.0, 960.0, 1.0).tolist()
    [1]
    """
    bounds = np.ascontiguousarray(bounds, dtype=np.float64).reshape(-1, 4)
    if bounds.shape[0] == 0:
        return Grid(np.zeros(2, dtype=np.int64), np.empty(0, dtype=np.int64), bounds,
                    0.0, 0.0, cell, 1, 1)  # fmt: skip
    x0, y0 = float(bounds[:, 0].min()), float(bounds[:, 1].min())
    width = float(bounds[:, 2].max()) - x0
    height = float(bounds[:, 3].max()) - y0
    cell = max(cell, math.sqrt(width * height / MAX_GRID_CELLS))
    nx, ny = int(width // cell) + 1, int(height // cell) + 1
    ptr, entries = grid_build(bounds, x0, y0, cell, nx, ny)
    return Grid(ptr, entries, bounds, x0, y0, cell, nx, ny)


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


@fields_of(Grid)
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


@fields_of(Grid)
@njit(cache=True, nogil=True)
def grid_query_boxes(ptr, entries, bounds, x0, y0, cell, nx, ny, minx, miny, maxx, maxy):
    """:func:`grid_query` for many query boxes (arrays of their sides): the pairs (query box,
    box row) that meet, by query box then row, as an R-tree's bulk query with boxes gives
    them (``STRtree.query``, no predicate)."""
    n = minx.shape[0]
    found = []
    total = 0
    for i in range(n):
        rows = grid_query(ptr, entries, bounds, x0, y0, cell, nx, ny,
                          minx[i], miny[i], maxx[i], maxy[i])  # fmt: skip
        found.append(rows)
        total += rows.shape[0]
    query = np.empty(total, dtype=np.int64)
    row = np.empty(total, dtype=np.int64)
    k = 0
    for i in range(n):
        m = found[i].shape[0]
        query[k : k + m] = i
        row[k : k + m] = found[i]
        k += m
    return query, row


@fields_of(Grid, Polylines)
@njit(cache=True, nogil=True)
def snap_in_grid(
    ptr, entries, bounds, x0, y0, cell, nx, ny, coord_start, coord_cum, coord_x, coord_y,
    seg_length, px, py, near_m, max_m,
):  # fmt: skip
    """:func:`snap_point` over the segments whose box meets the box of half-side ``near_m``
    around (px, py), or if none is that near, of half-side ``max_m``: ``(segment, offset,
    x, y, distance)``, segment -1 when none is within ``max_m``."""
    reach = min(near_m, max_m)
    while True:
        segs = grid_query(ptr, entries, bounds, x0, y0, cell, nx, ny,
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
