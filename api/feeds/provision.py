"""Approved feed requests onto the relay: a ``live`` feed session with its own credential.

The rules this module keeps:

- A feed is provisioned only for an ``approved`` request of an open incident whose activation
  (legal basis) is in force; its credential expires at the activation's end or after the
  session limit (``GILMOK_FEED_SESSION_MAX_S``), whichever is first.
- A request the relay cannot take yet (down, or none configured) stays ``approved`` with the
  reason, audited once per distinct reason; the loop provisions it when the relay answers.
- A camera with no source URL, or whose source the relay cannot pull, fails its request only.
- The request's row is held ``FOR UPDATE`` for the length of the relay call, so the loop
  (which skips locked rows) and the API never provision the same request twice; streams whose
  provisioning the caller's transaction does not record are taken down again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.engine import Connection

from api.feeds import SYSTEM_ACTOR
from api.feeds.streams import audit_credential, destroy_quietly, hash_credential, offer, stream_key
from api.platform_outbound import notify_feed
from api.relay.base import Grant, Relay, RelayedStream, utc_now
from api.relay.errors import CameraSourceUnavailable, RelayRefused, RelayUnavailable
from api.settings import Settings
from geo.errors import GilmokError
from geo.store import audit, camera_changes, feed_sessions

#: Reason kept on an approved request the relay could not take yet.
RELAY_NOT_CONFIGURED = "approved, not provisioned: relay not configured"


def _grant(target: feed_sessions.RequestForProvisioning, expires_at: dt.datetime) -> Grant:
    return Grant(
        viewer_org=f"org-{target.requester_id}",
        expires_at=expires_at,
        viewer_label=target.requester_name,
    )


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
    now = now or utc_now()
    feed_sessions.take_audit_lock(conn)
    targets = []
    for request_id in sorted(set(feed_request_ids)):
        target = feed_sessions.lock_request(conn, request_id)
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

    def attempt(target: feed_sessions.RequestForProvisioning) -> RelayedStream | GilmokError:
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
                _mark_offline(conn, target.camera_id, actor=actor)
            else:
                session_id = _record_session(conn, relay, target, outcome, actor=actor)
                offers[target.id] = offer(target.id, session_id, target.camera_id, outcome)
    except BaseException:
        # The caller's transaction will not record these streams: take them down again.
        for outcome in outcomes:
            if isinstance(outcome, RelayedStream):
                destroy_quietly(relay, outcome.relay_stream_id)
        raise
    return offers


def _thread_safe(relay: Relay) -> bool:
    """Whether the relay's ledger may be used from several threads (not a test connection)."""
    return not isinstance(getattr(relay.ledger, "bind", None), Connection)


def _still_allowed(
    conn: Connection, target: feed_sessions.RequestForProvisioning, *, actor: str, now: dt.datetime
) -> bool:
    """False (and the request closed, audited) when the incident or the legal basis is over."""
    if target.incident_status != "open":
        status, reason = "revoked", "the incident was closed before the feed was provisioned"
    elif target.activation_end <= now:
        status, reason = "expired", "the legal basis ended before the feed was provisioned"
    else:
        return True
    feed_sessions.set_request_status(conn, target.id, status, reason)
    _audit(conn, target, f"feed.{status}", actor=actor, details={"reason": reason})
    return False


def _record_session(
    conn: Connection,
    relay: Relay,
    target: feed_sessions.RequestForProvisioning,
    stream: RelayedStream,
    *,
    actor: str,
) -> int:
    credential_hash = hash_credential(stream.credential)
    session_id = feed_sessions.insert_session(
        conn,
        feed_request_id=target.id,
        relay_name=relay.name,
        relay_stream_id=stream.relay_stream_id,
        credential_hash=credential_hash,
        expires_at=stream.expires_at,
    )
    feed_sessions.set_request_status(conn, target.id, "provisioned", "")
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
    audit_credential(conn, target, session_id, stream, credential_hash, actor=actor)
    notify_feed(conn, incident_id=target.incident_id, camera_id=target.camera_id, feed="live")
    return session_id


def _defer(
    conn: Connection, target: feed_sessions.RequestForProvisioning, reason: str, *, actor: str
) -> None:
    # The worker retries every tick: audit the deferral once per distinct reason, not per try.
    if target.reason == reason:
        return
    feed_sessions.set_request_status(conn, target.id, "approved", reason)
    _audit(conn, target, "feed.provision_deferred", actor=actor, details={"reason": reason})


#: The status reason of a camera whose source the relay could not open (never the URL).
SOURCE_FAILED = "the relay cannot open the camera's video source"


def _mark_offline(conn: Connection, camera_id: int, *, actor: str) -> None:
    """A camera the relay cannot open is offline until its centre says otherwise: answers rank
    it last from now on (a camera change, as a centre's report would be)."""
    camera_changes.set_statuses(
        conn, [(camera_id, "offline", SOURCE_FAILED)], owner_id=None, organization_id=None,
        actor=actor, via="relay",
    )  # fmt: skip


def _fail(
    conn: Connection, target: feed_sessions.RequestForProvisioning, reason: str, *, actor: str
) -> None:
    feed_sessions.set_request_status(conn, target.id, "failed", reason)
    _audit(
        conn,
        target,
        "feed.failed",
        actor=actor,
        details={"reason": reason, "camera_id": target.camera_id},
    )


def _audit(
    conn: Connection,
    target: feed_sessions.RequestForProvisioning,
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
    waiting = feed_sessions.approved_request_ids(conn, limit=limit)
    if not waiting:
        return 0
    feed_sessions.take_audit_lock(conn)
    free = [r for r in waiting if feed_sessions.lock_request(conn, r, skip_locked=True) is not None]
    return len(provision_requests(conn, relay, free, settings=settings, actor=actor))
