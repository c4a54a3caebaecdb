"""Which cameras watch each approach, ranked, and which approaches are blind.

A camera *watches* an approach when its coverage at the requested DORI level intersects the
approach's watch stretch. The watchers of one approach are ranked:

1. online before offline or in maintenance (those are listed, last, flagged with their status
   and since when);
2. the DORI level reached on the stretch: the pixel density at the nearest point of the
   stretch inside the camera's coverage (never below the requested level);
3. facing the traffic: the camera can look within ±60° of the reverse of the direction of
   travel at the crossing (inbound traffic for an approach, outbound traffic for an exit).
   A fixed camera faces it when its heading does; a PTZ or dome when its pan range lets it
   (always, without pan limits); a fixed camera with an unknown heading does not;
4. distance from the camera to the crossing point (entry or exit point);
5. camera id, so that the order is reproducible.

An approach that no online camera watches at the requested level is **blind**.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from geo.approaches import Approaches, Cordon
from geo.coverage import DORI_LEVELS, level_px_per_m
from geo.domain import DORI_PX_PER_M
from geo.index import CoverageIndex
from geo.kernels.watch import ApproachPoints, Ranking, WatchPairs, rank_watchers
from geo.live_index import LiveCoverageIndex

#: A camera faces the traffic when it can look within this angle of it, degrees.
FACING_TOLERANCE_DEG = 60.0
_THRESHOLDS = np.array([DORI_PX_PER_M[name] for name in DORI_LEVELS])
_LEVEL_NAMES = np.asarray(DORI_LEVELS, dtype=str)


@dataclass(frozen=True, eq=False)
class Watchers:
    """Cameras watching each approach: one row per (approach, camera), ranked within approach.

    Attributes
    ----------
    approach
        Position of the approach in :class:`geo.approaches.Approaches`.
    camera, camera_id
        Row in the :class:`geo.index.CoverageIndex` and the camera's id.
    rank
        1 = best, within the approach.
    level
        DORI level reached on the watch stretch.
    px_per_m
        Horizontal pixels per metre at the nearest watched point of the stretch.
    facing
        Whether it can face the traffic (see the module's docstring).
    distance_m
        From the camera to the crossing point, metres.
    online, confidence
        Whether the camera is online, and ``"low"`` where its coverage rests on an unknown or
        inferred heading.
    status, status_since
        ``online``, ``offline`` or ``maintenance``, and since when (ISO 8601; None: unknown).
    x, y, kind
        Camera position (metres, working CRS) and kind.
    blind
        Per approach: no online camera watches it at ``requested_level``.
    """

    requested_level: str
    approach: NDArray[np.int64]
    camera: NDArray[np.int64]
    camera_id: NDArray[np.object_]
    rank: NDArray[np.int64]
    level: NDArray[np.str_]
    px_per_m: NDArray[np.float64]
    facing: NDArray[np.bool_]
    distance_m: NDArray[np.float64]
    online: NDArray[np.bool_]
    confidence: NDArray[np.str_]
    x: NDArray[np.float64]
    y: NDArray[np.float64]
    kind: NDArray[np.object_]
    blind: NDArray[np.bool_]
    status: NDArray[np.object_]
    status_since: NDArray[np.object_]

    def __len__(self) -> int:
        return int(self.approach.shape[0])


def _angle_between(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.abs(np.mod(a - b + 180.0, 360.0) - 180.0)


def facing_traffic(
    index: CoverageIndex, cameras: NDArray[np.int64], travel_bearing_deg: NDArray[np.float64]
) -> NDArray[np.bool_]:
    """Whether each camera can look within ±60° of the traffic travelling at the bearing given
    (degrees clockwise from true north), i.e. toward the reverse of that bearing.

    Examples
    --------
    >>> from geo.index import build_coverage_index
    >>> idx = build_coverage_index({"lon": [127.0] * 3, "lat": [37.5] * 3,
    ...     "kind": ["fixed", "fixed", "ptz"], "heading_deg": [180.0, 90.0, np.nan]})
    >>> facing_traffic(idx, np.arange(3), np.zeros(3)).tolist()  # traffic going north
    [True, False, True]
    """
    target = np.mod(travel_bearing_deg + 180.0, 360.0)
    kind = index.kind[cameras]
    heading = index.heading_deg[cameras]
    pan_min, pan_max = index.pan_min_deg[cameras], index.pan_max_deg[cameras]
    fixed_faces = np.isfinite(heading) & (_angle_between(heading, target) <= FACING_TOLERANCE_DEG)
    limited = np.isfinite(pan_min) & np.isfinite(pan_max)
    sweep = np.mod(pan_max - pan_min, 360.0) + 2 * FACING_TOLERANCE_DEG
    within = np.mod(target - (pan_min - FACING_TOLERANCE_DEG), 360.0) <= sweep
    steerable_faces = ~limited | (sweep >= 360.0) | within
    return np.where(kind == "fixed", fixed_faces, steerable_faces)


def cameras_watching(
    index: CoverageIndex | LiveCoverageIndex,
    approaches: Approaches | Cordon,
    *,
    level: str = "observe",
) -> Watchers:
    """The cameras watching each approach at DORI ``level``, ranked, and the blind approaches.

    Parameters
    ----------
    index
        From :func:`geo.index.build_coverage_index`, in the same working CRS as the approaches,
        or a :class:`geo.live_index.LiveCoverageIndex` (a snapshot's index with the camera
        changes made since).
    approaches
        A :class:`geo.approaches.Cordon` or its ``approaches``.
    level
        ``"detect"``, ``"observe"`` (default), ``"recognise"`` or ``"identify"``.
    """
    if isinstance(approaches, Cordon):
        approaches = approaches.approaches
    level_px_per_m(level)
    level_idx = DORI_LEVELS.index(level)
    k = len(approaches)
    # the nearest point of the stretch inside the coverage sets the pixel density there
    pair_app, cams, near, rows = index.watch_rows(
        approaches.stretch_x, approaches.stretch_y, approaches.stretch_part,
        approaches.stretch_owner, k, level=level, bounds=approaches.stretch_bounds,
    )  # fmt: skip
    n = pair_app.shape[0]
    if n == 0:
        return _no_watchers(rows, level, k)
    live, index = index, rows
    ranked = Ranking._make(
        rank_watchers(
            *WatchPairs(pair_app, cams, near), *index.camera_columns,
            *ApproachPoints(approaches.bearing_deg, approaches.x, approaches.y),
            _THRESHOLDS, level_idx, FACING_TOLERANCE_DEG, k,
        )
    )  # fmt: skip
    approach, cams, rank = ranked.ints
    px_per_m, distance_m, x, y = ranked.values
    facing, online = ranked.flags
    camera_id = np.asarray(index.camera_id[cams], dtype=object)
    if isinstance(live, LiveCoverageIndex):
        status, since = live.camera_state(camera_id, online)
    else:
        status, since = index.camera_state(cams)
    return Watchers(
        requested_level=level,
        approach=approach,
        camera=cams,
        camera_id=camera_id,
        rank=rank,
        level=_LEVEL_NAMES[ranked.level],
        px_per_m=px_per_m,
        facing=facing,
        distance_m=distance_m,
        online=online,
        confidence=index.confidence[cams],
        x=x,
        y=y,
        kind=index.kind[cams],
        blind=ranked.blind,
        status=status,
        status_since=since,
    )


def _no_watchers(index: CoverageIndex, level: str, k: int) -> Watchers:
    """The answer when no camera watches any of ``k`` approaches: all blind."""
    ints, floats = np.empty(0, dtype=np.int64), np.empty(0)
    flags = np.empty(0, dtype=bool)
    return Watchers(
        requested_level=level, approach=ints, camera=ints,
        camera_id=np.asarray(index.camera_id[:0], dtype=object), rank=ints,
        level=np.empty(0, dtype=str), px_per_m=floats, facing=flags, distance_m=floats,
        online=flags, confidence=index.confidence[:0], x=floats, y=floats,
        kind=index.kind[:0], blind=np.ones(k, dtype=bool),
        status=np.empty(0, dtype=object), status_since=np.empty(0, dtype=object),
    )  # fmt: skip
