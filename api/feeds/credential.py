"""The viewer credential a requester collects: provisioned now, or re-issued on a new stream.

The rules this module keeps:

- The credential is shown once, in the call that issued it (what the database keeps of it is
  :mod:`api.feeds.streams`'s). Only an ``approved`` or ``provisioned`` request has a feed to
  view (:func:`collect_credential`; otherwise :class:`geo.errors.Conflict`, 409); an approved
  one is provisioned now, and one that cannot be yet (relay down, none configured) is a 409
  that gives the reason.
- A requester that did not receive one (the loop provisioned the feed, or the relay restarted)
  asks :func:`issue_credential`, which moves the session to a fresh relay stream so that exactly
  one credential opens it at any time; the old stream is destroyed.
- A credential is re-issued only while the session may be viewed: its expiry ahead, its
  activation in force, its incident open and its request ``provisioned``; otherwise
  :class:`geo.errors.Conflict` (409), and nothing changes (the loop ends the session).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from api.feeds import SYSTEM_ACTOR
from api.feeds.provision import provision_request
from api.feeds.streams import audit_credential, destroy_quietly, hash_credential, offer, stream_key
from api.relay.base import Grant, Relay, RelayedStream, utc_now
from api.relay.errors import CameraSourceUnavailable
from api.settings import Settings
from geo.errors import Conflict
from geo.store import audit, feed_requests, feed_sessions
from geo.store.feed_requests import FeedRequest


def collect_credential(
    conn: Connection,
    relay: Relay | None,
    request: FeedRequest,
    *,
    settings: Settings,
    actor: str = SYSTEM_ACTOR,
) -> dict[str, Any]:
    """The requester's viewer offer for its request: provisioned now if only approved, else a
    fresh credential for the live session (the previous one stops working).

    The caller has checked that the request is the requester's.

    Raises
    ------
    Conflict
        the request is not ``approved`` nor ``provisioned`` (it has no feed to view), or it
        cannot be viewed yet (the reason is the request's, e.g. the relay is down).
    """
    if request.status not in ("approved", "provisioned"):
        raise Conflict(
            f"feed request {request.id} is {request.status}: it has no feed to view",
            details={"id": request.id, "status": request.status},
        )
    given = None
    if request.status == "approved":
        given = provision_request(conn, relay, request.id, settings=settings, actor=actor)
    elif relay is not None:
        given = issue_credential(conn, relay, request.id, actor=actor)
    if given is None:
        updated = feed_requests.get_request(conn, request.id)
        raise Conflict(
            f"feed request {request.id} cannot be viewed yet: {updated.reason}",
            details={"id": request.id, "status": updated.status},
        )
    return given


def issue_credential(
    conn: Connection,
    relay: Relay,
    feed_request_id: int,
    *,
    actor: str = SYSTEM_ACTOR,
) -> dict[str, Any] | None:
    """A fresh credential for a provisioned request's live session; the offer, or None.

    The session moves to a new relay stream with a new credential (same expiry) and the old
    stream is destroyed, so an earlier credential stops working: one credential per session
    at a time. For a requester that never received one (the loop provisioned the feed) or
    whose relay stream was replaced by :func:`api.feeds.reconcile.reconcile`. None when the
    request has no live session.

    Raises
    ------
    NotFound
    Conflict
        the session may not be viewed any more: its expiry passed, its activation is no longer
        in force, its incident closed or its request was revoked (nothing is changed; the
        expiry loop ends the session).
    RelayUnavailable
        the relay is down (the session is unchanged).
    CameraSourceUnavailable
        the camera stopped answering (the session is unchanged; the reconciler decides).
    """
    feed_sessions.take_audit_lock(conn)
    feed_sessions.lock_request(conn, feed_request_id)
    live = feed_sessions.live_sessions(conn, feed_request_id=feed_request_id, lock=True)
    if not live:
        return None
    session = live[0]
    why = feed_sessions.why_session_ends(conn, session.id, now=utc_now())
    if why is not None:
        raise Conflict(
            f"feed request {feed_request_id} may not be viewed any more: {why}",
            details={"id": feed_request_id, "reason": why},
        )
    stream = replace_stream(conn, relay, session, action="feed.credential_reissued", actor=actor)
    return offer(feed_request_id, session.id, session.camera_id, stream)


def replace_stream(
    conn: Connection, relay: Relay, session: feed_sessions.LiveSession, *, action: str, actor: str
) -> RelayedStream:
    if not session.source_url:
        raise CameraSourceUnavailable("the camera has no source URL registered")
    grant = Grant(
        viewer_org=f"org-{session.requester_id}",
        expires_at=session.expires_at,
        viewer_label=session.requester_name,
    )
    stream = relay.provision(stream_key(session.feed_request_id), session.source_url, grant)
    try:
        credential_hash = hash_credential(stream.credential)
        feed_sessions.replace_session_stream(
            conn,
            session.id,
            relay_stream_id=stream.relay_stream_id,
            credential_hash=credential_hash,
        )
        audit.append(
            conn,
            actor=actor,
            organization_id=session.requester_id,
            action=action,
            subject_type="feed_session",
            subject_id=session.id,
            legal_basis=session.basis,
            details={
                "feed_request_id": session.feed_request_id,
                "old_relay_stream_id": session.relay_stream_id,
                "relay_stream_id": stream.relay_stream_id,
            },
        )
        audit_credential(conn, session, session.id, stream, credential_hash, actor=actor)
    except BaseException:
        destroy_quietly(relay, stream.relay_stream_id)
        raise
    # The old stream (if the relay still has it) is now an orphan: destroy it now if possible.
    destroy_quietly(relay, session.relay_stream_id)
    return stream
