"""A registry snapshot's coverage index with the camera changes made since, applied in place.

The base :class:`geo.index.CoverageIndex` (a snapshot at one registry version, possibly shared
read-only between processes) is never modified. A camera changed after it — status, position,
heading, field of view, kind, added or removed — is *masked* out of the base and its current
state goes into a small delta: per-camera columns in slots, and an R-tree (libspatialindex,
``rtree``) over their coverage boxes that takes inserts and deletes in place. A query asks the
base tree and the delta tree, drops the masked base rows and decides the delta's candidates
with the very code the base uses (:meth:`geo.index.CoverageIndex.decide_pairs`); the cameras
found are gathered into a small index for ranking. The answers are those of an index rebuilt
from the changed registry (tests/test_live_index.py checks it on random edits).

A change that leaves a camera's coverage as the base has it — a status report from a centre's
VMS, the bulk of all changes — does not go into the delta: the camera stays a base row and
only its status is overridden (one byte per base row), so that thousands of reports a minute
leave the delta, and the cost of a query, as they were.

A change's columns are turned into index rows by :func:`geo.index.build_coverage_index`, the
function that builds the base, so a changed camera is drawn exactly as a rebuild would draw it.

Thread-safe: :meth:`LiveCoverageIndex.apply` and the masked/delta half of a query hold one lock
for a few microseconds; the base half runs outside it. Pure: no database, no web framework.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from rtree import index as rtree_index

from geo.index import (
    CoverageIndex,
    build_coverage_index,
    index_from_rows,
    index_rows,
    sector_bounds,
)
from geo.kernels.arrays import floats, ints
from geo.kernels.lines import line_bounds


@dataclass(frozen=True)
class CameraState:
    """A camera's reported status, why, and since when (ISO 8601 text; None: as imported)."""

    status: str
    reason: str = ""
    since: str | None = None


def _since_text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return None
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


