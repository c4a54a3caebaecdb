"""The expiry and reconcile loop: where feeds end on time and the relay is kept honest.

Every tick (0.25 s by default) it ends the sessions that may no longer be live (expiry, the
activation ended, the incident closed, a centre's revoke) and closes requests that outlived
their activation (:func:`api.feeds.revoke.expire_due`), records the activations that ran out on
their own (:func:`geo.store.activations.record_ran_out`: the event streams then announce their
end, as for one ended by hand), then reconciles the relay with the
database and provisions approved requests that waited for the relay
(:func:`api.feeds.reconcile.reconcile`). A revocation written to the database therefore reaches
the relay within one tick even when nobody called :func:`~api.feeds.revoke.revoke_for`.

Where it runs: ``gilmok serve`` starts it in a thread of every gunicorn worker
(:mod:`api.serve`), so feeds end on time with nothing else started; ``gilmok worker`` runs the
same loop as a process of its own, for a deployment that wants it apart from the API. However
many run (gunicorn workers of one serve, several serves, worker processes), a PostgreSQL
advisory lock lets exactly one of them lead; the others stand by, retrying the lock every
``standby_s``, and one of them takes over when the leader stops or dies (its database session
ends, and the lock with it).

The leader also sends the platforms their events out: an :class:`api.platform_outbound.
OutboxSender` runs in a thread of its own beside the loop while the loop leads, so a slow
platform never delays a revocation.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection, Engine

from api.feeds.reconcile import reconcile
from api.feeds.revoke import expire_due
from api.platform_outbound import OutboxSender
from api.relay.base import Relay
from api.settings import Settings
from geo.errors import GilmokError
from geo.store import leases
from geo.store.activations import record_ran_out
from geo.store.app_role import app_transaction

log = logging.getLogger("gilmok.worker")

WORKER_ACTOR = "system:worker"
#: Advisory lock held by the active worker ("gilmok:worker" as a 64-bit integer).
LOCK_KEY = int.from_bytes(hashlib.sha256(b"gilmok:worker").digest()[:8], "big", signed=True)


@dataclass
class TickReport:
    """What one tick did."""

    ended: int = 0
    reconciled: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None

    @property
    def busy(self) -> bool:
        counts = [v for k, v in self.reconciled.items() if k != "relay_up"]
        return bool(self.ended or any(counts) or self.error)


class Worker:
    """The revocation, expiry and reconciliation loop.

    Parameters
    ----------
    engine
        The database (each phase of a tick is one transaction as the app role).
    relay
        The relay adapter, registered in the database (:func:`api.feeds.ledger.make_app_relay`).
    settings
        For the session limit of requests provisioned here.
    interval_s
        Seconds between the starts of two ticks.
    standby_s
        Seconds between two attempts at the lock while another loop leads.
    sender
        Sends the platforms' events out while this loop leads (default: an
        :class:`~api.platform_outbound.OutboxSender` on ``engine``).
    """

    def __init__(
        self,
        engine: Engine,
        relay: Relay | None,
        settings: Settings,
        *,
        interval_s: float = 0.25,
        standby_s: float = 1.0,
        actor: str = WORKER_ACTOR,
        sender: OutboxSender | None = None,
    ) -> None:
        self.engine = engine
        self.relay = relay
        self.settings = settings
        self.interval_s = interval_s
        self.standby_s = standby_s
        self.actor = actor
        self.ticks = 0
        self._lock_conn: Connection | None = None
        #: Delivers the platforms' events out while this loop leads.
        self.sender = sender if sender is not None else OutboxSender(engine)

    @property
    def leading(self) -> bool:
        """Whether this loop holds the lock (is the one that ticks)."""
        return self._lock_conn is not None

    def tick(self) -> TickReport:
        """One round: end what must end, then reconcile and provision. Never raises."""
        started = time.monotonic()
        report = TickReport()
        try:
            with app_transaction(self.engine) as conn:
                report.ended = expire_due(conn, self.relay, actor=self.actor)
            with app_transaction(self.engine) as conn:
                record_ran_out(conn, actor=self.actor)  # the consoles hear of it
            with app_transaction(self.engine) as conn:
                report.reconciled = reconcile(
                    conn, self.relay, settings=self.settings, actor=self.actor
                )
        except GilmokError as exc:
            report.error = exc.message
            log.warning("worker tick failed: %s", exc.message)
        except Exception as exc:  # a bug must not stop revocations for good
            report.error = f"{type(exc).__name__}: {exc}"
            log.exception("worker tick failed")
        report.seconds = time.monotonic() - started
        self.ticks += 1
        return report

    def _acquire(self) -> bool:
        """Hold the worker lock (one active worker per database); False while another has it."""
        if self._lock_conn is not None:
            # The lock lives as long as the database session: check that it still does (a
            # restarted database or a cut connection took the lock with it).
            try:
                leases.still_held(self._lock_conn)
                self._lock_conn.commit()
                return True
            except Exception:
                log.warning("expiry loop: lost its database session, and the lead with it")
                self._release()
        conn = self.engine.connect()
        try:
            got = leases.try_lock(conn, LOCK_KEY)
            conn.commit()
        except Exception:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._lock_conn = conn
        return True

    def _release(self) -> None:
        conn, self._lock_conn = self._lock_conn, None
        if conn is None:
            return
        # A pooled connection outlives close(): end the database session itself, which
        # releases the session-level lock even when the unlock cannot be sent.
        try:
            leases.unlock(conn, LOCK_KEY)
        except Exception:
            log.debug("worker lock: unlock failed; the session's end releases it")
        conn.invalidate()
        conn.close()

    def run(self, stop: threading.Event, *, on_tick: Any = None) -> None:
        """Tick every ``interval_s`` while leading, until ``stop`` is set.

        ``on_tick(report)`` after each tick. Standing by, it retries the lock every
        ``standby_s``. The lock is released on the way out.
        """
        standing_by_said = False
        sender = threading.Thread(
            target=self.sender.run,
            args=(stop,),
            kwargs={"leading": lambda: self.leading},
            name="gilmok-platform-sender",
            daemon=True,
        )
        sender.start()
        try:
            while not stop.is_set():
                started = time.monotonic()
                was_leading = self.leading
                try:
                    active = self._acquire()
                except Exception as exc:
                    log.warning("worker cannot reach the database: %s", type(exc).__name__)
                    active = False
                if active:
                    if not was_leading:
                        log.info("expiry loop: leading (pid %d)", os.getpid())
                        standing_by_said = False
                    report = self.tick()
                    if on_tick is not None:
                        on_tick(report)
                    pause = self.interval_s
                else:
                    if not standing_by_said:
                        log.info(
                            "expiry loop: another process leads; standing by (pid %d)", os.getpid()
                        )
                        standing_by_said = True
                    pause = self.standby_s
                stop.wait(max(0.0, pause - (time.monotonic() - started)))
        finally:
            sender.join(timeout=10)
            self._release()
