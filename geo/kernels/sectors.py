"""Coverage sectors' rings: the arc points of circular sectors and disks, as
:func:`geo.coverage.sector_polygons` draws them (metres and degrees clockwise from grid
north)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, nogil=True)
def arc_step_deg(radius, tolerance_m, min_step_deg, max_step_deg):
    """The angle between a ring's arc points: the largest whose chord stays within
    ``tolerance_m`` of an arc of ``radius`` metres, clipped to [min_step_deg, max_step_deg]."""
    cos_half = min(max(1.0 - tolerance_m / max(radius, 1e-9), -1.0), 1.0)
    return min(max(np.degrees(2.0 * np.arccos(cos_half)), min_step_deg), max_step_deg)


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
        step = arc_step_deg(radius[i], tolerance_m, min_step_deg, max_step_deg)
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
