"""Feed requests: asked for an incident's cameras, decided by the owning centres, collected.

Who may do what:

- **request feeds** (``POST /v1/incidents/{id}/feeds``) and **collect viewer credentials**:
  ``requester`` keys, for their own organization's incidents.
- **list** an incident's feed requests: whoever may read the incident (:mod:`api.incidents`);
  a municipal centre sees only the requests addressed to it, a regional centre those routed
  through it.
- **approve / deny** a feed request: the ``municipal_centre`` that owns the camera, only.

A feed request the caller may not see is answered exactly as one that does not exist (404, the
same body).

Feeds need a legal basis: an activation in force *now* whose area covers the incident point
(:func:`geo.store.activations.require_activation`) **and the camera's position**
(:func:`geo.store.activations.activations_for_cameras`): a wide cordon reaches cameras beyond
the activation's area, and those may not be requested. Otherwise 403 ``no_legal_basis`` (for
cameras outside, ``details.refused_cameras`` names each and why), and the refusal is audited.
With ``best``, the k best cameras of each approach are chosen among those inside. Routing
and auto-approval are :mod:`geo.store.feed_requests`'s.

Approved requests are handed to the feed lifecycle (:func:`api.feeds.provision.provision_request`)
in the transaction that approves them. A viewer credential is shown once, and only to the
requester: in the response of ``POST …/feeds`` for auto-approved feeds; after a manual
approval (whose response, the centre's, never holds it) or a provisioning by the loop, with
``POST /v1/feed-requests/{id}/credential``. With no relay configured, approved requests wait
as approved with the reason :data:`api.feeds.provision.RELAY_NOT_CONFIGURED`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import marshmallow as ma
from flask.views import MethodView
from marshmallow import fields, validate

from api.activations import OrgRef
from api.auth import current_caller, requires_roles
from api.context import app_state, transaction
from api.feed_choice import choose_cameras
from api.feeds.credential import collect_credential
from api.feeds.provision import provision_request
from api.incidents import READERS, may_read, require_open, require_own
from api.rate_limits import limit_refused_feed_requests
from api.schemas import INT64_MAX, Blueprint, Integer, Text, only_one_of
from geo import domain
from geo.errors import NoLegalBasis
from geo.store import audit
from geo.store import cameras as camera_store
from geo.store import feed_requests as store
from geo.store import incidents as incident_store
from geo.store.activations import require_activation
from geo.store.feed_requests import FeedRequest
from geo.store.orgs import Caller

MAX_CAMERAS_PER_CALL = 100
MAX_BEST = 5

blp = Blueprint(
    "feed_requests",
    __name__,
    url_prefix="/v1",
    description="Feed requests of an incident's cameras, routed to and decided by the owning"
    " centres, and the viewer credentials of the feeds they became",
)


# --- schemas ----------------------------------------------------------------------------------


class FeedsIn(ma.Schema):
    OPENAPI_RULES: ClassVar[dict[str, Any]] = only_one_of(["camera_ids"], ["best"])

    camera_ids = fields.List(
        Integer(validate=validate.Range(min=1, max=INT64_MAX)),
        validate=validate.Length(min=1, max=MAX_CAMERAS_PER_CALL),
        metadata={"description": "Cameras watching the incident's approaches or within R"},
    )
    best = Integer(
        validate=validate.Range(min=1, max=MAX_BEST),
        metadata={"description": "The k best online cameras of each approach on record"},
    )

    @ma.validates_schema
    def _one_choice(self, data: dict[str, Any], **_: Any) -> None:
        if ("camera_ids" in data) == ("best" in data):
            raise ma.ValidationError("give camera_ids or best, not both", field_name="best")


class DecisionIn(ma.Schema):
    reason = Text(load_default="", max_length=500)


class ViewerOut(ma.Schema):
    relay = fields.String()
    stream = fields.String()
    expires_at = fields.AwareDateTime()
    session_status = fields.String()
    ended_at = fields.AwareDateTime(allow_none=True)


class FeedRequestOut(ma.Schema):
    id = fields.Integer(required=True)
    incident_id = fields.Integer(required=True)
    camera_id = fields.Integer(required=True)
    status = fields.String(required=True, validate=validate.OneOf(domain.FEED_REQUEST_STATUSES))
    reason = fields.String(required=True)
    requester = fields.Nested(OrgRef, required=True)
    routed_via = fields.Nested(OrgRef, allow_none=True, required=True)
    owner = fields.Nested(OrgRef, required=True)
    activation_id = fields.Integer(required=True)
    legal_basis = fields.String(required=True)
    created_at = fields.AwareDateTime(required=True)
    decided_at = fields.AwareDateTime(allow_none=True, required=True)
    viewer = fields.Nested(
        ViewerOut, allow_none=True, metadata={"description": "Session facts, requester only"}
    )
    credential = fields.Dict(
        metadata={"description": "One-time viewer credential, only in the call that issued it"}
    )


class FeedsOut(ma.Schema):
    items = fields.List(fields.Nested(FeedRequestOut), required=True)
    already_requested = fields.List(fields.Nested(FeedRequestOut))
    outside_activation = fields.List(
        fields.Integer(),
        metadata={
            "description": "With best: cameras ranked among the k best of an approach but"
            " passed over, standing outside the area of every activation in force"
        },
    )
    activation = fields.Dict(
        metadata={
            "description": "The legal basis the requests rest on (each item names its own"
            " activation_id: a camera's must cover the camera too)"
        }
    )


# --- helpers ----------------------------------------------------------------------------------


def feed_out(r: FeedRequest, viewer: dict[str, Any] | None) -> dict[str, Any]:
    """A feed request as the API answers it (``viewer``: the requester's session facts)."""
    out = {
        "id": r.id,
        "incident_id": r.incident_id,
        "camera_id": r.camera_id,
        "status": r.status,
        "reason": r.reason,
        "requester": {"id": r.requester_id, "name": r.requester_name},
        "routed_via": None
        if r.routed_via_id is None
        else {"id": r.routed_via_id, "name": r.routed_via_name},
        "owner": {"id": r.owner_id, "name": r.owner_name},
        "activation_id": r.activation_id,
        "legal_basis": r.basis,
        "created_at": r.created_at,
        "decided_at": r.decided_at,
    }
    if viewer is not None:
        out["viewer"] = viewer
    return out


def _provision_approved(conn: Any, requests: list[FeedRequest], *, actor: str) -> dict[int, Any]:
    """Hand approved requests to the feed lifecycle in the caller's transaction; offers by id.

    An offer holds the one-time viewer credential: only a requester's own call may show it.
    """
    state = app_state()
    offers = {}
    for request_id in [r.id for r in requests if r.status == "approved"]:
        offer = provision_request(
            conn, state.relay, request_id, settings=state.settings, actor=actor
        )
        if offer is not None:
            offers[request_id] = offer
    return offers


def _feeds_for(caller: Caller, requests: list[FeedRequest]) -> list[FeedRequest]:
    if caller.role == "municipal_centre":
        return [r for r in requests if r.owner_id == caller.organization_id]
    if caller.role == "regional_centre":
        return [r for r in requests if r.routed_via_id == caller.organization_id]
    return requests


def _listing(
    incident_id: int, caller: Caller, credentials: dict[int, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    with transaction() as conn:
        requests = _feeds_for(caller, store.list_requests(conn, incident_id=incident_id))
        sessions = (
            store.viewer_sessions(conn, [r.id for r in requests if r.status != "pending"])
            if caller.role == "requester"
            else {}
        )
    out = []
    for r in requests:
        item = feed_out(r, sessions.get(r.id))
        if credentials and r.id in credentials:
            item["credential"] = credentials[r.id]
        out.append(item)
    return out


# --- endpoints --------------------------------------------------------------------------------


@blp.route("/incidents/<int:incident_id>/feeds")
class IncidentFeeds(MethodView):
    @requires_roles(*READERS)
    @blp.response(200, FeedsOut)
    def get(self, incident_id: int) -> dict[str, Any]:
        """The incident's feed requests with their status (each centre sees its own)"""
        caller = current_caller()
        with transaction() as conn:
            incident = incident_store.get_incident(conn, incident_id)
            may_read(conn, caller, incident)
        return {"items": _listing(incident_id, caller)}

    @limit_refused_feed_requests
    @requires_roles("requester")
    @blp.arguments(FeedsIn)
    @blp.response(201, FeedsOut)
    def post(self, body: dict[str, Any], incident_id: int) -> tuple[dict[str, Any], int]:
        """Request feeds (camera_ids, or the best k per approach); needs an active legal basis"""
        caller = current_caller()
        try:
            with transaction() as conn:
                incident = incident_store.get_incident(conn, incident_id)
                require_own(caller, incident)
                require_open(incident)
                require_activation(conn, (incident.lon, incident.lat))
                approaches = incident_store.list_approaches(conn, incident_id)
                chosen = choose_cameras(conn, incident, approaches, body)
                by_activation: dict[int, list[camera_store.CameraRef]] = {}
                for camera in chosen.cameras:
                    rests_on = chosen.activation_of[camera.id]
                    by_activation.setdefault(rests_on.id, []).append(camera)
                created, existing = [], []
                for cameras in by_activation.values():
                    rests_on = chosen.activation_of[cameras[0].id]
                    made, before = store.create_requests(
                        conn,
                        incident_id=incident_id,
                        cameras=cameras,
                        requester_id=caller.organization_id,
                        activation_id=rests_on.id,
                        basis=rests_on.basis,
                        actor=caller.actor,
                    )
                    created.extend(made)
                    existing.extend(before)
                offers = _provision_approved(conn, created, actor=caller.actor)
                activation = chosen.activation_of[chosen.cameras[0].id]
        except NoLegalBasis as exc:
            with transaction() as conn:
                audit.append(
                    conn,
                    actor=caller.actor,
                    organization_id=caller.organization_id,
                    action="feed.refused",
                    subject_type="incident",
                    subject_id=incident_id,
                    details={
                        "reason": exc.message,
                        "request": body,
                        **{k: v for k, v in exc.details.items() if k == "refused_cameras"},
                    },
                )
            raise
        mine = {r.id for r in created}
        items = [i for i in _listing(incident_id, caller, offers) if i["id"] in mine]
        ko, en = domain.LEGAL_BASES[activation.basis]
        return {
            "items": items,
            "already_requested": [feed_out(r, None) for r in existing],
            "outside_activation": chosen.passed_over,
            "activation": {
                "id": activation.id,
                "basis": activation.basis,
                "basis_ko": ko,
                "basis_en": en,
                "reference": activation.reference,
                "ends_at": activation.effective_end.isoformat(),
            },
        }, 201


@blp.route("/feed-requests/<int:request_id>/credential")
class FeedCredential(MethodView):
    @requires_roles("requester")
    @blp.response(200, FeedRequestOut)
    def post(self, request_id: int) -> dict[str, Any]:
        """The viewer credential of an approved or live feed, for the requester (shown once)

        An approved request is provisioned now; a live one gets a fresh credential (the
        previous one stops working).
        """
        caller = current_caller()
        state = app_state()
        with transaction() as conn:
            current = store.get_request(conn, request_id)
            if current.requester_id != caller.organization_id:
                # Another requester's request: no more known to this caller than a missing one.
                raise store.request_not_found(request_id)
            offer = collect_credential(
                conn, state.relay, current, settings=state.settings, actor=caller.actor
            )
            updated = store.get_request(conn, request_id)
            sessions = store.viewer_sessions(conn, [request_id])
        out = feed_out(updated, sessions.get(request_id))
        out["credential"] = offer
        return out


def _decide(request_id: int, *, approve: bool, reason: str) -> dict[str, Any]:
    caller = current_caller()
    with transaction() as conn:
        audit.lock_chain(conn)  # before any row lock: see lock_chain
        current = store.get_request(conn, request_id)
        if current.owner_id != caller.organization_id:
            # A municipal centre sees only the requests addressed to it (see _feeds_for): any
            # other is answered as a missing one.
            raise store.request_not_found(request_id)
        decided = store.decide(
            conn,
            request_id,
            approve=approve,
            key_id=caller.key_id,
            organization_id=caller.organization_id,
            actor=caller.actor,
            reason=reason,
        )
        if approve:
            # Provisioned now; the offer is the requester's, never the approving centre's:
            # the requester takes its credential with POST /v1/feed-requests/{id}/credential.
            _provision_approved(conn, [decided], actor=caller.actor)
            decided = store.get_request(conn, request_id)
    return feed_out(decided, None)


@blp.route("/feed-requests/<int:request_id>/approve")
class ApproveFeed(MethodView):
    @requires_roles("municipal_centre")
    @blp.arguments(DecisionIn, required=False)
    @blp.response(200, FeedRequestOut)
    def post(self, body: dict[str, Any], request_id: int) -> dict[str, Any]:
        """Approve a pending request for one of this centre's cameras"""
        return _decide(request_id, approve=True, reason=body.get("reason", ""))


@blp.route("/feed-requests/<int:request_id>/deny")
class DenyFeed(MethodView):
    @requires_roles("municipal_centre")
    @blp.arguments(DecisionIn, required=False)
    @blp.response(200, FeedRequestOut)
    def post(self, body: dict[str, Any], request_id: int) -> dict[str, Any]:
        """Deny a pending request for one of this centre's cameras"""
        return _decide(request_id, approve=False, reason=body.get("reason", ""))
