"""Fixed-window request counters in PostgreSQL: the API's rate limits, shared by every worker.

One row per (limit, key, scope) string the rate limiter names: the hits counted in the current
window and when the window ends. A hit is one UPSERT that either adds to a live window or starts
a new one, so concurrent workers (and several ``gilmok serve`` processes on one database) count
into the same row without a read-modify-write race. The table is UNLOGGED (migration 0005): a
counter is worth nothing after a crash, and skipping the WAL keeps a hit cheap. Expired rows are
deleted by :func:`purge_expired`, which the caller runs now and then.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from geo.store.queries import query


def hit(conn: Connection, key: str, *, window_s: float, amount: int = 1) -> tuple[int, float]:
    """Add ``amount`` hits to ``key``'s live window (or open one of ``window_s`` seconds):
    the window's hits after these, and when it ends (seconds since the epoch)."""
    row = conn.execute(
        query("rate_limits/hit"), {"key": key, "amount": amount, "window_s": window_s}
    ).one()
    return int(row.hits), float(row.ends_at)


def hits(conn: Connection, key: str) -> int:
    """The hits of ``key``'s live window (0 when none is live)."""
    found = conn.execute(query("rate_limits/hits"), {"key": key}).scalar()
    return int(found or 0)


def window_end(conn: Connection, key: str) -> float | None:
    """When ``key``'s live window ends, seconds since the epoch; None when none is live."""
    found = conn.execute(query("rate_limits/window_end"), {"key": key}).scalar()
    return None if found is None else float(found)


def clear(conn: Connection, key: str) -> None:
    """Forget ``key``'s window."""
    conn.execute(query("rate_limits/clear"), {"key": key})


def clear_all(conn: Connection) -> int:
    """Forget every window; how many there were."""
    return int(conn.execute(query("rate_limits/clear_all")).rowcount)


def purge_expired(conn: Connection) -> int:
    """Delete the windows that have ended; how many."""
    return int(conn.execute(query("rate_limits/purge_expired")).rowcount)
