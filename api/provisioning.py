"""Approved feed requests into the stream relay and out again: provision, revoke, reconcile.

The rules this module keeps:

- A feed is provisioned only for an ``approved`` request of an open incident whose activation
  (legal basis) is in force; its credential expires at the activation's end or after the
  session limit (``GILMOK_FEED_SESSION_MAX_S``), whichever is first.
- The credential is the caller's once: the database keeps its SHA-256 only. A requester that
  did not receive one (the worker provisioned the feed, or the relay restarted) asks
  :func:`issue_credential`, which moves the session to a fresh relay stream so that exactly one
  credential opens it at any time.
- The camera's source URL goes to the relay and nowhere else.
- The relay is the follower: the database says which sessions are live, and
  :func:`reconcile` makes the relay agree (re-provision what it lost, destroy what has no live
  session), so a relay that was down, restarted or was unreachable during a revocation ends up
  right without anyone's help.
- Every transition is audited in the transaction that makes it.

Relay calls happen while the feed request's row is locked, inside the caller's transaction.
Every function here that locks feed rows first takes the audit chain's lock (which
:func:`geo.store.audit.append` holds until commit anyway), so that the worker and the API
never wait for each other's rows in opposite orders; the worker takes it only when it has
something to change.
The relay registry (:class:`DbStreamRegistry`) commits on its own connection, before and after
each relay call, so a transaction that rolls back after the relay created a stream leaves a
registry row whose stream has no live session: the reconciler destroys it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.engine import Connection, Engine

from api.relay.base import Grant, ProvisionRecord, Relay, RelayedStream, StreamStatus
from geo.errors import (
    CameraSourceUnavailable,
    Conflict,
    GilmokError,
    InvalidInput,
    RelayRefused,
    RelayUnavailable,
)
from geo.settings import Settings
from geo.store import audit
from geo.store import sessions as store
from geo.store.app_role import app_transaction
from geo.store.audit import canonical_json

log = logging.getLogger("gilmok.provisioning")

#: How the audit trail names the provisioner when no person triggered the transition.
SYSTEM_ACTOR = "system:provisioner"
#: Reason kept on an approved request the relay could not take yet.
RELAY_NOT_CONFIGURED = "approved, not provisioned: relay not configured"
#: A live stream whose camera sent nothing for this long is reported (``feed.source_lost``).
SOURCE_LOST_AFTER = dt.timedelta(seconds=2)
SOURCE_LOST = "the camera's video source sends no media"
#: A registry row whose key is not ours and that no live session holds is destroyed after this.
FOREIGN_RECORD_GRACE = dt.timedelta(seconds=60)
_KEY_PREFIX = "feed_request:"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def stream_key(feed_request_id: int) -> str:
    """The key under which a request's relay stream is registered."""
    return f"{_KEY_PREFIX}{feed_request_id}"


def _request_of(key: str) -> int | None:
    if key.startswith(_KEY_PREFIX) and key[len(_KEY_PREFIX) :].isdigit():
        return int(key[len(_KEY_PREFIX) :])
    return None


def hash_credential(credential: Mapping[str, str]) -> bytes:
    """SHA-256 of the credential's canonical JSON: what the database keeps of it."""
    return hashlib.sha256(canonical_json(dict(credential)).encode()).digest()


def _grant(target: store.RequestForProvisioning, expires_at: dt.datetime) -> Grant:
    return Grant(
        viewer_org=f"org-{target.requester_id}",
        expires_at=expires_at,
        viewer_label=target.requester_name,
    )


def _offer(
    feed_request_id: int, session_id: int, camera_id: int, stream: RelayedStream
) -> dict[str, Any]:
    """What the requester receives, once: where to watch and with which credential."""
    return {
        "feed_request_id": feed_request_id,
        "feed_session_id": session_id,
        "camera_id": camera_id,
        "expires_at": stream.expires_at.isoformat(),
        "viewer": [
            {"protocol": v.protocol, "url": v.url, "stream": v.stream} for v in stream.viewer
        ],
        "credential": dict(stream.credential),
    }


# ---- provisioning ----------------------------------------------------------------------------


