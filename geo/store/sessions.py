"""Feed sessions, camera source URLs and the relay registry: the provisioner's SQL.

The provisioner (:mod:`api.provisioning`) decides; this module reads and writes rows. A
camera's ``source_url`` is read only here and only for the relay: it is never returned by a
listing, written to the audit trail or put in an error message.

Locks: a feed request being provisioned is held ``FOR UPDATE`` for the length of the relay
call, so the worker (which skips locked rows) and the API never provision the same request
twice, and the reconciler never mistakes a stream being provisioned for an orphan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.errors import InvalidInput, NotFound
from geo.store import audit

#: URL schemes a relay can pull (Janus: RTSP; MediaMTX and go2rtc also take the others).
SOURCE_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "srt")
#: Request statuses from which a request may still become (or is) a live feed.
OPEN_REQUEST_STATUSES = ("pending", "approved", "provisioned")

_MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class RequestForProvisioning:
    """One feed request with what provisioning it needs, read under a row lock."""

    id: int
    status: str
    reason: str
    incident_id: int
    incident_status: str
    camera_id: int
    source_url: str | None = field(repr=False)
    requester_id: int
    requester_name: str
    activation_id: int
    basis: str
    activation_ends_at: dt.datetime
    activation_ended_at: dt.datetime | None

    @property
    def activation_end(self) -> dt.datetime:
        """When the legal basis stops: the planned end, or the early end."""
        if self.activation_ended_at is not None:
            return min(self.activation_ends_at, self.activation_ended_at)
        return self.activation_ends_at


@dataclass(frozen=True)
class LiveSession:
    """A feed session in status ``live`` with its request's facts.

    ``last_error`` says what is wrong with a session that is still live (its camera sends
    nothing); ``end_status``/``end_reason`` are set by :func:`sessions_to_end` (why it must
    end).
    """

    id: int
    feed_request_id: int
    relay_name: str
    relay_stream_id: str
    expires_at: dt.datetime
    request_status: str
    incident_id: int
    camera_id: int
    source_url: str | None = field(repr=False)
    requester_id: int
    requester_name: str
    activation_id: int
    basis: str
    last_error: str = ""
    created_at: dt.datetime | None = None
    end_status: str | None = None
    end_reason: str | None = None


_REQUEST_SELECT = """
SELECT r.id, r.status, r.reason, r.incident_id, i.status AS incident_status, r.camera_id,
       c.source_url, r.requester_id, o.name AS requester_name, r.activation_id, a.basis,
       a.ends_at AS activation_ends_at, a.ended_at AS activation_ended_at
FROM feed_request r
JOIN incident i ON i.id = r.incident_id
JOIN camera c ON c.id = r.camera_id
JOIN organization o ON o.id = r.requester_id
JOIN activation a ON a.id = r.activation_id
"""

_SESSION_SELECT = """
SELECT s.id, s.feed_request_id, s.relay_name, s.relay_stream_id, s.expires_at,
       r.status AS request_status, r.incident_id, r.camera_id, c.source_url, r.requester_id,
       o.name AS requester_name, r.activation_id, a.basis, s.last_error, s.created_at{extra}
