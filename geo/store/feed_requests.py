"""Feed requests: one camera's video asked for one incident, routed, decided, and on record.

**Routing.** A request goes requester → regional (광역) centre → the municipal centre that owns
the camera. The regional centre is the first ``regional_centre`` up the *owner's* parent chain
(종로구청 → 서울 centre → 수도권 광역 centre): it is the centre that integrates the owner and
forwards to it, so a cordon across city or province borders fans out through each owner's own
regional centre. When the owner's chain has none, the first one up the requester's chain is
used; when neither has one the request goes to the owner directly (``routed_via_id`` NULL) and
the audit record says so.

**Decision.** The owning centre's ``auto_approve_bases`` policy: a request whose activation's
basis is listed is approved at once (``decided_by`` NULL, the reason names the policy); others
wait as ``pending`` until that centre approves or denies. Every request and decision is audited
with the activation's legal basis. Provisioning approved requests on the relay is
:mod:`api.feeds`'s (its SQL is :mod:`geo.store.feed_sessions`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, fields

from sqlalchemy.engine import Connection

from geo.errors import Conflict, NotFound
from geo.store import audit
from geo.store.cameras import CameraRef
from geo.store.queries import query

_MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class FeedRequest:
    """A feed request as stored, with the names of the organizations it involves."""

    id: int
    incident_id: int
    camera_id: int
    requester_id: int
    requester_name: str
    routed_via_id: int | None
    routed_via_name: str | None
    owner_id: int
    owner_name: str
    activation_id: int
    basis: str
    status: str
    reason: str
    decided_by: int | None
    decided_at: dt.datetime | None
    created_at: dt.datetime


def regional_centre_for(conn: Connection, *, owner_id: int, requester_id: int) -> int | None:
    """The regional centre routing requests from ``requester_id`` to ``owner_id`` (module doc)."""
    row = conn.execute(
        query("feed_requests/regional_centre"),
        {"owner": owner_id, "requester": requester_id},
    ).first()
    return int(row[0]) if row is not None else None


def _policy(conn: Connection, owner_ids: Iterable[int]) -> dict[int, list[str]]:
    rows = conn.execute(
        query("feed_requests/auto_approve_policy"),
        {"ids": list(set(owner_ids))},
    )
    return {int(r.id): list(r.auto_approve_bases or []) for r in rows}


def create_requests(
    conn: Connection,
    *,
    incident_id: int,
    cameras: list[CameraRef],
    requester_id: int,
    activation_id: int,
    basis: str,
    actor: str,
) -> tuple[list[FeedRequest], list[FeedRequest]]:
    """One request per camera, routed and auto-decided; ``(created, already requested)``.

    A camera already requested for this incident is not requested again: its existing request
    is returned in the second list.
    """
    wanted = {c.id for c in cameras}
    existing = {
        r.camera_id: r
        for r in list_requests(conn, incident_id=incident_id)
        if r.camera_id in wanted
    }
    policy = _policy(conn, (c.owner_id for c in cameras))
    routes: dict[int, int | None] = {}
    created_ids = []
    for camera in cameras:
        if camera.id in existing:
            continue
        if camera.owner_id not in routes:
            routes[camera.owner_id] = regional_centre_for(
                conn, owner_id=camera.owner_id, requester_id=requester_id
            )
        via = routes[camera.owner_id]
        auto = basis in policy.get(camera.owner_id, [])
        reason = (
            f"auto-approved: {camera.owner_name} approves {basis} requests automatically"
            if auto
            else f"waiting for {camera.owner_name} to approve or deny"
        )
        request_id = conn.execute(
            query("feed_requests/insert"),
            {
                "incident": incident_id,
                "camera": camera.id,
                "requester": requester_id,
                "via": via,
                "owner": camera.owner_id,
                "activation": activation_id,
                "status": "approved" if auto else "pending",
                "reason": reason,
                "auto": auto,
            },
        ).scalar_one()
        created_ids.append(request_id)
        audit.append(
            conn,
            actor=actor,
            organization_id=requester_id,
            action="feed.requested",
            subject_type="feed_request",
            subject_id=request_id,
            legal_basis=basis,
            details={
                "incident_id": incident_id,
                "camera_id": camera.id,
                "owner_id": camera.owner_id,
                "routed_via_id": via,
                "route": "via regional centre" if via is not None else "direct to the owner",
                "activation_id": activation_id,
            },
        )
        if auto:
            audit.append(
                conn,
                actor="policy:auto_approve",
                organization_id=camera.owner_id,
                action="feed.approved",
                subject_type="feed_request",
                subject_id=request_id,
                legal_basis=basis,
                details={"incident_id": incident_id, "camera_id": camera.id, "auto": True},
            )
    created = [get_request(conn, i) for i in created_ids]
    return created, list(existing.values())


def request_not_found(request_id: int) -> NotFound:
    """The error for a feed request that does not exist, or that the caller may not know exists
    (the same error for both)."""
    return NotFound(f"no feed request has the id {request_id}", details={"id": request_id})


def get_request(conn: Connection, request_id: int) -> FeedRequest:
    """Raises :class:`NotFound` for an unknown id."""
    row = None
    if 1 <= request_id <= _MAX_ID:
        row = conn.execute(query("feed_requests/get"), {"id": request_id}).first()
    if row is None:
        raise request_not_found(request_id)
    return FeedRequest(**row._mapping)


def list_requests(conn: Connection, *, incident_id: int) -> list[FeedRequest]:
    """An incident's feed requests in id order."""
    rows = conn.execute(query("feed_requests/list_for_incident"), {"incident": incident_id})
    return [FeedRequest(**r._mapping) for r in rows]


