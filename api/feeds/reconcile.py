"""The relay made to agree with the database: orphans destroyed, lost streams re-provisioned.

The relay is the follower: the database says which sessions are live, and :func:`reconcile`
makes the relay agree (re-provision what it lost, destroy what has no live session), so a relay
that was down, restarted or was unreachable during a revocation ends up right without anyone's
help. The stream ledger (:mod:`api.feeds.ledger`) commits on its own connection, before and
after each relay call, so a transaction that rolls back after the relay created a stream leaves
a ledger row whose stream has no live session: the reconciler destroys it.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy.engine import Connection

from api.feeds import SYSTEM_ACTOR
from api.feeds.credential import replace_stream
from api.feeds.provision import provision_pending
from api.feeds.revoke import end_live_session
from api.feeds.streams import request_of
from api.relay.base import ProvisionRecord, Relay, StreamStatus, utc_now
from api.relay.errors import CameraSourceUnavailable, RelayUnavailable
from api.settings import Settings
from geo.store import audit, feed_sessions

log = logging.getLogger("gilmok.feeds")

#: A live stream whose camera sent nothing for this long is reported (``feed.source_lost``).
SOURCE_LOST_AFTER = dt.timedelta(seconds=2)
SOURCE_LOST = "the camera's video source sends no media"
#: A ledger row whose key is not ours and that no live session holds is destroyed after this.
FOREIGN_RECORD_GRACE = dt.timedelta(seconds=60)


def reconcile(
    conn: Connection,
    relay: Relay | None,
    *,
    settings: Settings | None = None,
    actor: str = SYSTEM_ACTOR,
) -> dict[str, Any]:
    """Make the relay match the database; what was done.

    With the relay answering:

    1. every registered relay stream that no live session holds is destroyed (an orphan of a
       revocation while the relay was unreachable, a rolled-back provisioning, a replaced
       stream), except streams a transaction is provisioning right now;
    2. every live session whose stream the relay lost (restart, crash) is re-provisioned on a
       new stream with a new credential, same expiry (``feed.reprovisioned``); the old
       credential opens nothing any more, so the requester fetches a new one with
       :func:`issue_credential`. A camera that no longer answers fails that session only;
       a present stream whose camera went silent is marked (``last_error``,
       ``feed.source_lost``) until media flows again (``feed.source_restored``);
    3. approved requests waiting for the relay are provisioned (:func:`provision_pending`).

    Returns ``{"relay_up", "orphans_destroyed", "reprovisioned", "failed", "provisioned"}``
    (counts), or only ``relay_up: False`` when the relay does not answer.
    """
    result: dict[str, Any] = {
        "relay_up": False,
        "orphans_destroyed": 0,
        "reprovisioned": 0,
        "failed": 0,
        "provisioned": 0,
    }
    if relay is None or not relay.health().up:
        return result
    result["relay_up"] = True
    try:
        live_ids = feed_sessions.session_stream_ids(conn, relay_name=relay.name)
        for record in relay.list_provisioned():
            if record.relay_stream_id not in live_ids and _destroy_orphan(
                conn, relay, record, actor=actor
            ):
                result["orphans_destroyed"] += 1
        for session in feed_sessions.live_sessions(conn, relay_name=relay.name):
            outcome = _restore(conn, relay, session, actor=actor)
            if outcome:
                result[outcome] += 1
        result["provisioned"] = provision_pending(
            conn, relay, settings=settings or Settings(), actor=actor
        )
    except RelayUnavailable as exc:
        # It went away mid-way: what was done is recorded; the next round does the rest.
        log.warning("reconcile interrupted: %s", exc.message)
        result["relay_up"] = False
    return result


def _destroy_orphan(conn: Connection, relay: Relay, record: ProvisionRecord, *, actor: str) -> bool:
    feed_sessions.take_audit_lock(conn)
    request_id = request_of(record.key)
    if request_id is None:
        if utc_now() - record.created_at < FOREIGN_RECORD_GRACE:
            return False
    else:
        # A transaction provisioning this request holds its row: its stream is not an orphan.
        if not feed_sessions.try_lock_request(conn, request_id):
            return False
        # Committed meanwhile by the transaction that held the lock?
        if record.relay_stream_id in feed_sessions.session_stream_ids(conn, relay_name=relay.name):
            return False
    relay.revoke(record.relay_stream_id)
    audit.append(
        conn,
        actor=actor,
        organization_id=None,
        action="relay.orphan_destroyed",
        subject_type="relay_stream",
        subject_id=record.relay_stream_id,
        details={"key": record.key, "state": record.state, "relay": relay.name},
    )
    return True


def _restore(
    conn: Connection, relay: Relay, session: feed_sessions.LiveSession, *, actor: str
) -> str | None:
    """Re-provision one live session the relay lost; "reprovisioned", "failed" or None.

    A session whose stream is present but silent is kept (the relay reconnects to the camera
    by itself) and marked with ``last_error`` while its camera sends nothing; both the loss
    and the recovery are audited.
    """
    status = relay.status(session.relay_stream_id)
    if status.present:
        _watch_source(conn, session, status, actor=actor)
        return None
    feed_sessions.take_audit_lock(conn)
    if not feed_sessions.try_lock_request(conn, session.feed_request_id):
        return None
    current = feed_sessions.live_sessions(conn, feed_request_id=session.feed_request_id, lock=True)
    if not current or current[0].relay_stream_id != session.relay_stream_id:
        return None  # ended or replaced meanwhile
    try:
        replace_stream(conn, relay, session, action="feed.reprovisioned", actor=actor)
    except CameraSourceUnavailable:
        end_live_session(
            conn,
            relay,
            session,
            status="failed",
            reason="the relay lost the stream and cannot pull the camera's video source again",
            actor=actor,
            now=utc_now(),
        )
        return "failed"
    return "reprovisioned"


def _watch_source(
    conn: Connection, session: feed_sessions.LiveSession, status: StreamStatus, *, actor: str
) -> None:
    lost = session.last_error.startswith(SOURCE_LOST)
    if status.flowing == (not lost):
        return  # no change: flowing and not marked, or silent and marked already
    if not status.flowing:
        age = status.media_age_ms
        silent_for = (
            dt.timedelta(milliseconds=age)
            if age is not None
            else utc_now() - (session.created_at or utc_now())
        )
        if silent_for < SOURCE_LOST_AFTER:
            return
        message = f"{SOURCE_LOST} (for {silent_for.total_seconds():.0f} s)"
        action = "feed.source_lost"
    else:
        message, action = "", "feed.source_restored"
    feed_sessions.take_audit_lock(conn)
    feed_sessions.note_session_error(conn, session.id, message)
    audit.append(
        conn,
        actor=actor,
        organization_id=session.requester_id,
        action=action,
        subject_type="feed_session",
        subject_id=session.id,
        legal_basis=session.basis,
        details={"feed_request_id": session.feed_request_id, "camera_id": session.camera_id},
    )
