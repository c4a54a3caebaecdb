"""Each worker's registry snapshot: loaded on first use, kept, reloaded when the registry changes.

The spatial endpoints answer from memory (:class:`geo.registry.RegistrySnapshot`: road
graphs and the coverage index), never from a query per request. The cache:

- loads the snapshot lazily, on the first request that needs it; concurrent first requests wait
  for that one load (a lock), they do not each load their own; a load maps the version's
  folder under ``GILMOK_SNAPSHOT_DIR``, which the first process on the machine to need it
  builds (:func:`geo.store.snapshot.load_shared_snapshot`): every worker shares its pages;
- asks the database for the registry's version (:func:`geo.store.cameras.registry_version`:
  the last import batch, camera and road-network ids, three index lookups) at most once every
  ``check_interval_s`` seconds (default :data:`CHECK_INTERVAL_S`); when it changed, the request
  that noticed reloads while other threads keep answering from the snapshot they have; the new
  one replaces it whole (readers hold a reference, so a swap never mixes two snapshots);
- holds, beside the snapshot, its :class:`geo.live_index.LiveCoverageIndex`: the snapshot's
  coverage index with the camera changes made since (status, position, heading, field of view,
  kind, added and removed cameras), which :meth:`SnapshotCache.refresh_changes` brings up to
  the registry's change sequence; the process's one listener (:mod:`api.live_changes`) calls it
  when PostgreSQL notifies a change, and once a second whatever it heard;
- once a snapshot is loaded, freezes the heap (``gc.freeze``): the garbage collector's full
  passes no longer walk the snapshot's objects.

Tests inject a ready snapshot with :meth:`SnapshotCache.install` (then it is never reloaded).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, has_app_context

from api.context import transaction
from geo.live_index import CameraState, LiveCoverageIndex
from geo.registry import RegistrySnapshot
from geo.store import camera_changes
from geo.store.cameras import registry_version
from geo.store.snapshot import load_shared_snapshot

log = logging.getLogger("gilmok.api")

#: Seconds between two checks of the registry's version by one worker.
CHECK_INTERVAL_S = 10.0
EXTENSION = "gilmok.snapshot"

Version = tuple[int, int, int]
_INIT_LOCK = threading.Lock()


class SnapshotCache:
    """One worker's snapshot and the version of the registry it was loaded at."""

    def __init__(
        self,
        loader: Callable[..., tuple[RegistrySnapshot, Version] | None],
        version: Callable[[], Version],
        *,
        check_interval_s: float = CHECK_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        compact_after: Callable[[], int] | None = None,
    ) -> None:
        self._loader = loader
        self._compact_after = compact_after
        self._compacting = threading.Lock()
        self._compact_tried_at = -float("inf")
        self.compactions = 0
        self._version = version
        self.check_interval_s = check_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot: RegistrySnapshot | None = None
        self._loaded_version: Version | None = None
        self._checked_at = 0.0
        self._pinned = False
        self._live: LiveCoverageIndex | None = None
        self._changes: Callable[[int], tuple[int, Any]] | None = None
        self._states: Callable[[], dict[Any, CameraState]] | None = None
        self._refresh_lock = threading.Lock()
        self.loads = 0

    def follow_changes(
        self,
        changes: Callable[[int], tuple[int, Any]],
        states: Callable[[], dict[Any, CameraState]],
    ) -> None:
        """Where camera changes come from: ``changes(after)`` gives (the change sequence now,
        the current rows of the cameras changed after ``after``); ``states()`` the status of
        the cameras not online, read when a snapshot loads."""
        self._changes, self._states = changes, states

    def install(self, snapshot: RegistrySnapshot) -> None:
        """Use ``snapshot`` from now on and never reload it (tests, benchmarks); changes are
        applied to it only by explicit calls of :meth:`refresh_changes`."""
        with self._lock:
            self._snapshot, self._pinned = snapshot, True
            self._live = LiveCoverageIndex(snapshot.index, applied_seq=snapshot.change_seq)

    def invalidate(self) -> None:
        """Reload at the next request, whatever the version says."""
        with self._lock:
            self._loaded_version, self._checked_at = None, 0.0

    def _load(self) -> RegistrySnapshot:
        loaded = self._loader()
        assert loaded is not None  # a first load or reload waits for a build in progress
        return self._take(*loaded)

    def _take(self, snapshot: RegistrySnapshot, version: Version) -> RegistrySnapshot:
        """Answer from ``snapshot`` from now on, once the changes made since it are applied."""
        states = self._states() if self._states is not None else {}
        live = LiveCoverageIndex(snapshot.index, states=states, applied_seq=snapshot.change_seq)
        if self._changes is not None:
            # Changes the snapshot was not built with: applied before it answers anything.
            upto, rows = self._changes(live.applied_seq)
            if upto > live.applied_seq:
                live.apply(rows, seq=upto)
        self._snapshot, self._live, self._loaded_version = snapshot, live, version
        self._checked_at = self._clock()
        self.loads += 1
        _freeze_heap()
        log.info(
            "registry snapshot loaded in %.1f s at version %s: %s",
            snapshot.seconds,
            version,
            snapshot.counts,
        )
        return snapshot

    def get(self) -> RegistrySnapshot:
        """The snapshot to answer from (loading or reloading it when due)."""
        snapshot = self._snapshot
        if snapshot is None:
            with self._lock:
                return self._snapshot or self._load()
        if self._pinned or self._clock() - self._checked_at < self.check_interval_s:
            return snapshot
        # Due for a check: one thread checks (and reloads); the others answer from what they have.
        if not self._lock.acquire(blocking=False):
            return snapshot
        try:
            if self._clock() - self._checked_at < self.check_interval_s:
                return self._snapshot or snapshot
            current = self._version()
            if current == self._loaded_version:
                self._checked_at = self._clock()
                return snapshot
            log.info("registry changed (%s -> %s): reloading", self._loaded_version, current)
            return self._load()
        finally:
            self._lock.release()

    @property
    def applied_seq(self) -> int | None:
        """The change sequence this process's answers reflect (None before the first load)."""
        live = self._live
        return None if live is None else live.applied_seq

    def live(self) -> LiveCoverageIndex:
        """The snapshot's coverage index with the camera changes applied so far."""
        self.get()
        live = self._live
        assert live is not None
        return live

    def refresh_changes(self) -> int:
        """Apply the camera changes made since the live index's change sequence; the number of
        cameras applied. One caller at a time; answers keep flowing meanwhile."""
        if self._changes is None or self._live is None:
            return 0
        with self._refresh_lock:
            live = self._live
            upto, rows = self._changes(live.applied_seq)
            if upto <= live.applied_seq:
                return 0
            live.apply(rows, seq=upto)
            log.debug("camera changes applied up to %d: %d cameras", upto, len(rows))
        self._maybe_compact()
        return len(rows)

    #: Seconds between two attempts at a compaction another process was building.
    COMPACT_RETRY_S = 5.0

    def _maybe_compact(self) -> None:
        """When the live delta holds more cameras than ``compact_after`` allows, have a new
        version built (or mapped, if another process built it) that includes the changes up
        to the sequence reached, in a thread; it replaces the snapshot once ready, as a reload
        does. Answers keep flowing from the current one meanwhile."""
        live = self._live
        if (
            self._compact_after is None
            or self._pinned
            or live is None
            or live.delta_size <= self._compact_after()
            or self._clock() - self._compact_tried_at < self.COMPACT_RETRY_S
            or not self._compacting.acquire(blocking=False)
        ):
            return
        self._compact_tried_at = self._clock()
        seq = live.applied_seq
        app = current_app._get_current_object() if has_app_context() else None  # type: ignore[attr-defined]

        def compact() -> None:
            if app is None:
                self._compact(seq)
                return
            with app.app_context():
                self._compact(seq)

        threading.Thread(target=compact, name="snapshot-compaction", daemon=True).start()

    def _compact(self, seq: int) -> None:
        try:
            loaded = self._loader(seq)
            if loaded is None:
                return  # another process builds it: the next attempt maps it
            with self._lock:
                self._take(*loaded)
            self.compactions += 1
            log.info("registry snapshot compacted at change %d", seq)
        except Exception:  # a failed compaction leaves the current snapshot answering
            log.exception("registry snapshot compaction at change %d failed", seq)
        finally:
            self._compacting.release()


