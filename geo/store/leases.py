"""Session-level advisory locks: one leader among every process sharing the database.

A lock taken here lives as long as the database session that took it: the holder keeps that
connection open (and checks it now and then with :func:`still_held`), and a crashed process or
a cut connection releases it by itself, so a stand-by takes over. The keys are derived by the
caller from a name (e.g. the expiry loop's ``hash("gilmok feed expiry loop")``).
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from geo.store.queries import query


def try_lock(conn: Connection, key: int) -> bool:
    """Take the advisory lock ``key`` for ``conn``'s session; False when another holds it."""
    return bool(conn.execute(query("leases/try_lock"), {"k": key}).scalar())


def unlock(conn: Connection, key: int) -> None:
    """Give the lock ``key`` back (ending the session gives it back too)."""
    conn.execute(query("leases/unlock"), {"k": key})


def still_held(conn: Connection) -> None:
    """A round trip on the holding session; raises when that session is gone (and the lock)."""
    conn.execute(query("leases/ping"))
