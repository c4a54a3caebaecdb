"""The process's one listener for camera changes: it keeps the live index current.

A daemon thread holds its own PostgreSQL connection with ``LISTEN gilmok_camera_change`` (the
trigger of ``camera_change`` notifies at each commit) and, when woken, applies the changes
after the live index's change sequence (:meth:`api.snapshot.SnapshotCache.refresh_changes`).
Notifications sent while its connection is down are lost, so it also asks for the change
sequence every :data:`POLL_S` seconds whatever it heard: a change reaches every answer of the
process within that, plus the time to apply it. A lost connection is retried every second;
the answers meanwhile are those of the snapshot and the changes applied so far.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
from typing import Any

import psycopg
from flask import Flask, Response, current_app

from api.snapshot import snapshot_cache

log = logging.getLogger("gilmok.api")

CHANNEL = "gilmok_camera_change"
#: Seconds between two change-sequence polls when no notification came.
POLL_S = 1.0
#: Seconds before reconnecting after the listening connection failed.
RETRY_S = 1.0
EXTENSION = "gilmok.live_changes"
#: Response headers: which worker process answered (a random name, not its pid) and the change
#: sequence its answers reflect, so that a client (and the tests) can tell how fresh they are.
WORKER_HEADER = "X-Gilmok-Worker"
SEQ_HEADER = "X-Gilmok-Change-Seq"
_WORKER_NAMES: dict[int, str] = {}


def worker_name() -> str:
    """This process's random name (a forked worker gets its own)."""
    pid = os.getpid()
    name = _WORKER_NAMES.get(pid)
    if name is None:
        name = _WORKER_NAMES.setdefault(pid, secrets.token_hex(4))
    return name


def stamp_response(response: Response) -> Response:
    """``after_request``: name the worker and the change sequence of its answers."""
    response.headers[WORKER_HEADER] = worker_name()
    cache = current_app.extensions.get("gilmok.snapshot")
    seq = None if cache is None else cache.applied_seq
    if seq is not None:
        response.headers[SEQ_HEADER] = str(seq)
    return response


class ChangeListener:
    """Listens and refreshes for one app (see the module's docstring)."""

    def __init__(self, app: Flask, conninfo: str, *, poll_s: float = POLL_S) -> None:
        self.app = app
        self.conninfo = conninfo
        self.poll_s = poll_s
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, name="camera-changes", daemon=True)
        self.wakes = 0

    def start(self) -> None:
        self.thread.start()

    def _refresh(self) -> None:
        with self.app.app_context():
            snapshot_cache(self.app).refresh_changes()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._refresh()  # what changed while not listening
                    while not self.stop.is_set():
                        for _ in conn.notifies(timeout=self.poll_s, stop_after=1):
                            self.wakes += 1
                        self._refresh()
            except Exception as exc:  # a database down or a change that failed to apply
                log.warning("camera change listener: %s; retrying in %.0f s", exc, RETRY_S)
                self.stop.wait(RETRY_S)


def start_listener(app: Flask) -> ChangeListener | None:
    """Start ``app``'s listener (once per process); None when the app has no engine of its own
    (a test's injected connection)."""
    existing = app.extensions.get(EXTENSION)
    if existing is not None:
        return existing
    state = app.extensions["gilmok"]
    bind: Any = state.bind
    url = getattr(bind, "url", None)
    if url is None:
        return None
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    listener = ChangeListener(app, conninfo)
    app.extensions[EXTENSION] = listener
    listener.start()
    return listener