def _freeze_heap() -> None:
    """Take what is alive now (above all the snapshot's millions of objects) out of the garbage
    collector's sight: each full collection walked all of it, a pause of its own in whatever
    request it fell on. Unfrozen first, so that the snapshot a reload replaced can be freed."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _load_from_app(changes: int | None = None) -> tuple[RegistrySnapshot, Version] | None:
    from api.context import app_state

    settings = app_state().settings
    with transaction(bounded=False) as conn:
        # The registry's version (import batches, camera and network ids) and the camera change
        # sequence a build includes key the machine's shared snapshot folders, mapped here and
        # built once by the first process to need one. A first load takes the version on disk
        # with the most changes; the live index then replays the changes after it (the current
        # state of each camera changed since: idempotent) before the snapshot answers
        # (SnapshotCache._load). A compaction (``changes`` given) asks for a version holding
        # the changes up to that sequence, without waiting for another process's build.
        shared = load_shared_snapshot(
            conn,
            folder=settings.snapshot_dir,
            crs=settings.working_crs,
            max_range_m=settings.max_coverage_range_m,
            changes=changes,
            wait=changes is None,
        )
    if shared is None:
        return None  # another process is building it: asked again later
    batch, camera, network = shared.version.registry
    return shared.snapshot, (batch, camera, network)


def _compact_after_from_app() -> int:
    from api.context import app_state

    return int(app_state().settings.snapshot_compact_after)


def _changes_from_app(after: int) -> tuple[int, Any]:
    with transaction() as conn:
        return camera_changes.changed_since(conn, after)


def _states_from_app() -> dict[Any, CameraState]:
    with transaction() as conn:
        return {
            cam: CameraState(status, reason, since.isoformat() if since else None)
            for cam, status, reason, since in camera_changes.not_online(conn)
        }


def _version_from_app() -> Version:
    with transaction() as conn:
        return registry_version(conn)


def init_app(app: Flask) -> SnapshotCache:
    """Give ``app`` its snapshot cache (``app.extensions["gilmok.snapshot"]``)."""
    cache = SnapshotCache(_load_from_app, _version_from_app, compact_after=_compact_after_from_app)
    cache.follow_changes(_changes_from_app, _states_from_app)
    app.extensions[EXTENSION] = cache
    return cache


def snapshot_cache(app: Flask | None = None) -> SnapshotCache:
    """The cache of ``app`` (default: the current app), created on first use."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    cache = app.extensions.get(EXTENSION)
    if cache is None:
        with _INIT_LOCK:
            cache = app.extensions.get(EXTENSION) or init_app(app)
    return cache


def current_snapshot() -> RegistrySnapshot:
    """The current app's registry snapshot."""
    return snapshot_cache().get()


def current_index() -> LiveCoverageIndex:
    """The current app's coverage index, with the camera changes applied so far."""
    return snapshot_cache().live()