FROM feed_session s
JOIN feed_request r ON r.id = s.feed_request_id
JOIN incident i ON i.id = r.incident_id
JOIN camera c ON c.id = r.camera_id
JOIN organization o ON o.id = r.requester_id
JOIN activation a ON a.id = r.activation_id
"""


def take_audit_lock(conn: Connection) -> None:
    """Hold the audit chain's lock now, before any row lock, until the transaction ends.

    :func:`geo.store.audit.append` takes this lock (re-entrant within a transaction) and
    keeps it until commit. A transaction that locked feed rows and then waits for it, while
    another that audited first waits for those rows, deadlocks: so the provisioner takes it
    first, and never waits for a row while holding it against someone who audited.
    """
    audit.lock_chain(conn)


def lock_request(
    conn: Connection, feed_request_id: int, *, skip_locked: bool = False
) -> RequestForProvisioning | None:
    """The request, locked ``FOR UPDATE`` until the transaction ends.

    Returns None when ``skip_locked`` and another transaction holds it.

    Raises
    ------
    NotFound
        no feed request has this id.
    """
    row = None
    if 1 <= feed_request_id <= _MAX_ID:
        row = conn.execute(
            text(
                f"{_REQUEST_SELECT} WHERE r.id = :id FOR UPDATE OF r"
                f"{' SKIP LOCKED' if skip_locked else ''}"
            ),
            {"id": feed_request_id},
        ).first()
    if row is not None:
        return RequestForProvisioning(**row._mapping)
    if skip_locked and request_exists(conn, feed_request_id):
        return None
    raise NotFound(f"no feed request has the id {feed_request_id}", details={"id": feed_request_id})


def request_exists(conn: Connection, feed_request_id: int) -> bool:
    return bool(
        conn.execute(
            text("SELECT EXISTS (SELECT 1 FROM feed_request WHERE id = :id)"),
            {"id": feed_request_id},
        ).scalar()
    )


def try_lock_request(conn: Connection, feed_request_id: int) -> bool:
    """Lock the request row unless another transaction holds it; False when it does."""
    return (
        conn.execute(
            text("SELECT id FROM feed_request WHERE id = :id FOR UPDATE SKIP LOCKED"),
            {"id": feed_request_id},
        ).first()
        is not None
    )


def set_request_status(conn: Connection, feed_request_id: int, status: str, reason: str) -> None:
    conn.execute(
        text("UPDATE feed_request SET status = :status, reason = :reason WHERE id = :id"),
        {"id": feed_request_id, "status": status, "reason": reason},
    )


def approved_request_ids(conn: Connection, *, limit: int = 100) -> list[int]:
    """Requests approved and not yet provisioned, oldest first."""
    rows = conn.execute(
        text(
            "SELECT id FROM feed_request WHERE status = 'approved'"
            " ORDER BY decided_at NULLS FIRST, id LIMIT :limit"
        ),
        {"limit": limit},
    )
    return [int(r.id) for r in rows]


def insert_session(
    conn: Connection,
    *,
    feed_request_id: int,
    relay_name: str,
    relay_stream_id: str,
    credential_hash: bytes,
    expires_at: dt.datetime,
) -> int:
    """A new ``live`` feed session; its id."""
    session_id: int = conn.execute(
        text(
            "INSERT INTO feed_session (feed_request_id, relay_name, relay_stream_id,"
            " credential_hash, expires_at, status)"
            " VALUES (:request, :relay, :stream, :hash, :expires, 'live') RETURNING id"
        ),
        {
            "request": feed_request_id,
            "relay": relay_name,
            "stream": relay_stream_id,
            "hash": credential_hash,
            "expires": expires_at,
        },
    ).scalar_one()
    return session_id


def replace_session_stream(
    conn: Connection, session_id: int, *, relay_stream_id: str, credential_hash: bytes
) -> None:
    """Point a live session at a new relay stream with a new credential."""
    conn.execute(
        text(
            "UPDATE feed_session SET relay_stream_id = :stream, credential_hash = :hash,"
            " last_error = '' WHERE id = :id"
        ),
        {"id": session_id, "stream": relay_stream_id, "hash": credential_hash},
    )


def end_session(
    conn: Connection,
    session_id: int,
    *,
    status: str,
    at: dt.datetime,
    last_error: str = "",
) -> None:
    conn.execute(
        text(
            "UPDATE feed_session SET status = :status, ended_at = :at, last_error = :error"
            " WHERE id = :id"
        ),
        {"id": session_id, "status": status, "at": at, "error": last_error},
    )


def note_session_error(conn: Connection, session_id: int, message: str) -> None:
    conn.execute(
        text("UPDATE feed_session SET last_error = :error WHERE id = :id"),
        {"id": session_id, "error": message},
    )


def live_sessions(
    conn: Connection,
    *,
    relay_name: str | None = None,
    incident_id: int | None = None,
    activation_id: int | None = None,
    feed_request_id: int | None = None,
    lock: bool = False,
) -> list[LiveSession]:
    """Live sessions matching every given filter, oldest first; ``lock`` holds them."""
    where, params = ["s.status = 'live'"], {}
    for column, value in (
        ("s.relay_name", relay_name),
        ("r.incident_id", incident_id),
        ("r.activation_id", activation_id),
        ("r.id", feed_request_id),
    ):
        if value is not None:
            name = column.replace(".", "_")
            where.append(f"{column} = :{name}")
            params[name] = value
    rows = conn.execute(
        text(
            _SESSION_SELECT.format(extra="")
            + f" WHERE {' AND '.join(where)} ORDER BY s.id"
            + (" FOR UPDATE OF s" if lock else "")
        ),
        params,
    )
    return [LiveSession(**r._mapping) for r in rows]


_DUE = (
    "s.status = 'live' AND (s.expires_at <= :now"
    " OR (a.ended_at IS NOT NULL AND a.ended_at <= :now) OR a.ends_at <= :now"
    " OR i.status <> 'open' OR r.status <> 'provisioned')"
)


def any_session_to_end(conn: Connection, *, now: dt.datetime) -> bool:
    """Whether some live session must end (a lock-free look before :func:`sessions_to_end`)."""
    return bool(
        conn.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM feed_session s"
                " JOIN feed_request r ON r.id = s.feed_request_id"
                " JOIN incident i ON i.id = r.incident_id"
                f" JOIN activation a ON a.id = r.activation_id WHERE {_DUE})"
            ),
            {"now": now},
        ).scalar()
    )


#: Why a live session must end (``end_status``, ``end_reason``), for :data:`_DUE` rows.
_END_COLUMNS = """,
       CASE WHEN s.expires_at <= :now THEN 'expired'
            WHEN a.ended_at IS NOT NULL AND a.ended_at <= :now THEN 'revoked'
            WHEN a.ends_at <= :now THEN 'expired'
            ELSE 'revoked' END AS end_status,
       CASE WHEN s.expires_at <= :now THEN 'the session reached its expiry'
            WHEN a.ended_at IS NOT NULL AND a.ended_at <= :now
                THEN 'the activation (legal basis) ended'
            WHEN a.ends_at <= :now THEN 'the activation (legal basis) ran out'
            WHEN i.status <> 'open' THEN 'the incident was closed'
            ELSE 'the feed request was ' || r.status END AS end_reason"""


def sessions_to_end(conn: Connection, *, now: dt.datetime) -> list[LiveSession]:
    """Live sessions that must end now, locked (skipping those another transaction holds).

    Each carries ``end_status`` (``expired`` or ``revoked``) and ``end_reason``: its expiry
    reached, the activation ended early or ran out, the incident closed, or the request no
    longer ``provisioned`` (a centre revoked it).
    """
    rows = conn.execute(
        text(
            _SESSION_SELECT.format(extra=_END_COLUMNS)
            + f" WHERE {_DUE} ORDER BY s.id FOR UPDATE OF s, r SKIP LOCKED"
        ),
        {"now": now},
    )
    return [LiveSession(**r._mapping) for r in rows]


def why_session_ends(conn: Connection, session_id: int, *, now: dt.datetime) -> str | None:
    """Why a live session may not be viewed any more (the rule of :func:`sessions_to_end`).

    None while its expiry is ahead, its activation in force, its incident open and its request
    ``provisioned``; otherwise the reason, e.g. "the session reached its expiry".
    """
    row = conn.execute(
        text(_SESSION_SELECT.format(extra=_END_COLUMNS) + f" WHERE s.id = :id AND {_DUE}"),
        {"id": session_id, "now": now},
    ).first()
    return None if row is None else str(row.end_reason)


_STALE_REQUEST = (
    "r.status IN ('pending', 'approved')"
    " AND (a.ends_at <= :now OR (a.ended_at IS NOT NULL AND a.ended_at <= :now))"
)


def any_request_to_close(conn: Connection, *, now: dt.datetime) -> bool:
    """Whether a pending or approved request outlived its activation (a lock-free look)."""
    return bool(
        conn.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM feed_request r"
                f" JOIN activation a ON a.id = r.activation_id WHERE {_STALE_REQUEST})"
            ),
            {"now": now},
        ).scalar()
    )


def requests_to_close(
    conn: Connection, *, now: dt.datetime
) -> list[tuple[int, str, int, str, int, str]]:
    """Pending or approved requests whose activation is over, locked (skipping held ones).

    Each as (id, status, requester_id, basis, incident_id, end_status): ``revoked`` when the
    activation was ended early, ``expired`` when it ran its course.
    """
    rows = conn.execute(
        text(
            "SELECT r.id, r.status, r.requester_id, a.basis, r.incident_id,"
            " CASE WHEN a.ended_at IS NOT NULL AND a.ended_at <= :now AND a.ended_at < a.ends_at"
            " THEN 'revoked' ELSE 'expired' END AS end_status"
            " FROM feed_request r JOIN activation a ON a.id = r.activation_id"
            f" WHERE {_STALE_REQUEST} ORDER BY r.id FOR UPDATE OF r SKIP LOCKED"
        ),
        {"now": now},
    )
    return [
        (
            int(r.id),
            str(r.status),
            int(r.requester_id),
            str(r.basis),
            int(r.incident_id),
            str(r.end_status),
        )
        for r in rows
    ]


def open_requests(
    conn: Connection,
    *,
    incident_id: int | None = None,
    activation_id: int | None = None,
    feed_request_id: int | None = None,
) -> list[tuple[int, str, int | None, str]]:
    """(id, status, requester_id, basis) of requests that may still become live, locked."""
    where, params = ["r.status IN ('pending', 'approved', 'provisioned')"], {}
    for column, value in (
        ("r.incident_id", incident_id),
        ("r.activation_id", activation_id),
        ("r.id", feed_request_id),
    ):
        if value is not None:
            name = column.replace(".", "_")
            where.append(f"{column} = :{name}")
            params[name] = value
    rows = conn.execute(
        text(
            "SELECT r.id, r.status, r.requester_id, a.basis FROM feed_request r"
            " JOIN activation a ON a.id = r.activation_id"
            f" WHERE {' AND '.join(where)} ORDER BY r.id FOR UPDATE OF r"
        ),
        params,
    )
    return [(int(r.id), str(r.status), r.requester_id, str(r.basis)) for r in rows]


def session_stream_ids(conn: Connection, *, relay_name: str) -> set[str]:
    """Relay stream ids of every live session on one relay."""
    rows = conn.execute(
        text("SELECT relay_stream_id FROM feed_session WHERE status = 'live' AND relay_name = :r"),
        {"r": relay_name},
    )
    return {str(r.relay_stream_id) for r in rows}


# ---- camera source URLs ----------------------------------------------------------------------


def _check_source_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in SOURCE_SCHEMES or not parts.hostname:
        # The URL may hold credentials: the message names the accepted schemes, not the URL.
        raise InvalidInput(
            f"a camera source URL must be {', '.join(SOURCE_SCHEMES)}://host/...",
            details={"field": "source_url"},
        )
    return url


def set_camera_sources(conn: Connection, sources: Mapping[int, str | None], *, actor: str) -> int:
    """Set (or clear, with None) cameras' source URLs; audited without the URLs.

    Returns the number of cameras changed.

    Raises
    ------
    NotFound
        some camera id does not exist (nothing is changed).
    InvalidInput
        a URL is not one a relay can pull.
    """
    checked = {
        int(cid): None if url is None else _check_source_url(url) for cid, url in sources.items()
    }
    if not checked:
        return 0
    ids = sorted(checked)
    found = {
        int(r.id): r.owner_id
        for r in conn.execute(
            text("SELECT id, owner_id FROM camera WHERE id = ANY(:ids) FOR UPDATE"), {"ids": ids}
        )
    }
    missing = [cid for cid in ids if cid not in found]
    if missing:
        raise NotFound(
            f"no camera has the id {missing[0]}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
            details={"missing": missing[:20]},
        )
    conn.execute(
        text(
            "UPDATE camera c SET source_url = v.url FROM"
            " unnest(CAST(:ids AS bigint[]), CAST(:urls AS text[])) AS v(id, url)"
            " WHERE c.id = v.id"
        ),
        {"ids": ids, "urls": [checked[cid] for cid in ids]},
    )
    owners = sorted({int(o) for o in found.values()})
    audit.append(
        conn,
        actor=actor,
        organization_id=owners[0] if len(owners) == 1 else None,
        action="camera.source_set",
        subject_type="camera",
        subject_id=ids[0] if len(ids) == 1 else f"{len(ids)} cameras",
        details={
            "camera_ids": ids[:1000],
            "cleared": sum(1 for cid in ids if checked[cid] is None),
            "schemes": sorted({urlsplit(u).scheme for u in checked.values() if u}),
        },
    )
    return len(ids)


# ---- the relay registry (no secrets) ---------------------------------------------------------


_REGISTRY_COLUMNS = "relay_stream_id, backend, key, viewer_org, expires_at, created_at, state"


def put_relay_stream(conn: Connection, record: Mapping[str, Any]) -> None:
    """Insert or replace the registry row of ``record["relay_stream_id"]``."""
    conn.execute(
        text(
            f"INSERT INTO relay_stream ({_REGISTRY_COLUMNS}) VALUES (:relay_stream_id,"
            " :backend, :key, :viewer_org, :expires_at, :created_at, :state)"
            " ON CONFLICT (relay_stream_id) DO UPDATE SET backend = EXCLUDED.backend,"
            " key = EXCLUDED.key, viewer_org = EXCLUDED.viewer_org,"
            " expires_at = EXCLUDED.expires_at, created_at = EXCLUDED.created_at,"
            " state = EXCLUDED.state"
        ),
        dict(record),
    )


def remove_relay_stream(conn: Connection, relay_stream_id: str) -> None:
    conn.execute(
        text("DELETE FROM relay_stream WHERE relay_stream_id = :id"), {"id": relay_stream_id}
    )


def relay_stream_rows(
    conn: Connection, *, relay_stream_id: str | None = None, backend: str | None = None
) -> list[dict[str, Any]]:
    """Registry rows (all, one backend's, or the one with this id), oldest first."""
    where, params = ["TRUE"], {}
    if relay_stream_id is not None:
        where.append("relay_stream_id = :id")
        params["id"] = relay_stream_id
    if backend is not None:
        where.append("backend = :backend")
        params["backend"] = backend
    rows = conn.execute(
        text(
            f"SELECT {_REGISTRY_COLUMNS} FROM relay_stream WHERE {' AND '.join(where)}"
            " ORDER BY created_at, relay_stream_id"
        ),
        params,
    )
    return [dict(r._mapping) for r in rows]