def provision_request(
    conn: Connection,
    relay: Relay | None,
    feed_request_id: int,
    *,
    settings: Settings,
    actor: str = SYSTEM_ACTOR,
    now: dt.datetime | None = None,
) -> dict[str, Any] | None:
    """Provision an approved feed request on the relay; the one-time viewer offer, or None.

    Call it in the transaction that approves the request (the worker then cannot take the
    request in between). Outcomes, each audited:

    - provisioned: a ``live`` feed session (credential stored as a hash), request
      ``provisioned``; returns ``{feed_request_id, feed_session_id, camera_id, expires_at
      (ISO 8601), viewer: [{protocol, url, stream}], credential: {...}}``.
    - relay down or not configured: request stays ``approved`` with the reason; None (the
      worker provisions it when the relay answers).
    - camera source unreachable, or no source URL registered: request ``failed``; None.
    - incident closed: request ``revoked``; activation no longer in force: request
      ``expired``; None.
    - request not ``approved`` (already provisioned, denied, ...): nothing happens; None.

    Raises
    ------
    NotFound
        no feed request has this id.
    RelayRefused
        the relay rejects gilmok's own credentials (a configuration error, not retried).
    """
    offers = provision_requests(
        conn, relay, [feed_request_id], settings=settings, actor=actor, now=now, parallel=1
    )
    return offers.get(feed_request_id)


def provision_requests(
    conn: Connection,
    relay: Relay | None,
    feed_request_ids: Iterable[int],
    *,
    settings: Settings,
    actor: str = SYSTEM_ACTOR,
    now: dt.datetime | None = None,
    parallel: int = 8,
) -> dict[int, dict[str, Any]]:
    """:func:`provision_request` for several requests at once; offers by request id.

    The relay calls run ``parallel`` at a time (16 cameras: one relay round trip instead of
    sixteen); the database work stays on ``conn``, in request id order. Requests that were
    not provisioned are absent from the result (their status and reason say why).
    """
    now = now or _now()
    store.take_audit_lock(conn)
    targets = []
    for request_id in sorted(set(feed_request_ids)):
        target = store.lock_request(conn, request_id)
        assert target is not None
        if target.status != "approved" or not _still_allowed(conn, target, actor=actor, now=now):
            continue
        if relay is None:
            _defer(conn, target, RELAY_NOT_CONFIGURED, actor=actor)
        elif not target.source_url:
            _fail(conn, target, "the camera has no source URL registered", actor=actor)
        else:
            targets.append(target)
    if relay is None or not targets:
        return {}
    limit = dt.timedelta(seconds=settings.feed_session_max_s)

    def attempt(target: store.RequestForProvisioning) -> RelayedStream | GilmokError:
        assert relay is not None
        assert target.source_url is not None
        grant = _grant(target, min(target.activation_end, now + limit))
        try:
            return relay.provision(stream_key(target.id), target.source_url, grant)
        except (RelayUnavailable, CameraSourceUnavailable, RelayRefused) as exc:
            return exc

    workers = min(parallel, len(targets)) if _thread_safe(relay) else 1
    if workers > 1:
        with ThreadPoolExecutor(workers, thread_name_prefix="provision") as pool:
            outcomes = list(pool.map(attempt, targets))
    else:
        outcomes = [attempt(t) for t in targets]
    offers: dict[int, dict[str, Any]] = {}
    try:
        for target, outcome in zip(targets, outcomes, strict=True):
            if isinstance(outcome, RelayRefused):
                raise outcome
            if isinstance(outcome, RelayUnavailable):
                reason = f"approved, not provisioned: {outcome.message}"
                _defer(conn, target, reason, actor=actor)
            elif isinstance(outcome, GilmokError):
                _fail(conn, target, "the relay cannot pull the camera's video source", actor=actor)
            else:
                session_id = _record_session(conn, relay, target, outcome, actor=actor)
                offers[target.id] = _offer(target.id, session_id, target.camera_id, outcome)
    except BaseException:
        # The caller's transaction will not record these streams: take them down again.
        for outcome in outcomes:
            if isinstance(outcome, RelayedStream):
                _revoke_quietly(relay, outcome.relay_stream_id)
        raise
    return offers


def _thread_safe(relay: Relay) -> bool:
    """Whether the relay's registry may be used from several threads (not a test connection)."""
    return not isinstance(getattr(relay.registry, "bind", None), Connection)


def _still_allowed(
    conn: Connection, target: store.RequestForProvisioning, *, actor: str, now: dt.datetime
) -> bool:
    """False (and the request closed, audited) when the incident or the legal basis is over."""
    if target.incident_status != "open":
        status, reason = "revoked", "the incident was closed before the feed was provisioned"
    elif target.activation_end <= now:
        status, reason = "expired", "the legal basis ended before the feed was provisioned"
    else:
        return True
    store.set_request_status(conn, target.id, status, reason)
    _audit(conn, target, f"feed.{status}", actor=actor, details={"reason": reason})
    return False


