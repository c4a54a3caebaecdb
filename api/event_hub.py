"""One listener per server process, fanning the audit trail's events out to its event streams.

Every audit record's insert sends its id on the PostgreSQL channel ``gilmok_audit`` when its
transaction commits (the trigger of migration 0007), whichever process wrote it: a gunicorn
worker, another ``gilmok serve``, the expiry loop, ``gilmok worker``, the CLI. The hub's thread
holds one connection that LISTENs on it; on a notification (or every :data:`POLL_S` seconds,
should one be lost) it reads the events after the last one it read
(:func:`geo.store.audit_events.events_after`) and puts each on the queue of every stream whose
caller may see it. A notification reaches a stream in milliseconds; a stream therefore learns
of a step taken anywhere within a second.

Controls end streams at once: a revoked key ends its streams and its sessions' streams, a
signed-out session its own. Should the database be unreachable the hub retries every second;
the streams stay open and miss nothing, since the hub resumes from its last id.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass, field
from typing import Any

import psycopg
from flask import Flask
from sqlalchemy.engine import Engine

from geo.store import audit_events
from geo.store.app_role import app_transaction
from geo.store.audit_events import Event
from geo.store.orgs import Caller

log = logging.getLogger("gilmok.events")

CHANNEL = "gilmok_audit"
#: Seconds between two reads of the trail when no notification comes (a lost one is found).
POLL_S = 2.0
#: Seconds the hub waits before reconnecting after its connection failed.
RETRY_S = 1.0
#: Events a stream may fall behind before it is ended (the client reconnects and resumes).
MAX_QUEUED = 10_000
#: Roles that see every event.
SEE_ALL = frozenset({"admin", "auditor"})
EXTENSION = "gilmok.events"
_INIT_LOCK = threading.Lock()


def may_see(caller: Caller, event: Event) -> bool:
    """Whether ``caller`` may receive ``event`` (the reads' rules: geo.store.audit_events)."""
    if event.control is not None:
        return False
    if event.audience is None or caller.role in SEE_ALL:
        return True
    return caller.organization_id in event.audience


@dataclass(eq=False)
class Subscription:
    """One open stream: whose it is, and its queue of events (None on the queue ends it)."""

    caller: Caller
    session_id: int | None
    events: queue.Queue[Event | None] = field(default_factory=queue.Queue)
    ended: str | None = None

    def end(self, reason: str) -> None:
        if self.ended is None:
            self.ended = reason
            self.events.put(None)


class EventHub:
    """The process's listener and its subscriptions.

    Parameters
    ----------
    engine
        The database: reads run as the app role, and the listening connection is opened on
        the same server, database and login.
    max_streams
        Streams this process holds at most (each holds a server thread).
    """

    def __init__(self, engine: Engine, *, max_streams: int, poll_s: float = POLL_S) -> None:
        self.engine = engine
        self.max_streams = max_streams
        self.poll_s = poll_s
        self.cursor: int | None = None
        self._subs: set[Subscription] = set()
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- subscriptions ------------------------------------------------------------------------

    def subscribe(self, caller: Caller, session_id: int | None) -> tuple[Subscription, int] | None:
        """A new subscription and the last event id already read (the stream's events come
        after it); None when the process holds ``max_streams`` already."""
        self.start()
        self._ready.wait(5.0)
        with self._lock:
            if len(self._subs) >= self.max_streams:
                return None
            sub = Subscription(caller, session_id)
            self._subs.add(sub)
            start = self.cursor
        if start is None:
            with app_transaction(self.engine) as conn:
                start = audit_events.head(conn)
        return sub, start

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    @property
    def streams(self) -> int:
        return len(self._subs)

    def dispatch(self, events: list[Event]) -> None:
        """Hand each event to the streams that may see it; apply the controls."""
        with self._lock:
            subs = list(self._subs)
        for event in events:
            if event.control is not None:
                what, subject = event.control
                for sub in subs:
                    if (what == "key_revoked" and sub.caller.key_id == subject) or (
                        what == "session_ended" and sub.session_id == subject
                    ):
                        sub.end(what)
                continue
            for sub in subs:
                if sub.ended is None and may_see(sub.caller, event):
                    if sub.events.qsize() >= MAX_QUEUED:
                        sub.end("too_far_behind")
                    else:
                        sub.events.put(event)

    # --- the listener -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the listener thread (once)."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="event-hub", daemon=True)
            self._thread.start()

    def stop(self, reason: str = "server_stopping") -> None:
        """Stop listening and end every stream."""
        self._stop.set()
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            sub.end(reason)

    def catch_up(self) -> int:
        """Read and dispatch every event after the cursor; how many."""
        total = 0
        while True:
            with app_transaction(self.engine) as conn:
                if self.cursor is None:
                    self.cursor = audit_events.head(conn)
                    return 0
                events, last = audit_events.events_after(conn, self.cursor)
            with self._lock:
                self.cursor = last
            self.dispatch(events)
            total += len(events)
            if not events:
                return total

    def _connect(self) -> psycopg.Connection[Any]:
        url = self.engine.url.set(drivername="postgresql")
        conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
        conn.execute(f"LISTEN {CHANNEL}")
        return conn

    def _run(self) -> None:
        while not self._stop.is_set():
            conn = None
            try:
                conn = self._connect()
                self.catch_up()  # the cursor starts after LISTEN: nothing falls in between
                self._ready.set()
                while not self._stop.is_set():
                    for _ in conn.notifies(timeout=self.poll_s, stop_after=1):
                        pass
                    self.catch_up()
            except Exception as exc:
                log.warning("event hub: %s; retrying in %.0f s", type(exc).__name__, RETRY_S)
                self._ready.set()
                self._stop.wait(RETRY_S)
            finally:
                if conn is not None:
                    conn.close()


def event_hub(app: Flask) -> EventHub | None:
    """The hub of ``app``, created on first use; None when the app is bound to one connection
    (tests) rather than an engine: no second connection can listen beside it."""
    state = app.extensions["gilmok"]
    if not isinstance(state.bind, Engine):
        return None
    hub: EventHub | None = app.extensions.get(EXTENSION)
    if hub is None:
        with _INIT_LOCK:
            hub = app.extensions.setdefault(
                EXTENSION, EventHub(state.bind, max_streams=state.settings.events_max_streams)
            )
    return hub


def stop_event_hub(app: Flask) -> None:
    """End every stream of ``app`` (a worker stopping)."""
    hub: EventHub | None = getattr(app, "extensions", {}).get(EXTENSION)
    if hub is not None:
        hub.stop()
