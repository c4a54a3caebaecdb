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
- does not see edits in place (a camera's status set by hand): they are picked up with the next
  import, or by :meth:`SnapshotCache.invalidate`;
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

from flask import Flask, current_app

from api.context import transaction
from geo.registry import RegistrySnapshot
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
        loader: Callable[[], tuple[RegistrySnapshot, Version]],
        version: Callable[[], Version],
        *,
        check_interval_s: float = CHECK_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._loader = loader
        self._version = version
        self.check_interval_s = check_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._snapshot: RegistrySnapshot | None = None
        self._loaded_version: Version | None = None
        self._checked_at = 0.0
        self._pinned = False
        self.loads = 0

    def install(self, snapshot: RegistrySnapshot) -> None:
        """Use ``snapshot`` from now on and never reload it (tests, benchmarks)."""
        with self._lock:
            self._snapshot, self._pinned = snapshot, True

    def invalidate(self) -> None:
        """Reload at the next request, whatever the version says."""
        with self._lock:
            self._loaded_version, self._checked_at = None, 0.0

    def _load(self) -> RegistrySnapshot:
        snapshot, version = self._loader()
        self._snapshot, self._loaded_version = snapshot, version
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


def _freeze_heap() -> None:
    """Take what is alive now (above all the snapshot's millions of objects) out of the garbage
    collector's sight: each full collection walked all of it, a pause of its own in whatever
    request it fell on. Unfrozen first, so that the snapshot a reload replaced can be freed."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _load_from_app() -> tuple[RegistrySnapshot, Version]:
    from api.context import app_state

    settings = app_state().settings
    with transaction(bounded=False) as conn:
        # The version is read first: a change landing during the load is seen at the next
        # check. The snapshot is mapped from the machine's snapshot folder, built there once.
        shared = load_shared_snapshot(
            conn,
            folder=settings.snapshot_dir,
            crs=settings.working_crs,
            max_range_m=settings.max_coverage_range_m,
        )
    assert shared is not None  # waits for a build in progress
    batch, camera, network = shared.version.registry
    return shared.snapshot, (batch, camera, network)


def _version_from_app() -> Version:
    with transaction() as conn:
        return registry_version(conn)


def init_app(app: Flask) -> SnapshotCache:
    """Give ``app`` its snapshot cache (``app.extensions["gilmok.snapshot"]``)."""
    cache = SnapshotCache(_load_from_app, _version_from_app)
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