def _record_session(
    conn: Connection,
    relay: Relay,
    target: store.RequestForProvisioning,
    stream: RelayedStream,
    *,
    actor: str,
) -> int:
    credential_hash = hash_credential(stream.credential)
    session_id = store.insert_session(
        conn,
        feed_request_id=target.id,
        relay_name=relay.name,
        relay_stream_id=stream.relay_stream_id,
        credential_hash=credential_hash,
        expires_at=stream.expires_at,
    )
    store.set_request_status(conn, target.id, "provisioned", "")
    _audit(
        conn,
        target,
        "feed.provisioned",
        actor=actor,
        details={
            "feed_session_id": session_id,
            "camera_id": target.camera_id,
            "relay": relay.name,
            "relay_stream_id": stream.relay_stream_id,
            "expires_at": stream.expires_at,
        },
    )
    _credential_audit(conn, target, session_id, stream, credential_hash, actor=actor)
    return session_id


def _credential_audit(
    conn: Connection,
    target: store.RequestForProvisioning | store.LiveSession,
    session_id: int,
    stream: RelayedStream,
    credential_hash: bytes,
    *,
    actor: str,
) -> None:
    audit.append(
        conn,
        actor=actor,
        organization_id=target.requester_id,
        action="feed.credential_issued",
        subject_type="feed_session",
        subject_id=session_id,
        legal_basis=target.basis,
        details={
            "feed_request_id": (
                target.id
                if isinstance(target, store.RequestForProvisioning)
                else target.feed_request_id
            ),
            "viewer_org": target.requester_id,
            "relay_stream_id": stream.relay_stream_id,
            "expires_at": stream.expires_at,
            # A fingerprint to match a presented credential against, not the credential.
            "credential_sha256_prefix": credential_hash.hex()[:12],
        },
    )


def _defer(
    conn: Connection, target: store.RequestForProvisioning, reason: str, *, actor: str
) -> None:
    # The worker retries every tick: audit the deferral once per distinct reason, not per try.
    if target.reason == reason:
        return
    store.set_request_status(conn, target.id, "approved", reason)
    _audit(conn, target, "feed.provision_deferred", actor=actor, details={"reason": reason})


def _fail(
    conn: Connection, target: store.RequestForProvisioning, reason: str, *, actor: str
) -> None:
    store.set_request_status(conn, target.id, "failed", reason)
    _audit(
        conn,
        target,
        "feed.failed",
        actor=actor,
        details={"reason": reason, "camera_id": target.camera_id},
    )


def _audit(
    conn: Connection,
    target: store.RequestForProvisioning,
    action: str,
    *,
    actor: str,
    details: dict[str, Any],
) -> None:
    audit.append(
        conn,
        actor=actor,
        organization_id=target.requester_id,
        action=action,
        subject_type="feed_request",
        subject_id=target.id,
        legal_basis=target.basis,
        details={"incident_id": target.incident_id, **details},
    )


def _revoke_quietly(relay: Relay, relay_stream_id: str) -> bool:
    """Destroy a stream; False (logged) when the relay cannot be reached: the reconciler will."""
    try:
        relay.revoke(relay_stream_id)
    except (RelayUnavailable, RelayRefused) as exc:
        log.warning("relay stream %s not destroyed yet: %s", relay_stream_id, exc.message)
        return False
    return True


def provision_pending(
    conn: Connection,
    relay: Relay | None,
    *,
    settings: Settings,
    actor: str = SYSTEM_ACTOR,
    limit: int = 100,
) -> int:
    """Provision approved requests no other transaction is handling; how many became live."""
    if relay is None:
        return 0
    waiting = store.approved_request_ids(conn, limit=limit)
    if not waiting:
        return 0
    store.take_audit_lock(conn)
    free = [r for r in waiting if store.lock_request(conn, r, skip_locked=True) is not None]
    return len(provision_requests(conn, relay, free, settings=settings, actor=actor))


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
    at a time. For a requester that never received one (the worker provisioned the feed) or
    whose relay stream was replaced by :func:`reconcile`. None when the request has no live
    session.

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
    store.take_audit_lock(conn)
    store.lock_request(conn, feed_request_id)
    live = store.live_sessions(conn, feed_request_id=feed_request_id, lock=True)
    if not live:
        return None
    session = live[0]
    why = store.why_session_ends(conn, session.id, now=_now())
    if why is not None:
        raise Conflict(
            f"feed request {feed_request_id} may not be viewed any more: {why}",
            details={"id": feed_request_id, "reason": why},
        )
    stream = _replace_stream(conn, relay, session, action="feed.credential_reissued", actor=actor)
    return _offer(feed_request_id, session.id, session.camera_id, stream)


