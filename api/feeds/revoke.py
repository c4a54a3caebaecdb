"""Feeds ending: revoked (incident closed, activation ended, a centre's revoke) or expired.

The rules this module keeps:

- Ending a live session destroys its relay stream now; a relay that is down leaves it to the
  reconciler (:mod:`api.feeds.reconcile`), and the session says so in ``last_error``.
- A session expires at its ``expires_at`` or when its activation runs its course; it is revoked
  when the activation ends early, the incident closes or its request is revoked.
- Requests that may still become live (``pending``, ``approved``, ``provisioned``) are closed
  with their sessions; pending and approved requests that outlived their activation are closed
  by :func:`expire_due` too. Each end is audited, per session and per request.
- Rows another transaction holds are left for the loop's next tick (``SKIP LOCKED``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Connection

from api.feeds import SYSTEM_ACTOR
from api.feeds.streams import destroy_quietly
from api.platform_outbound import notify_feed
from api.relay.base import Relay, utc_now
from geo.errors import InvalidInput
from geo.store import audit, feed_sessions


def end_live_session(
    conn: Connection,
    relay: Relay | None,
    session: feed_sessions.LiveSession,
    *,
    status: str,
    reason: str,
    actor: str,
    now: dt.datetime,
) -> None:
    """Destroy the session's relay stream (or leave it to the reconciler) and record the end."""
    destroyed = False
    if relay is not None and relay.name == session.relay_name:
        destroyed = destroy_quietly(relay, session.relay_stream_id)
    feed_sessions.end_session(
        conn,
        session.id,
        status=status,
        at=now,
        last_error="" if destroyed else "relay stream not destroyed yet (relay unreachable)",
    )
    if session.request_status in feed_sessions.OPEN_REQUEST_STATUSES:
        feed_sessions.set_request_status(conn, session.feed_request_id, status, reason)
    audit.append(
        conn,
        actor=actor,
        organization_id=session.requester_id,
        action=f"feed.{status}",
        subject_type="feed_session",
        subject_id=session.id,
        legal_basis=session.basis,
        details={
            "feed_request_id": session.feed_request_id,
            "incident_id": session.incident_id,
            "relay_stream_id": session.relay_stream_id,
            "reason": reason,
            "relay_stream_destroyed": destroyed,
        },
    )
    notify_feed(
        conn, incident_id=session.incident_id, camera_id=session.camera_id, feed=status,
        reason=reason, at=now,
    )  # fmt: skip


def revoke_for(
    conn: Connection,
    relay: Relay | None,
    *,
    incident_id: int | None = None,
    activation_id: int | None = None,
    feed_request_id: int | None = None,
    camera_id: int | None = None,
    reason: str,
    actor: str = SYSTEM_ACTOR,
) -> int:
    """Revoke the live feeds of an incident, an activation, one request or one camera (removed
    from the registry); how many sessions.

    Every matching live session's relay stream is destroyed now (a relay that is down leaves
    it to :func:`reconcile`, which destroys it when the relay answers) and the session marked
    ``revoked``; every matching request still ``pending``, ``approved`` or ``provisioned``
    becomes ``revoked`` with ``reason``. Audited per session and per request.

    Raises
    ------
    InvalidInput
        no filter given (revoking everything is not a thing this function does).
    """
    filters: dict[str, int | None] = {
        "incident_id": incident_id, "activation_id": activation_id,
        "feed_request_id": feed_request_id, "camera_id": camera_id,
    }  # fmt: skip
    if all(v is None for v in filters.values()):
        raise InvalidInput("revoke_for needs an incident, an activation, a request or a camera")
    now = utc_now()
    feed_sessions.take_audit_lock(conn)
    requests = feed_sessions.open_requests(conn, **filters)
    sessions = feed_sessions.live_sessions(conn, relay_name=None, **filters, lock=True)
    for session in sessions:
        end_live_session(
            conn, relay, session, status="revoked", reason=reason, actor=actor, now=now
        )
    with_session = {s.feed_request_id for s in sessions}
    for request_id, status, requester_id, basis in requests:
        if request_id in with_session:
            continue
        feed_sessions.set_request_status(conn, request_id, "revoked", reason)
        audit.append(
            conn,
            actor=actor,
            organization_id=requester_id,
            action="feed.revoked",
            subject_type="feed_request",
            subject_id=request_id,
            legal_basis=basis,
            details={"reason": reason, "was": status},
        )
    return len(sessions)


def expire_due(
    conn: Connection,
    relay: Relay | None,
    *,
    now: dt.datetime | None = None,
    actor: str = SYSTEM_ACTOR,
) -> int:
    """End every live session that may no longer be live, and close requests that outlived
    their activation; how many of both.

    ``expired``: the session reached its ``expires_at``, or the activation ran its course.
    ``revoked``: the activation was ended early, the incident was closed, or the request was
    revoked (or otherwise left ``provisioned``) without its session being ended. Sessions
    another transaction holds are left for the next call.
    """
    now = now or utc_now()
    closed = _close_stale_requests(conn, now=now, actor=actor)
    if not feed_sessions.any_session_to_end(conn, now=now):
        return closed
    feed_sessions.take_audit_lock(conn)
    due = feed_sessions.sessions_to_end(conn, now=now)
    for session in due:
        assert session.end_status is not None
        assert session.end_reason is not None
        end_live_session(
            conn,
            relay,
            session,
            status=session.end_status,
            reason=session.end_reason,
            actor=actor,
            now=now,
        )
    return closed + len(due)


def _close_stale_requests(conn: Connection, *, now: dt.datetime, actor: str) -> int:
    """Close pending and approved requests whose activation is over; how many (audited).

    An activation ended through the API revokes its requests at once (:func:`revoke_for`);
    this catches the ones whose activation ran its course, or was ended some other way.
    """
    if not feed_sessions.any_request_to_close(conn, now=now):
        return 0
    feed_sessions.take_audit_lock(conn)
    stale = feed_sessions.requests_to_close(conn, now=now)
    for request_id, was, requester_id, basis, incident_id, status in stale:
        reason = (
            "the activation (legal basis) ended"
            if status == "revoked"
            else "the activation (legal basis) ran out"
        )
        feed_sessions.set_request_status(conn, request_id, status, reason)
        audit.append(
            conn,
            actor=actor,
            organization_id=requester_id,
            action=f"feed.{status}",
            subject_type="feed_request",
            subject_id=request_id,
            legal_basis=basis,
            details={"incident_id": incident_id, "reason": reason, "was": was},
        )
    return len(stale)
