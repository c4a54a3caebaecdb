"""Fixed-window request counters in PostgreSQL: the API's rate limits, shared by every worker.

One row per (limit, key, scope) string the rate limiter names: the hits counted in the current
window and when the window ends. A hit is one UPSERT that either adds to a live window or starts
a new one, so concurrent workers (and several ``gilmok serve`` processes on one database) count
into the same row without a read-modify-write race. The table is UNLOGGED (migration 0005): a
counter is worth nothing after a crash, and skipping the WAL keeps a hit cheap. Expired rows are
deleted by :func:`purge_expired`, which the caller runs now and then.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

_HIT = text(
    "INSERT INTO rate_limit_counter AS r (key, hits, expires_at)"
    " VALUES (:key, :amount, clock_timestamp() + make_interval(secs => :window_s))"
    " ON CONFLICT (key) DO UPDATE SET"
    " hits = CASE WHEN r.expires_at > clock_timestamp() THEN r.hits + EXCLUDED.hits"
    " ELSE EXCLUDED.hits END,"
    " expires_at = CASE WHEN r.expires_at > clock_timestamp() THEN r.expires_at"
    " ELSE EXCLUDED.expires_at END"
    " RETURNING hits, extract(epoch FROM expires_at) AS ends_at"
)


def hit(conn: Connection, key: str, *, window_s: float, amount: int = 1) -> tuple[int, float]:
    """Add ``amount`` hits to ``key``'s live window (or open one of ``window_s`` seconds):
    the window's hits after these, and when it ends (seconds since the epoch)."""
    row = conn.execute(_HIT, {"key": key, "amount": amount, "window_s": window_s}).one()
    return int(row.hits), float(row.ends_at)


def hits(conn: Connection, key: str) -> int:
    """The hits of ``key``'s live window (0 when none is live)."""
    found = conn.execute(
        text(
            "SELECT hits FROM rate_limit_counter WHERE key = :key"
            " AND expires_at > clock_timestamp()"
        ),
        {"key": key},
    ).scalar()
    return int(found or 0)


def window_end(conn: Connection, key: str) -> float | None:
    """When ``key``'s live window ends, seconds since the epoch; None when none is live."""
    found = conn.execute(
        text(
            "SELECT extract(epoch FROM expires_at) FROM rate_limit_counter WHERE key = :key"
            " AND expires_at > clock_timestamp()"
        ),
        {"key": key},
    ).scalar()
    return None if found is None else float(found)


def clear(conn: Connection, key: str) -> None:
    """Forget ``key``'s window."""
    conn.execute(text("DELETE FROM rate_limit_counter WHERE key = :key"), {"key": key})


def clear_all(conn: Connection) -> int:
    """Forget every window; how many there were."""
    return int(conn.execute(text("DELETE FROM rate_limit_counter")).rowcount)


def purge_expired(conn: Connection) -> int:
    """Delete the windows that have ended; how many."""
    return int(
        conn.execute(
            text("DELETE FROM rate_limit_counter WHERE expires_at <= clock_timestamp()")
        ).rowcount
    )
