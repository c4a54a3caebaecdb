"""Which cameras may watch which lines (the approaches' watch stretches), from distances alone
where they decide, and the watchers of each approach ranked (see :mod:`geo.select`)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit
from numpy.typing import NDArray

from geo.kernels.arrays import fields_of, stable_order
from geo.kernels.lines import to_piece
from geo.kernels.sectors import arc_step_deg


class CameraDisks(NamedTuple):
    """Every camera's position (metres), coverage radius at the level asked (metres) and
    coverage span (degrees; 360 or more is a disk)."""

    cam_x: NDArray[np.float64]
    cam_y: NDArray[np.float64]
    cam_radius: NDArray[np.float64]
    cam_span: NDArray[np.float64]


class LineVertices(NamedTuple):
    """``n_lines`` lines given by their vertices: ``part_of`` numbers each vertex's part,
    ``owner`` each part's line (both ascending)."""

    coord_x: NDArray[np.float64]
    coord_y: NDArray[np.float64]
    part_of: NDArray[np.int64]
    owner: NDArray[np.int64]
    n_lines: int


class WatchPairs(NamedTuple):
    """(approach, camera row) pairs and the camera's distance to the approach's watch stretch
    where its coverage meets it, metres."""

    pair_app: NDArray[np.int64]
    cams: NDArray[np.int64]
    near: NDArray[np.float64]


class CameraColumns(NamedTuple):
    """What the ranking reads of every camera: pixels across the image, the lens factor (metres
    of width per metre of distance), fixed or not, heading and pan limits (grid degrees, NaN
    unknown), online, the rank of its id, position (metres)."""

    pixels_h: NDArray[np.float64]
    lens_factor: NDArray[np.float64]
    fixed: NDArray[np.bool_]
    heading_deg: NDArray[np.float64]
    pan_min_deg: NDArray[np.float64]
    pan_max_deg: NDArray[np.float64]
    online: NDArray[np.bool_]
    id_rank: NDArray[np.int64]
    cam_x: NDArray[np.float64]
    cam_y: NDArray[np.float64]


class ApproachPoints(NamedTuple):
    """Each approach's bearing of travel (grid degrees) and crossing point (metres)."""

    app_bearing: NDArray[np.float64]
    app_x: NDArray[np.float64]
    app_y: NDArray[np.float64]


class Ranking(NamedTuple):
    """Watchers in ranked order, one column per (approach, camera) pair, columns of one type
    sharing an array (as :class:`geo.kernels.cordon.CordonTable` says why): ``ints`` rows
    approach, camera row, rank within the approach (from 1); ``values`` rows pixel density
    (px/m), distance to the crossing point (metres), camera x, y; ``flags`` rows facing the
    traffic, online; ``level`` the DORI level reached (index into the thresholds); and per
    approach whether it is ``blind``."""

    ints: NDArray[np.int64]
    values: NDArray[np.float64]
    flags: NDArray[np.bool_]
    level: NDArray[np.int64]
    blind: NDArray[np.bool_]


@njit(cache=True, nogil=True)
def watch_candidates(
    cam_x, cam_y, radius, span_deg, coord_x, coord_y, part_of, owner, n_lines, pair_geom,
    tolerance_m, min_step_deg, max_step_deg,
):  # fmt: skip
    """For each candidate pair (camera i, line ``pair_geom[i]``): the distance from the camera
    to the line, and whether its coverage surely meets the line (1), surely does not (0), or
    only its polygon can tell (2).

    Lines are given by their vertices: ``part_of`` numbers each vertex's part, ``owner`` each
    part's line (both ascending). A disk's polygon holds every point within ``r·cos(step/2)``
    of its centre (its chords, ``step`` as in
    :func:`geo.kernels.sectors.sector_rings`), and no point of any
    coverage lies beyond ``r``.
    """
    # each line's vertices are contiguous: find where each starts
    start = np.zeros(n_lines + 1, dtype=np.int64)
    for q in range(part_of.shape[0]):
        start[owner[part_of[q]] + 1] = q + 1
    for g in range(1, n_lines + 1):
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
            d = to_piece(cam_x[i], cam_y[i], coord_x[q], coord_y[q], coord_x[q + 1],
                          coord_y[q + 1])[0]  # fmt: skip
            best = min(best, d)
        near[i] = best
        r = radius[i]
        if span_deg[i] >= 360.0:
            step = arc_step_deg(r, tolerance_m, min_step_deg, max_step_deg)
            if best <= r * np.cos(np.radians(step) / 2) * (1 - 1e-9):
                status[i] = 1
                continue
        if best <= r * (1 + 1e-9):
            status[i] = 2
    return near, status


@fields_of(CameraDisks, LineVertices)
@njit(cache=True, nogil=True)
def watch_pairs(
    cam_x, cam_y, cam_radius, cam_span, coord_x, coord_y, part_of, owner, n_lines, pair_geom,
    pair_cam, tolerance_m, min_step_deg, max_step_deg,
):  # fmt: skip
    """:func:`watch_candidates` for (line, camera row) pairs, from the fields of
    :class:`CameraDisks` (every camera of the index) and :class:`LineVertices`, arcs drawn as
    :func:`geo.kernels.sectors.arc_step_deg` says; the pairs that may watch (status 1 or 2)
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
        x, y, radius, span, coord_x, coord_y, part_of, owner, n_lines, pair_geom,
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


@fields_of(WatchPairs, CameraColumns, ApproachPoints)
@njit(cache=True, nogil=True, error_model="numpy")
def rank_watchers(
    pair_app, cams, near, pixels_h, lens_factor, fixed, heading_deg, pan_min_deg, pan_max_deg,
    online, id_rank, cam_x, cam_y, app_bearing, app_x, app_y, thresholds, level_idx,
    facing_deg, n_approaches,
):  # fmt: skip
    """Per (approach, camera) pair: pixel density at ``near`` metres, the DORI level reached
    (index into ``thresholds``, at least ``level_idx``), whether the camera can face the
    traffic (see :func:`geo.select.facing_traffic`), its distance to the crossing point; then
    the pairs ranked within each approach (online first, stronger level, facing, nearer, lower
    ``id_rank``), from the fields of :class:`WatchPairs`, :class:`CameraColumns` and
    :class:`ApproachPoints`. Returns the fields of a :class:`Ranking` (``Ranking._make`` names
    them, as :func:`geo.kernels.cordon.cordon_table` says why); an approach (of ``n_approaches``)
    is blind when no online camera is among its pairs."""
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
            h = heading_deg[c]
            turn = np.abs(np.mod(h - target + 180.0, 360.0) - 180.0)
            facing[i] = np.isfinite(h) and turn <= facing_deg
        else:
            lo, hi = pan_min_deg[c], pan_max_deg[c]
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
    order = stable_order(order, distance)
    order = stable_order(order, ~facing)
    order = stable_order(order, -reached)
    order = stable_order(order, ~cam_online)
    order = stable_order(order, pair_app)
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