class LiveCoverageIndex:
    """A base coverage index plus the camera changes applied since (see the module's doc).

    Parameters
    ----------
    base
        The snapshot's index.
    states
        Status, reason and since-time of the cameras that were not online at the snapshot
        (few); cameras not named are online, or offline as the base says.
    applied_seq
        The change sequence the base reflects: changes after it are applied with :meth:`apply`.
    """

    def __init__(
        self,
        base: CoverageIndex,
        *,
        states: dict[Any, CameraState] | None = None,
        applied_seq: int = 0,
    ) -> None:
        self.base = base
        self.crs = base.crs
        self.max_range_m = base.max_range_m
        self.applied_seq = applied_seq
        self._lock = threading.Lock()
        self._states: dict[Any, CameraState] = dict(states or {})
        self._masked: NDArray[np.bool_] | None = None
        #: per base row: -1 as the base says, else whether it is online now (a camera whose
        #: change since the base is its status alone stays a base row, not a delta slot)
        self._online_now: NDArray[np.int8] | None = None
        self._base_order: NDArray[np.int64] | None = None
        self._tree = rtree_index.Index(interleaved=True)
        self._columns: dict[str, NDArray[Any]] = {}
        self._boxes = np.empty((0, 4))
        self._slot_of: dict[Any, int] = {}
        self._free: list[int] = []
        self.changes_applied = 0

    def __len__(self) -> int:
        masked = 0 if self._masked is None else int(self._masked.sum())
        return len(self.base) - masked + len(self._slot_of)

    @property
    def delta_size(self) -> int:
        """Cameras held in the delta (their coverage changed, or added, since the base); a
        camera whose status alone changed is not one of them."""
        return len(self._slot_of)

    def _status_only(
        self, rows: dict[str, NDArray[Any]], base_rows: NDArray[np.int64]
    ) -> NDArray[np.bool_]:
        """Which index rows (``rows``, one per kept camera, their base rows ``base_rows``, -1
        for none) differ from their base row in ``online`` alone."""
        out = base_rows >= 0
        if not out.any():
            return out
        at = np.flatnonzero(out)
        base = index_rows(self.base, base_rows[at])
        same = np.ones(at.shape[0], dtype=bool)
        for name, theirs in base.items():
            if name == "online":
                continue
            ours = np.asarray(rows[name])[at]
            if ours.dtype.kind == "f" and np.asarray(theirs).dtype.kind == "f":
                same &= (ours == theirs) | (np.isnan(ours) & np.isnan(theirs))
            else:
                same &= np.asarray(ours == theirs, dtype=bool)
        out[at] = same
        return out

    # ---- applying changes ------------------------------------------------------------------

    def _base_row(self, camera_ids: NDArray[Any]) -> NDArray[np.int64]:
        """Base row of each id, -1 where the base has none."""
        ids = np.asarray(self.base.camera_id)
        if self._base_order is None:
            self._base_order = np.argsort(ids, kind="stable")
        order = self._base_order
        wanted = np.asarray(camera_ids, dtype=ids.dtype)
        pos = np.searchsorted(ids[order], wanted)
        pos = np.minimum(pos, max(len(order) - 1, 0))
        if len(order) == 0:
            return np.full(wanted.shape[0], -1, dtype=np.int64)
        rows = order[pos]
        return np.where(ids[rows] == wanted, rows, -1).astype(np.int64)

    def _grow(self, needed: int) -> None:
        have = self._boxes.shape[0]
        if needed <= have:
            return
        size = max(needed, 2 * have, 64)
        self._boxes = np.resize(self._boxes, (size, 4))
        for name, col in list(self._columns.items()):
            grown = np.empty(size, dtype=col.dtype)
            grown[:have] = col
            self._columns[name] = grown
        self._free.extend(range(size - 1, have - 1, -1))

    def apply(self, cameras: pd.DataFrame, *, seq: int) -> None:
        """Apply the current state of changed cameras, one row each, as the snapshot's camera
        table holds them (``id``, ``x``/``y`` in the working CRS, ``kind``, ``heading_deg``,
        ``heading_source``, ``fov_deg``, ``pan_min_deg``, ``pan_max_deg``,
        ``resolution_px_h``, ``status``) and, where known, ``status_reason`` and
        ``status_since``. A ``retired`` camera is removed. ``seq`` is the change sequence
        this brings the index to.
        """
        if cameras.empty:
            with self._lock:
                self.applied_seq = max(self.applied_seq, seq)
            return
        status = cameras["status"].astype(str).to_numpy()
        ids = cameras["id"].to_numpy()
        built = build_coverage_index(cameras, max_range_m=self.max_range_m, crs=self.crs)
        rows = index_rows(built, np.arange(len(built)))
        widest = np.max(np.stack(built.range_by_level), axis=0)
        boxes = sector_bounds(built.x, built.y, built.grid_start_deg, built.grid_span_deg, widest)
        reasons = cameras.get("status_reason", pd.Series([""] * len(cameras))).fillna("")
        since = cameras.get("status_since", pd.Series([None] * len(cameras)))
        states = {
            i: CameraState(str(s), str(r), _since_text(t))
            for i, s, r, t in zip(
                ids.tolist(), status, reasons.tolist(), since.tolist(), strict=True
            )
        }
        base_rows = self._base_row(ids)
        kept_base = self._base_row(rows["camera_id"])
        # a camera back to its base coverage with another status: a base row with its status
        # overridden, out of the delta (VMS reports, the bulk of changes, stay this cheap)
        status_only = self._status_only(rows, kept_base)
        back = kept_base[status_only]
        online_now = np.asarray(rows["online"], dtype=bool)[status_only]
        drawn = ~status_only
        rows = {name: np.asarray(value)[drawn] for name, value in rows.items()}
        boxes = boxes[drawn]
        kept = [int(c) if isinstance(c, np.integer) else c for c in rows["camera_id"].tolist()]
        leaving = [
            int(c) if isinstance(c, np.integer) else c
            for c in np.asarray(ids)[np.isin(ids, rows["camera_id"], invert=True)].tolist()
        ]
        with self._lock:
            if np.any(base_rows >= 0):
                if self._masked is None:
                    self._masked = np.zeros(len(self.base), dtype=bool)
                self._masked[base_rows[base_rows >= 0]] = True
                self._masked[back] = False
            if back.shape[0]:
                if self._online_now is None:
                    self._online_now = np.full(len(self.base), -1, dtype=np.int8)
                self._online_now[back] = np.where(
                    online_now == self.base.online[back], -1, online_now.astype(np.int8)
                )
            if not self._columns:
                # text columns as objects: a fixed width would cut a longer value later
                self._columns = {
                    name: value[:0].astype(object) if value.dtype.kind == "U" else value[:0].copy()
                    for name, value in rows.items()
                }
            for cam in leaving:  # removed cameras, and those back to their base coverage
                if cam in self._slot_of:
                    slot = self._slot_of.pop(cam)
                    self._tree.delete(slot, tuple(self._boxes[slot]))
                    self._free.append(slot)
            self._grow(len(self._slot_of) + len(kept))
            slots = np.empty(len(kept), dtype=np.int64)
            moved = np.ones(len(kept), dtype=bool)
            for j, cam in enumerate(kept):
                held = self._slot_of.get(cam)
                if held is None:
                    held = self._slot_of[cam] = self._free.pop()
                elif np.array_equal(self._boxes[held], boxes[j]):
                    moved[j] = False  # a status report: the tree already has the right box
                else:
                    self._tree.delete(held, tuple(self._boxes[held]))
                slots[j] = held
            for name, value in rows.items():
                self._columns[name][slots] = value
            self._boxes[slots] = boxes
            for j in np.flatnonzero(moved).tolist():
                self._tree.insert(int(slots[j]), tuple(boxes[j]))
            for cam, state in states.items():
                if state.status == "online":
                    self._states.pop(cam, None)
                else:
                    self._states[cam] = state
            self.applied_seq = max(self.applied_seq, seq)
            self.changes_applied += len(ids)

    # ---- answering ---------------------------------------------------------------------------

    def state_of(self, camera_id: Any) -> CameraState:
        """The camera's status as this index knows it (``online`` when nothing is known)."""
        return self._states.get(camera_id, CameraState("online"))

    def watch_rows(
        self,
        x: ArrayLike,
        y: ArrayLike,
        part: ArrayLike,
        owner: ArrayLike,
        n: int,
        *,
        level: str,
        bounds: NDArray[np.float64] | None = None,
    ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], CoverageIndex]:
        """:meth:`geo.index.CoverageIndex.watch_rows` over the base and the changes: pairs
        (line, camera row of the small index returned) whose coverage at ``level`` meets the
        line, with the distance of :meth:`geo.index.CoverageIndex.query`."""
        x, y, part, owner = floats(x), floats(y), ints(part), ints(owner)
        if bounds is None:
            bounds, _ = line_bounds(x, y, part, owner, n)
        pair_geom, rows, near = self.base.query_lines(
            x, y, part, owner, n, level=level, bounds=bounds
        )
        with self._lock:
            if self._masked is None and not self._slot_of and self._online_now is None:
                return pair_geom, rows, near, self.base
            if self._masked is not None and rows.shape[0]:
                keep = ~self._masked[rows]
                pair_geom, rows, near = pair_geom[keep], rows[keep], near[keep]
            cand_geom, cand_slot = self._delta_candidates(bounds)
            online_now = None if self._online_now is None else self._online_now[rows]
            restated = online_now is not None and bool(np.any(online_now >= 0))
            if cand_slot.shape[0] == 0 and not restated:
                return pair_geom, rows, near, self.base  # nothing changed near: the base's
            slots, local = np.unique(cand_slot, return_inverse=True)
            delta_cols = {name: col[slots] for name, col in self._columns.items()}
        base_rows, base_local = np.unique(rows, return_inverse=True)
        base_cols = index_rows(self.base, base_rows)
        if restated:
            assert online_now is not None
            now = np.empty(base_rows.shape[0], dtype=np.int8)
            now[base_local.reshape(-1)] = online_now
            base_cols["online"] = np.where(now >= 0, now == 1, base_cols["online"])
        n_base = base_rows.shape[0]
        if slots.shape[0] == 0:  # status overrides only: the base's pairs, on a small index
            merged = index_from_rows(base_cols, crs=self.crs, max_range_m=self.max_range_m)
            return pair_geom, base_local.reshape(-1).astype(np.int64), near, merged
        # one small index of the cameras found, base rows first: it decides the delta's
        # candidates (the base's own decided them already) and ranks them all
        columns = {name: np.concatenate([base_cols[name], delta_cols[name]]) for name in base_cols}
        merged = index_from_rows(columns, crs=self.crs, max_range_m=self.max_range_m)
        d_geom, d_cam, d_near = merged.decide_pairs(
            x, y, part, owner, n, ints(cand_geom), ints(local + n_base), level=level
        )
        return (
            np.concatenate([pair_geom, d_geom]).astype(np.int64),
            np.concatenate([base_local.reshape(-1), d_cam]).astype(np.int64),
            np.concatenate([near, d_near]),
            merged,
        )

    def _delta_candidates(
        self, bounds: NDArray[np.float64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """(line, slot) pairs whose boxes meet, from the delta's R-tree (under the lock)."""
        if not self._slot_of or bounds.shape[0] == 0:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty
        b = np.asarray(bounds, dtype=np.float64)
        # one tree query for the lines' common box (each tree query costs tens of µs), then
        # each line's box against the few boxes found
        whole = (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()),
                 float(b[:, 3].max()))  # fmt: skip
        found = np.fromiter(self._tree.intersection(whole), dtype=np.int64)
        if found.shape[0] == 0:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty
        boxes = self._boxes[found]
        meets = (
            (b[:, None, 0] <= boxes[None, :, 2]) & (b[:, None, 2] >= boxes[None, :, 0])
            & (b[:, None, 1] <= boxes[None, :, 3]) & (b[:, None, 3] >= boxes[None, :, 1])
        )  # fmt: skip
        geom, which = np.nonzero(meets)
        return geom.astype(np.int64), found[which]

    def camera_state(
        self, camera_ids: NDArray[Any], online: NDArray[np.bool_]
    ) -> tuple[NDArray[np.object_], NDArray[np.object_]]:
        """Status and since-time (ISO 8601 or None) of cameras by id."""
        status = np.empty(len(camera_ids), dtype=object)
        since = np.empty(len(camera_ids), dtype=object)
        for i, (cam, up) in enumerate(zip(camera_ids.tolist(), online.tolist(), strict=True)):
            state = self._states.get(cam)
            if state is None:
                state = CameraState("online" if up else "offline")
            status[i], since[i] = state.status, state.since
        return status, since
