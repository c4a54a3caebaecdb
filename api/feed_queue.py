"""``/v1/feed-requests``: the queue of feed requests each organization sees, and revocation.

Who sees which requests (the rule of :func:`api.feed_requests._feeds_for`, for every incident at
once): a ``municipal_centre`` the requests for its cameras (its approval queue); a
``regional_centre`` those routed through it; a ``requester`` its own organization's; ``admin``
and ``auditor`` all. A request the caller may not see is answered as one that does not exist.
Each item is a feed request as ``GET /v1/incidents/{id}/feeds`` shows it, with what an approver
decides on: the incident's point and state, the camera's address, and the legal basis (its
activation's id, basis, reference and period). A requester's items also hold their feed
session's facts (``viewer``), never a credential.

**Revoke** (``POST /v1/feed-requests/{id}/revoke``, with a reason): the centre that owns the
camera, or the requester organization, ends a request now. A live feed's relay stream is
destroyed in the request, as ending an activation does (:func:`api.feeds.revoke.revoke_for`);
a pending or approved request is closed. Audited (``feed.revoked``, naming who and why).
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from marshmallow import fields, validate

from api.auth import current_caller, requires_roles
from api.context import app_state, transaction
from api.feed_requests import FeedRequestOut, ViewerOut, feed_out
from api.feeds.revoke import revoke_for
from api.incidents import GEOJSON_POINT
from api.schemas import INT32_MAX, Blueprint, Id, PageArgs, Text
from geo import domain
from geo.errors import Conflict
from geo.store import audit
from geo.store import feed_requests as store
from geo.store.feed_requests import QueuedRequest
from geo.store.orgs import Caller

#: Roles that see a queue (planners do not work on operations).
READERS = ("requester", "regional_centre", "municipal_centre", "admin", "auditor")
#: Roles that may revoke (each only what is its own: the owner centre, the requester).
REVOKERS = ("municipal_centre", "requester")

blp = Blueprint(
    "feed_queue",
    __name__,
    url_prefix="/v1",
    description="The feed requests each organization sees across incidents (a centre's approval"
    " queue), and revocation of a live feed",
)


class QueueQuery(PageArgs):
    state = fields.String(
        validate=validate.OneOf(domain.FEED_REQUEST_STATUSES),
        metadata={"description": "Only requests in this state (default: any)"},
    )
    incident_id = Id(metadata={"description": "Only this incident's requests"})


class IncidentRef(ma.Schema):
    id = fields.Integer(required=True)
    location = fields.Dict(required=True, metadata=GEOJSON_POINT)
    status = fields.String(required=True, validate=validate.OneOf(domain.INCIDENT_STATUSES))
    radius_m = fields.Float(required=True)


class LegalBasisOut(ma.Schema):
    activation_id = fields.Integer(required=True)
    basis = fields.String(required=True, metadata={"enum": list(domain.LEGAL_BASES)})
    basis_ko = fields.String(required=True)
    basis_en = fields.String(required=True)
    reference = fields.String(required=True)
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(
        required=True, metadata={"description": "Its end, or when it was ended early"}
    )


class CameraRefOut(ma.Schema):
    id = fields.Integer(required=True)
    address = fields.String(required=True)
    kind = fields.String(required=True)


class QueueItem(FeedRequestOut):
    incident = fields.Nested(IncidentRef, required=True)
    basis = fields.Nested(LegalBasisOut, required=True)
    camera = fields.Nested(CameraRefOut, required=True)
    viewer = fields.Nested(
        ViewerOut, allow_none=True, metadata={"description": "Session facts, requester only"}
    )


class QueuePage(ma.Schema):
    items = fields.List(fields.Nested(QueueItem), required=True)
    next_after_id = fields.Integer(
        allow_none=True, required=True, metadata={"description": "after_id of the next page"}
    )


class RevokeIn(ma.Schema):
    reason = Text(
        required=True,
        min_length=1,
        max_length=500,
        metadata={"description": "Why the feed ends now (recorded in the audit trail)"},
    )


def scope_of(caller: Caller) -> dict[str, Any]:
    """Which requests ``caller`` sees, as :func:`geo.store.feed_requests.list_visible` takes it."""
    org = caller.organization_id
    return {
        "everyone": caller.role in ("admin", "auditor"),
        "requester_id": org if caller.role == "requester" else None,
        "owner_id": org if caller.role == "municipal_centre" else None,
        "via_id": org if caller.role == "regional_centre" else None,
    }


def item_out(q: QueuedRequest, viewer: dict[str, Any] | None) -> dict[str, Any]:
    r = q.request
    ko, en = domain.LEGAL_BASES[r.basis]
    # The single read's fields (without its viewer, which comes last), then the queue's own.
    out: dict[str, Any] = {
        **feed_out(r, None),
        "incident": {
            "id": r.incident_id,
            "location": {
                "type": "Point",
                "coordinates": [round(q.incident_lon, 7), round(q.incident_lat, 7)],
            },
            "status": q.incident_status,
            "radius_m": q.incident_radius_m,
        },
        "basis": {
            "activation_id": r.activation_id,
            "basis": r.basis,
            "basis_ko": ko,
            "basis_en": en,
            "reference": q.activation_reference,
            "starts_at": q.activation_starts_at,
            "ends_at": q.activation_ends_at,
        },
        "camera": {"id": r.camera_id, "address": q.camera_address, "kind": q.camera_kind},
    }
    if viewer is not None:
        out["viewer"] = viewer
    return out


def _items(conn: Any, caller: Caller, found: list[QueuedRequest]) -> list[dict[str, Any]]:
    sessions = (
        store.viewer_sessions(conn, [q.request.id for q in found])
        if caller.role == "requester"
        else {}
    )
    return [item_out(q, sessions.get(q.request.id)) for q in found]


def _one(conn: Any, caller: Caller, request_id: int) -> QueuedRequest:
    found = (
        store.list_visible(conn, **scope_of(caller), request_id=request_id, limit=1)
        if 1 <= request_id <= INT32_MAX
        else []
    )
    if not found:
        raise store.request_not_found(request_id)
    return found[0]


@blp.route("/feed-requests")
class FeedQueue(MethodView):
    @requires_roles(*READERS)
    @blp.arguments(QueueQuery, location="query", unknown=ma.RAISE)
    @blp.response(200, QueuePage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Feed requests the caller sees, oldest first: a centre's queue, a requester's own"""
        caller = current_caller()
        with transaction() as conn:
            found = store.list_visible(
                conn,
                **scope_of(caller),
                state=args.get("state"),
                incident_id=args.get("incident_id"),
                after_id=args.get("after_id") or 0,
                limit=args["limit"],
            )
            items = _items(conn, caller, found)
        last = found[-1].request.id if len(found) == args["limit"] else None
        return {"items": items, "next_after_id": last}


