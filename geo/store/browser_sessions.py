"""Browser sessions: a console's sign-in with an API key, kept server-side.

A session is stored as the SHA-256 of its id (the cookie's value) and of its CSRF token, both
computed by the web layer (:mod:`api.browser_sessions`); neither reaches the database. It acts
as the key it was opened with (same organization, same role) and ends at the first of: its
absolute end (``expires_at``), ``idle_s`` seconds unused, its sign-out (``ended_at``), or the
revocation of its key. Opening and ending one is audited in the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from geo.store import audit
from geo.store.orgs import Caller
from geo.store.queries import query

#: A session's ``last_seen_at`` is written at most this often (seconds): a request within it of
#: the last write costs no UPDATE; the idle end is that much less precise.
TOUCH_EVERY_S = 30.0


@dataclass(frozen=True)
class LiveSession:
    """A live session: the caller it acts as, its end and the digest of its CSRF token."""

    id: int
    caller: Caller
    csrf_hash: bytes
    expires_at: dt.datetime


def open_session(
    conn: Connection,
    caller: Caller,
    *,
    token_hash: bytes,
    csrf_hash: bytes,
    max_s: float,
    address: str | None,
) -> LiveSession:
    """Open a session of ``caller``'s key ending ``max_s`` seconds from now; audited as
    ``session.opened``. Sessions over for a day are deleted on the way."""
    conn.execute(query("browser_sessions/purge"))
    row = conn.execute(
        query("browser_sessions/create"),
        {
            "key_id": caller.key_id,
            "token_hash": token_hash,
            "csrf_hash": csrf_hash,
            "max_s": max_s,
        },
    ).one()
    audit.append(
        conn,
        actor=caller.actor,
        organization_id=caller.organization_id,
        action="session.opened",
        subject_type="browser_session",
        subject_id=row.id,
        details={
            "prefix": caller.key_prefix,
            "role": caller.role,
            "expires_at": row.expires_at,
            "address": address,
        },
    )
    return LiveSession(row.id, caller, csrf_hash, row.expires_at)


def live_session(conn: Connection, token_hash: bytes, *, idle_s: float) -> LiveSession | None:
    """The live session with this cookie digest, its use noted; None when there is none (unknown,
    signed out, past its end, idle too long, or its key revoked)."""
    row = conn.execute(
        query("browser_sessions/live"),
        {"token_hash": token_hash, "idle_s": idle_s, "touch_s": TOUCH_EVERY_S},
    ).first()
    if row is None:
        return None
    if row.stale:
        touch(conn, row.id)
    caller = Caller(row.key_id, row.prefix, row.org_id, row.name, row.kind, row.role)
    return LiveSession(row.id, caller, bytes(row.csrf_hash), row.expires_at)


def touch(conn: Connection, session_id: int) -> None:
    """Note that the session is in use now (its idle end moves)."""
    conn.execute(query("browser_sessions/touch"), {"id": session_id})


def is_alive(conn: Connection, session_id: int, *, idle_s: float) -> bool:
    """Whether the session may still be used."""
    return bool(
        conn.execute(
            query("browser_sessions/alive"), {"id": session_id, "idle_s": idle_s}
        ).scalar_one()
    )


def end_session(conn: Connection, session: LiveSession, *, reason: str) -> bool:
    """Sign the session out now; audited as ``session.ended``. False when it had ended."""
    ended = conn.execute(query("browser_sessions/end"), {"id": session.id}).first()
    if ended is None:
        return False
    audit.append(
        conn,
        actor=session.caller.actor,
        organization_id=session.caller.organization_id,
        action="session.ended",
        subject_type="browser_session",
        subject_id=session.id,
        details={"prefix": session.caller.key_prefix, "reason": reason},
    )
    return True