def decide(
    conn: Connection,
    request_id: int,
    *,
    approve: bool,
    key_id: int,
    organization_id: int,
    actor: str,
    reason: str = "",
) -> FeedRequest:
    """The owning centre's decision on a pending request; audited.

    The caller checks that ``organization_id`` owns the camera.

    Raises
    ------
    NotFound
    Conflict
        the request is not pending (decided already, revoked, ...); or, to approve, its
        activation is no longer in force or its incident is closed (a request cannot be
        approved into a feed the law no longer allows).
    """
    current = get_request(conn, request_id)
    if approve and current.status == "pending":
        _require_in_force(conn, current)
    verb = "approved" if approve else "denied"
    text_reason = f"{verb} by {current.owner_name}" + (f": {reason}" if reason else "")
    updated = conn.execute(
        query("feed_requests/decide"),
        {"status": verb, "reason": text_reason, "key": key_id, "id": request_id},
    ).first()
    if updated is None:
        raise Conflict(
            f"feed request {request_id} is {current.status}, not pending: it was decided already",
            details={"id": request_id, "status": current.status},
        )
    audit.append(
        conn,
        actor=actor,
        organization_id=organization_id,
        action=f"feed.{verb}",
        subject_type="feed_request",
        subject_id=request_id,
        legal_basis=current.basis,
        details={
            "incident_id": current.incident_id,
            "camera_id": current.camera_id,
            "reason": reason,
        },
    )
    return get_request(conn, request_id)


def _require_in_force(conn: Connection, current: FeedRequest) -> None:
    row = conn.execute(
        query("feed_requests/in_force"),
        {"id": current.id},
    ).one()
    if row.incident_status != "open":
        raise Conflict(
            f"feed request {current.id} cannot be approved: incident {current.incident_id} is"
            " closed",
            details={"id": current.id, "status": current.status, "incident_status": "closed"},
        )
    if not row.in_force:
        raise Conflict(
            f"feed request {current.id} cannot be approved: its activation (legal basis,"
            f" {current.basis}) is no longer in force",
            details={
                "id": current.id,
                "status": current.status,
                "activation_id": current.activation_id,
            },
        )


def viewer_sessions(conn: Connection, request_ids: list[int]) -> dict[int, dict[str, object]]:
    """The latest feed session of each request: relay, stream id, expiry, status.

    Never the credential (only its hash is stored) nor the camera's source URL.
    """
    if not request_ids:
        return {}
    rows = conn.execute(
        query("feed_requests/viewer_sessions"),
        {"ids": request_ids},
    )
    return {
        int(r.feed_request_id): {
            "relay": r.relay_name,
            "stream": r.relay_stream_id,
            "expires_at": r.expires_at,
            "session_status": r.status,
            "ended_at": r.ended_at,
        }
        for r in rows
    }


@dataclass(frozen=True)
class QueuedRequest:
    """A feed request with what an approver decides on: the incident's point and state, the
    camera's address and kind, the legal basis's reference and period."""

    request: FeedRequest
    incident_lon: float
    incident_lat: float
    incident_status: str
    incident_radius_m: float
    activation_reference: str
    activation_starts_at: dt.datetime
    activation_ends_at: dt.datetime
    camera_address: str
    camera_kind: str


def list_visible(
    conn: Connection,
    *,
    everyone: bool,
    requester_id: int | None = None,
    owner_id: int | None = None,
    via_id: int | None = None,
    state: str | None = None,
    incident_id: int | None = None,
    request_id: int | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[QueuedRequest]:
    """Feed requests in id order after ``after_id``: all when ``everyone``, else those of the
    requester ``requester_id``, owned by ``owner_id`` or routed through ``via_id``; filtered by
    ``state``, ``incident_id`` and ``request_id`` when given."""
    rows = conn.execute(
        query("feed_requests/list_visible"),
        {
            "everyone": everyone,
            "requester": requester_id,
            "owner": owner_id,
            "via": via_id,
            "state": state,
            "incident": incident_id,
            "id": request_id,
            "after": after_id,
            "limit": limit,
        },
    )
    out = []
    names = {f.name for f in fields(FeedRequest)}
    for row in rows:
        values = dict(row._mapping)
        request = FeedRequest(**{k: values.pop(k) for k in list(values) if k in names})
        out.append(QueuedRequest(request, **values))
    return out
