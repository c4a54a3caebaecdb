"""Feed sessions (table ``feed_session``) and the feed requests they come from: the lifecycle's SQL.

The feed lifecycle (:mod:`api.feeds`) decides; this module reads and writes rows: the
``feed_session`` rows, and the ``feed_request`` rows the lifecycle locks and moves (provisioned,
revoked, expired, failed). A camera's ``source_url`` is read here only for the relay: it is
never returned by a listing, written to the audit trail or put in an error message (it is set
by :mod:`geo.store.camera_sources`).

Locks: a feed request being provisioned is held ``FOR UPDATE`` for the length of the relay
call, so the worker (which skips locked rows) and the API never provision the same request
twice, and the reconciler never mistakes a stream being provisioned for an orphan.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.engine import Connection

from geo.errors import NotFound
from geo.store import audit
from geo.store.models import Activation, Camera, FeedRequest, FeedSession, Incident, Organization
from geo.store.queries import query

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


# The lifecycle's two dynamic reads (a request by id, live sessions by any filter) are built here
# with SQLAlchemy Core, on the tables under the aliases the static statements use.
_r = FeedRequest.__table__.alias("r")
_s = FeedSession.__table__.alias("s")
_i = Incident.__table__.alias("i")
_c = Camera.__table__.alias("c")
_o = Organization.__table__.alias("o")
_a = Activation.__table__.alias("a")


def _request_select() -> Select[Any]:
    return select(
        _r.c.id,
        _r.c.status,
        _r.c.reason,
        _r.c.incident_id,
        _i.c.status.label("incident_status"),
        _r.c.camera_id,
        _c.c.source_url,
        _r.c.requester_id,
        _o.c.name.label("requester_name"),
        _r.c.activation_id,
        _a.c.basis,
        _a.c.ends_at.label("activation_ends_at"),
        _a.c.ended_at.label("activation_ended_at"),
    ).select_from(
        _r.join(_i, _i.c.id == _r.c.incident_id)
        .join(_c, _c.c.id == _r.c.camera_id)
        .join(_o, _o.c.id == _r.c.requester_id)
        .join(_a, _a.c.id == _r.c.activation_id)
    )


def _session_select() -> Select[Any]:
    return select(
        _s.c.id,
        _s.c.feed_request_id,
        _s.c.relay_name,
        _s.c.relay_stream_id,
        _s.c.expires_at,
        _r.c.status.label("request_status"),
        _r.c.incident_id,
        _r.c.camera_id,
        _c.c.source_url,
        _r.c.requester_id,
        _o.c.name.label("requester_name"),
        _r.c.activation_id,
        _a.c.basis,
        _s.c.last_error,
        _s.c.created_at,
    ).select_from(
        _s.join(_r, _r.c.id == _s.c.feed_request_id)
        .join(_i, _i.c.id == _r.c.incident_id)
        .join(_c, _c.c.id == _r.c.camera_id)
        .join(_o, _o.c.id == _r.c.requester_id)
        .join(_a, _a.c.id == _r.c.activation_id)
    )


def take_audit_lock(conn: Connection) -> None:
    """Hold the audit chain's lock now, before any row lock, until the transaction ends.

    :func:`geo.store.audit.append` takes this lock (re-entrant within a transaction) and
    keeps it until commit. A transaction that locked feed rows and then waits for it, while
    another that audited first waits for those rows, deadlocks: so the lifecycle takes it
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
        statement = (
            _request_select()
            .where(_r.c.id == feed_request_id)
            .with_for_update(of=_r, skip_locked=skip_locked)
        )
        row = conn.execute(statement).first()
    if row is not None:
        return RequestForProvisioning(**row._mapping)
    if skip_locked and request_exists(conn, feed_request_id):
        return None
    raise NotFound(f"no feed request has the id {feed_request_id}", details={"id": feed_request_id})


def request_exists(conn: Connection, feed_request_id: int) -> bool:
    return bool(
        conn.execute(query("feed_sessions/request_exists"), {"id": feed_request_id}).scalar()
    )


def try_lock_request(conn: Connection, feed_request_id: int) -> bool:
    """Lock the request row unless another transaction holds it; False when it does."""
    return (
        conn.execute(query("feed_sessions/try_lock_request"), {"id": feed_request_id}).first()
        is not None
    )


def set_request_status(conn: Connection, feed_request_id: int, status: str, reason: str) -> None:
    conn.execute(
        query("feed_sessions/set_request_status"),
        {"id": feed_request_id, "status": status, "reason": reason},
    )