def _replace_stream(
    conn: Connection, relay: Relay, session: store.LiveSession, *, action: str, actor: str
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
        store.replace_session_stream(
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
        _credential_audit(conn, session, session.id, stream, credential_hash, actor=actor)
    except BaseException:
        _revoke_quietly(relay, stream.relay_stream_id)
        raise
    # The old stream (if the relay still has it) is now an orphan: destroy it now if possible.
    _revoke_quietly(relay, session.relay_stream_id)
    return stream


# ---- ending sessions -------------------------------------------------------------------------


def _end(
    conn: Connection,
    relay: Relay | None,
    session: store.LiveSession,
    *,
    status: str,
    reason: str,
    actor: str,
    now: dt.datetime,
) -> None:
    """Destroy the session's relay stream (or leave it to the reconciler) and record the end."""
    destroyed = False
    if relay is not None and relay.name == session.relay_name:
        destroyed = _revoke_quietly(relay, session.relay_stream_id)
    store.end_session(
        conn,
        session.id,
        status=status,
        at=now,
        last_error="" if destroyed else "relay stream not destroyed yet (relay unreachable)",
    )
    if session.request_status in store.OPEN_REQUEST_STATUSES:
        store.set_request_status(conn, session.feed_request_id, status, reason)
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


def revoke_for(
    conn: Connection,
    relay: Relay | None,
    *,
    incident_id: int | None = None,
    activation_id: int | None = None,
    feed_request_id: int | None = None,
    reason: str,
    actor: str = SYSTEM_ACTOR,
) -> int:
    """Revoke the live feeds of an incident, an activation or one request; how many sessions.

    Every matching live session's relay stream is destroyed now (a relay that is down leaves
    it to :func:`reconcile`, which destroys it when the relay answers) and the session marked
    ``revoked``; every matching request still ``pending``, ``approved`` or ``provisioned``
    becomes ``revoked`` with ``reason``. Audited per session and per request.

    Raises
    ------
    InvalidInput
        no filter given (revoking everything is not a thing this function does).
    """
    if incident_id is None and activation_id is None and feed_request_id is None:
        raise InvalidInput("revoke_for needs an incident, an activation or a feed request")
    now = _now()
    store.take_audit_lock(conn)
    requests = store.open_requests(
        conn, incident_id=incident_id, activation_id=activation_id, feed_request_id=feed_request_id
    )
    sessions = store.live_sessions(
        conn,
        incident_id=incident_id,
        activation_id=activation_id,
        feed_request_id=feed_request_id,
        lock=True,
    )
    for session in sessions:
        _end(conn, relay, session, status="revoked", reason=reason, actor=actor, now=now)
    with_session = {s.feed_request_id for s in sessions}
    for request_id, status, requester_id, basis in requests:
        if request_id in with_session:
            continue
        store.set_request_status(conn, request_id, "revoked", reason)
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
    now = now or _now()
    closed = _close_stale_requests(conn, now=now, actor=actor)
    if not store.any_session_to_end(conn, now=now):
        return closed
    store.take_audit_lock(conn)
    due = store.sessions_to_end(conn, now=now)
    for session in due:
        assert session.end_status is not None
        assert session.end_reason is not None
        _end(
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
    if not store.any_request_to_close(conn, now=now):
        return 0
    store.take_audit_lock(conn)
    stale = store.requests_to_close(conn, now=now)
    for request_id, was, requester_id, basis, incident_id, status in stale:
        reason = (
            "the activation (legal basis) ended"
            if status == "revoked"
            else "the activation (legal basis) ran out"
        )
        store.set_request_status(conn, request_id, status, reason)
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


# ---- reconciliation --------------------------------------------------------------------------


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
        live_ids = store.session_stream_ids(conn, relay_name=relay.name)
        for record in relay.list_provisioned():
            if record.relay_stream_id not in live_ids and _destroy_orphan(
                conn, relay, record, actor=actor
            ):
                result["orphans_destroyed"] += 1
        for session in store.live_sessions(conn, relay_name=relay.name):
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
    store.take_audit_lock(conn)
    request_id = _request_of(record.key)
    if request_id is None:
        if _now() - record.created_at < FOREIGN_RECORD_GRACE:
            return False
    else:
        # A transaction provisioning this request holds its row: its stream is not an orphan.
        if not store.try_lock_request(conn, request_id):
            return False
        # Committed meanwhile by the transaction that held the lock?
        if record.relay_stream_id in store.session_stream_ids(conn, relay_name=relay.name):
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
    conn: Connection, relay: Relay, session: store.LiveSession, *, actor: str
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
    store.take_audit_lock(conn)
    if not store.try_lock_request(conn, session.feed_request_id):
        return None
    current = store.live_sessions(conn, feed_request_id=session.feed_request_id, lock=True)
    if not current or current[0].relay_stream_id != session.relay_stream_id:
        return None  # ended or replaced meanwhile
    try:
        _replace_stream(conn, relay, session, action="feed.reprovisioned", actor=actor)
    except CameraSourceUnavailable:
        _end(
            conn,
            relay,
            session,
            status="failed",
            reason="the relay lost the stream and cannot pull the camera's video source again",
            actor=actor,
            now=_now(),
        )
        return "failed"
    return "reprovisioned"


def _watch_source(
    conn: Connection, session: store.LiveSession, status: StreamStatus, *, actor: str
) -> None:
    lost = session.last_error.startswith(SOURCE_LOST)
    if status.flowing == (not lost):
        return  # no change: flowing and not marked, or silent and marked already
    if not status.flowing:
        age = status.media_age_ms
        silent_for = (
            dt.timedelta(milliseconds=age)
            if age is not None
            else _now() - (session.created_at or _now())
        )
        if silent_for < SOURCE_LOST_AFTER:
            return
        message = f"{SOURCE_LOST} (for {silent_for.total_seconds():.0f} s)"
        action = "feed.source_lost"
    else:
        message, action = "", "feed.source_restored"
    store.take_audit_lock(conn)
    store.note_session_error(conn, session.id, message)
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


# ---- the relay registry in PostgreSQL --------------------------------------------------------


class DbStreamRegistry:
    """A :class:`api.relay.base.StreamRegistry` in the ``relay_stream`` table (no secrets).

    Each call is its own committed transaction (as the app role) on ``bind``, independent of
    the caller's: the record of a stream must outlive a rolled-back provisioning, which is how
    the reconciler finds the stream. ``bind`` may be a connection in a transaction (tests):
    calls are then savepoints in it.
    """

    def __init__(self, bind: Engine | Connection) -> None:
        self.bind = bind

    def put(self, record: ProvisionRecord) -> None:
        with app_transaction(self.bind) as conn:
            store.put_relay_stream(
                conn,
                {
                    "relay_stream_id": record.relay_stream_id,
                    "backend": record.backend,
                    "key": record.key,
                    "viewer_org": record.viewer_org,
                    "expires_at": record.expires_at,
                    "created_at": record.created_at,
                    "state": record.state,
                },
            )

    def remove(self, relay_stream_id: str) -> None:
        with app_transaction(self.bind) as conn:
            store.remove_relay_stream(conn, relay_stream_id)

    def get(self, relay_stream_id: str) -> ProvisionRecord | None:
        with app_transaction(self.bind) as conn:
            rows = store.relay_stream_rows(conn, relay_stream_id=relay_stream_id)
        return ProvisionRecord(**rows[0]) if rows else None

    def records(self, *, backend: str | None = None) -> list[ProvisionRecord]:
        with app_transaction(self.bind) as conn:
            rows = store.relay_stream_rows(conn, backend=backend)
        return [ProvisionRecord(**row) for row in rows]


def make_app_relay(settings: Settings, bind: Engine | Connection) -> Relay | None:
    """The relay the app and the worker drive, registered in the database; None if unset.

    A relay is driven once ``GILMOK_RELAY_BACKEND`` is set; the adapter is built without
    contacting the relay, so the app starts while the relay is down.
    """
    from api.relay import make_relay

    if not settings.relay.configured:
        return None
    return make_relay(settings.relay.backend, settings.relay, registry=DbStreamRegistry(bind))