@blp.route("/feed-requests/<int:request_id>")
class FeedRequestById(MethodView):
    @requires_roles(*READERS)
    @blp.response(200, QueueItem)
    def get(self, request_id: int) -> dict[str, Any]:
        """One feed request the caller sees, with its incident point and legal basis"""
        caller = current_caller()
        with transaction() as conn:
            return _items(conn, caller, [_one(conn, caller, request_id)])[0]


@blp.route("/feed-requests/<int:request_id>/revoke")
class RevokeFeed(MethodView):
    @requires_roles(*REVOKERS)
    @blp.arguments(RevokeIn)
    @blp.response(200, QueueItem)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, body: dict[str, Any], request_id: int) -> dict[str, Any]:
        """End a feed request now: its live feed's relay stream is destroyed (owner centre or
        requester)"""
        caller = current_caller()
        state = app_state()
        with transaction() as conn:
            audit.lock_chain(conn)  # before any row lock: see lock_chain
            current = _one(conn, caller, request_id)
            was = current.request.status
            if was not in ("pending", "approved", "provisioned"):
                raise Conflict(
                    f"feed request {request_id} is {was}: there is nothing to revoke",
                    details={"id": request_id, "status": was},
                )
            revoke_for(
                conn,
                state.relay,
                feed_request_id=request_id,
                reason=f"revoked by {caller.organization_name}: {body['reason']}",
                actor=caller.actor,
            )
            return _items(conn, caller, [_one(conn, caller, request_id)])[0]