def approved_request_ids(conn: Connection, *, limit: int = 100) -> list[int]:
    """Requests approved and not yet provisioned, oldest first."""
    rows = conn.execute(query("feed_sessions/approved_request_ids"), {"limit": limit})
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
        query("feed_sessions/insert_session"),
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
        query("feed_sessions/replace_session_stream"),
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
        query("feed_sessions/end_session"),
        {"id": session_id, "status": status, "at": at, "error": last_error},
    )


def note_session_error(conn: Connection, session_id: int, message: str) -> None:
    conn.execute(query("feed_sessions/note_session_error"), {"id": session_id, "error": message})


def live_sessions(
    conn: Connection,
    *,
    relay_name: str | None = None,
    incident_id: int | None = None,
    activation_id: int | None = None,
    feed_request_id: int | None = None,
    camera_id: int | None = None,
    lock: bool = False,
) -> list[LiveSession]:
    """Live sessions matching every given filter, oldest first; ``lock`` holds them."""
    statement = _session_select().where(_s.c.status == "live")
    for column, value in (
        (_s.c.relay_name, relay_name),
        (_r.c.incident_id, incident_id),
        (_r.c.activation_id, activation_id),
        (_r.c.id, feed_request_id),
        (_r.c.camera_id, camera_id),
    ):
        if value is not None:
            statement = statement.where(column == value)
    statement = statement.order_by(_s.c.id)
    if lock:
        statement = statement.with_for_update(of=_s)
    return [LiveSession(**r._mapping) for r in conn.execute(statement)]


def any_session_to_end(conn: Connection, *, now: dt.datetime) -> bool:
    """Whether some live session must end (a lock-free look before :func:`sessions_to_end`)."""
    return bool(conn.execute(query("feed_sessions/any_session_to_end"), {"now": now}).scalar())


def sessions_to_end(conn: Connection, *, now: dt.datetime) -> list[LiveSession]:
    """Live sessions that must end now, locked (skipping those another transaction holds).

    Each carries ``end_status`` (``expired`` or ``revoked``) and ``end_reason``: its expiry
    reached, the activation ended early or ran out, the incident closed, the camera retired
    (by any path: an API removal ends it at once, this catches the others), or the request no
    longer ``provisioned`` (a centre revoked it).
    """
    rows = conn.execute(query("feed_sessions/sessions_to_end"), {"now": now, "id": None})
    return [LiveSession(**r._mapping) for r in rows]


def why_session_ends(conn: Connection, session_id: int, *, now: dt.datetime) -> str | None:
    """Why a live session may not be viewed any more (the rule of :func:`sessions_to_end`).

    None while its expiry is ahead, its activation in force, its incident open and its request
    ``provisioned``; otherwise the reason, e.g. "the session reached its expiry".
    """
    row = conn.execute(
        query("feed_sessions/sessions_to_end"), {"id": session_id, "now": now}
    ).first()
    return None if row is None else str(row.end_reason)


def any_request_to_close(conn: Connection, *, now: dt.datetime) -> bool:
    """Whether a pending or approved request outlived its activation (a lock-free look)."""
    return bool(conn.execute(query("feed_sessions/any_request_to_close"), {"now": now}).scalar())


def requests_to_close(
    conn: Connection, *, now: dt.datetime
) -> list[tuple[int, str, int, str, int, str]]:
    """Pending or approved requests whose activation is over, locked (skipping held ones).

    Each as (id, status, requester_id, basis, incident_id, end_status): ``revoked`` when the
    activation was ended early, ``expired`` when it ran its course.
    """
    rows = conn.execute(query("feed_sessions/requests_to_close"), {"now": now})
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
    camera_id: int | None = None,
) -> list[tuple[int, str, int | None, str]]:
    """(id, status, requester_id, basis) of requests that may still become live, locked."""
    statement = (
        select(_r.c.id, _r.c.status, _r.c.requester_id, _a.c.basis)
        .select_from(_r.join(_a, _a.c.id == _r.c.activation_id))
        .where(_r.c.status.in_(OPEN_REQUEST_STATUSES))
    )
    for column, value in (
        (_r.c.incident_id, incident_id),
        (_r.c.activation_id, activation_id),
        (_r.c.id, feed_request_id),
        (_r.c.camera_id, camera_id),
    ):
        if value is not None:
            statement = statement.where(column == value)
    rows = conn.execute(statement.order_by(_r.c.id).with_for_update(of=_r))
    return [(int(r.id), str(r.status), r.requester_id, str(r.basis)) for r in rows]


def session_stream_ids(conn: Connection, *, relay_name: str) -> set[str]:
    """Relay stream ids of every live session on one relay."""
    rows = conn.execute(query("feed_sessions/session_stream_ids"), {"r": relay_name})
    return {str(r.relay_stream_id) for r in rows}
