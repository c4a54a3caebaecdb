"""Incidents, their feed requests and traffic-control points; the owning centres' decisions.

Who may do what:

- **raise** (``POST /v1/incidents``), **request feeds**, **collect viewer credentials**:
  ``requester`` keys, for their own organization's incidents.
- **close**: the requester organization, or ``admin``.
- **read** an incident, its feeds and its control points: the requester organization; the
  centres it involves — the owners of the cameras on its record or asked for, and the regional
  centres that route to them (a municipal centre sees only the requests addressed to it, a
  regional centre those routed through it); ``admin`` and ``auditor``. Planners do not.
- **approve / deny** a feed request: the ``municipal_centre`` that owns the camera, only.

An incident or a feed request the caller may not see is answered exactly as one that does not
exist (404, the same body): a wrong role is refused with 403 before any lookup, but no answer
tells another organization's incident or request apart from a missing one.

Feeds need a legal basis: an activation in force *now* whose area covers the incident point
(:func:`geo.store.activations.require_activation`) **and the camera's position**
(:func:`geo.store.activations.activations_for_cameras`): a wide cordon reaches cameras beyond
the activation's area, and those may not be requested. Otherwise 403 ``no_legal_basis`` (for
cameras outside, ``details.refused_cameras`` names each and why), and the refusal is audited.
With ``best``, the k best cameras of each approach are chosen among those inside. Routing
and auto-approval are :mod:`geo.store.feed_requests`'s.

Approved requests are handed to provisioning (:func:`api.provisioning.provision_request`) in
the transaction that approves them. A viewer credential is shown once, and only to the
requester: in the response of ``POST …/feeds`` for auto-approved feeds; after a manual
approval (whose response, the centre's, never holds it) or a provisioning by the worker, with
``POST /v1/feed-requests/{id}/credential``. With no relay configured, approved requests wait
as approved with the reason "relay not configured".
"""

from __future__ import annotations

import csv
import importlib
import io
import logging
import math
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar

import marshmallow as ma
from flask import Response, request, url_for
from flask.views import MethodView
from marshmallow import fields, validate

from api.activations import OrgRef
from api.auth import current_caller, requires_roles
from api.context import app_state, transaction
from api.rate_limits import limit_refused_feed_requests
from api.schemas import INT64_MAX, Blueprint, Integer, Text, only_one_of
from api.spatial import (
    CORDON_RULES,
    CordonQuery,
    FeatureCollectionOut,
    answer_at,
    latitude,
    longitude,
)
from geo import domain
from geo.errors import CameraOutsideActivation, Conflict, InvalidInput, NoLegalBasis
from geo.store import activations as activation_store
from geo.store import audit
from geo.store import cameras as camera_store
from geo.store import feed_requests as store
from geo.store import incidents as incident_store
from geo.store.activations import Activation, require_activation
from geo.store.feed_requests import FeedRequest
from geo.store.incidents import ApproachRecord, Incident
from geo.store.orgs import Caller

log = logging.getLogger("gilmok.api")

READERS = ("requester", "regional_centre", "municipal_centre", "admin", "auditor")
MAX_CAMERAS_PER_CALL = 100
MAX_BEST = 5
RELAY_NOT_CONFIGURED = "relay not configured"

blp = Blueprint(
    "incidents",
    __name__,
    url_prefix="/v1",
    description="Incidents raised by situation rooms, their feed requests routed to the owning"
    " centres, and the traffic-control points of their cordons",
)


# --- schemas ----------------------------------------------------------------------------------

GEOJSON_POINT = {
    "type": "object",
    "required": ["type", "coordinates"],
    "properties": {
        "type": {"type": "string", "enum": ["Point"]},
        "coordinates": {
            "type": "array",
            "items": {"type": "number"},
            "minItems": 2,
            "maxItems": 2,
        },
    },
}


class GeoJSONPoint(fields.Field):
    """A GeoJSON Point ``{"type": "Point", "coordinates": [lon, lat]}``, loaded as (lon, lat)."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {**GEOJSON_POINT, "description": "GeoJSON Point, [lon, lat]",
                    **kwargs.pop("metadata", {})}  # fmt: skip
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:  # noqa: ARG002
        if not isinstance(value, dict) or value.get("type") != "Point":
            raise ma.ValidationError('must be a GeoJSON Point: {"type": "Point", "coordinates"}')
        coords = value.get("coordinates")
        if (
            not isinstance(coords, list)
            or len(coords) != 2
            or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in coords)
        ):
            raise ma.ValidationError("coordinates must be [longitude, latitude]")
        lon, lat = float(coords[0]), float(coords[1])
        if not (math.isfinite(lon) and math.isfinite(lat)
                and -180 <= lon <= 180 and -90 <= lat <= 90):  # fmt: skip
            raise ma.ValidationError("coordinates must be [longitude, latitude] in degrees")
        return (lon, lat)


class IncidentIn(CordonQuery):
    OPENAPI_RULES: ClassVar[dict[str, Any]] = {
        "allOf": [*CORDON_RULES, only_one_of(["location"], ["lon", "lat"])]
    }

    location = GeoJSONPoint(metadata={"description": "The incident point (or give lon and lat)"})
    lon = longitude()
    lat = latitude()
    note = Text(load_default="", max_length=2000, metadata={"description": "Free text"})

    @ma.validates_schema
    def _one_location(self, data: dict[str, Any], **_: Any) -> None:
        has_point = "location" in data
        has_lonlat = "lon" in data or "lat" in data
        if has_point == has_lonlat:
            raise ma.ValidationError(
                "give the incident point as location (GeoJSON Point) or as lon and lat",
                field_name="location",
            )
        if has_lonlat and not ("lon" in data and "lat" in data):
            raise ma.ValidationError("give both lon and lat", field_name="lon")


class CloseIn(ma.Schema):
    reason = Text(load_default="", max_length=500)


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


class IncidentOut(ma.Schema):
    id = fields.Integer(required=True)
    requester = fields.Nested(OrgRef, required=True)
    location = fields.Dict(required=True, metadata=GEOJSON_POINT)
    radius_m = fields.Float(required=True)
    mode = fields.String(required=True)
    direction = fields.String(required=True)
    travel = fields.String(required=True)
    level = fields.String(required=True)
    note = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(domain.INCIDENT_STATUSES))
    incomplete = fields.Boolean(required=True)
    created_at = fields.AwareDateTime(required=True)
    closed_at = fields.AwareDateTime(allow_none=True, required=True)
    approaches = fields.Nested(FeatureCollectionOut, required=True)
    answer = fields.Nested(
        FeatureCollectionOut,
        metadata={"description": "The full answer (cordon, stretches), when just raised"},
    )


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


def _incident_out(incident: Incident, approaches: list[ApproachRecord]) -> dict[str, Any]:
    return {
        "id": incident.id,
        "requester": {"id": incident.requester_id, "name": incident.requester_name},
        "location": {
            "type": "Point",
            "coordinates": [round(incident.lon, 7), round(incident.lat, 7)],
        },
        "radius_m": incident.radius_m,
        "mode": incident.mode,
        "direction": incident.direction,
        "travel": incident.travel,
        "level": incident.level,
        "note": incident.note,
        "status": incident.status,
        "incomplete": incident.incomplete,
        "created_at": incident.created_at,
        "closed_at": incident.closed_at,
        "approaches": _approaches_geojson(approaches),
    }


def _approach_props(a: ApproachRecord) -> dict[str, Any]:
    return {
        "id": a.label,
        "direction": a.direction,
        "road_name": a.road_name,
        "highway": a.highway,
        "main": a.is_main,
        "bearing_deg": a.bearing_deg,
        "inbound_bearing_deg": a.inbound_bearing_deg,
        "blind": a.blind,
        "cameras": a.cameras,
    }


def _approaches_geojson(approaches: list[ApproachRecord]) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(a.lon, 7), round(a.lat, 7)]},
                "properties": _approach_props(a),
            }
            for a in approaches
        ],
    }


def _feed_out(r: FeedRequest, viewer: dict[str, Any] | None) -> dict[str, Any]:
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


def _may_read(conn: Any, caller: Caller, incident: Incident) -> None:
    """Whether ``caller`` may see ``incident`` at all; if not, it does not exist for them.

    An incident that is not the caller's, nor routed through or addressed to it, is answered
    exactly as an id that does not exist (404, the same body), so that no organization learns
    of another's incidents by probing ids.
    """
    if caller.role in ("admin", "auditor") or caller.organization_id == incident.requester_id:
        return
    if caller.role != "requester" and caller.organization_id in (
        incident_store.involved_organizations(conn, incident.id)
    ):
        return
    raise incident_store.incident_not_found(incident.id)


def _own(caller: Caller, incident: Incident) -> None:
    """Only the requester organization acts on its incident. The roles that may call these
    endpoints (requester, and admin for closing, who skips this) see no other organization's
    incident, so another's is answered as a missing one, as :func:`_may_read` does."""
    if caller.organization_id != incident.requester_id:
        raise incident_store.incident_not_found(incident.id)


def _open(incident: Incident) -> None:
    if incident.status != "open":
        raise Conflict(
            f"incident {incident.id} is closed: no more feeds for it",
            details={"id": incident.id, "status": incident.status},
        )


def _provisioning() -> ModuleType | None:
    """``api.provisioning`` once it is installed (issue 6), else None."""
    try:
        return importlib.import_module("api.provisioning")
    except ModuleNotFoundError as exc:
        if exc.name == "api.provisioning":
            return None
        raise


def _provision_approved(conn: Any, requests: list[FeedRequest], *, actor: str) -> dict[int, Any]:
    """Hand approved requests to provisioning in the caller's transaction; offers by id.

    An offer holds the one-time viewer credential: only a requester's own call may show it.
    """
    approved = [r.id for r in requests if r.status == "approved"]
    module = _provisioning()
    if module is None:
        store.set_reason(conn, approved, RELAY_NOT_CONFIGURED)
        return {}
    state = app_state()
    offers = {}
    for request_id in approved:
        offer = module.provision_request(
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
        item = _feed_out(r, sessions.get(r.id))
        if credentials and r.id in credentials:
            item["credential"] = credentials[r.id]
        out.append(item)
    return out


@dataclass(frozen=True)
class _Chosen:
    """The cameras a feeds call asks for, each with the activation its video rests on."""

    cameras: list[camera_store.CameraRef]
    activation_of: dict[int, Activation]
    #: with ``best``: cameras ranked high enough but standing outside every activation's area
    passed_over: list[int]


def _refuse_outside(incident: Incident, refused: list[camera_store.CameraRef]) -> None:
    """Refuse cameras standing outside the area of every activation in force over the incident."""
    shown = ", ".join(str(c.id) for c in refused[:10]) + (", …" if len(refused) > 10 else "")
    raise CameraOutsideActivation(
        f"camera(s) {shown} stand outside the area of every activation in force that covers"
        f" incident {incident.id}: a camera's video may be provided only when the camera's"
        " position lies inside the activation's area",
        details={
            "reason": "camera_outside_activation_area",
            "refused_cameras": [
                {
                    "camera_id": c.id,
                    "location": [round(c.lon, 7), round(c.lat, 7)],
                    "reason": "outside the activation's area",
                }
                for c in refused
            ],
        },
    )


def _chosen_cameras(
    conn: Any, incident: Incident, approaches: list[ApproachRecord], body: dict[str, Any]
) -> _Chosen:
    """The cameras asked for, checked: they exist, are in service, belong to the incident, and
    stand inside the area of an activation in force that covers the incident.

    With ``best``, the k best online cameras of each approach among those that may be
    requested (inside an activation's area); with ``camera_ids``, a camera outside is refused.
    """
    on_record = {c["camera_id"] for a in approaches for c in a.cameras}
    point = (incident.lon, incident.lat)
    passed_over: list[int] = []
    if "best" in body:
        ranked = [
            [c["camera_id"] for c in sorted(a.cameras, key=lambda c: c["rank"]) if c["online"]]
            for a in approaches
        ]
        candidates = list(dict.fromkeys(i for online in ranked for i in online))
        if not candidates:
            raise InvalidInput(
                f"no online camera watches any approach of incident {incident.id}: every"
                " approach is blind",
                details={"id": incident.id},
            )
        legal = activation_store.activations_for_cameras(conn, point, candidates)
        ids: list[int] = []
        for online in ranked:
            ids.extend([i for i in online if i in legal][: body["best"]])
            passed_over.extend(i for i in online[: body["best"]] if i not in legal)
        ids = list(dict.fromkeys(ids))
        passed_over = list(dict.fromkeys(passed_over))
        if not ids:
            found = camera_store.cameras_by_id(conn, candidates)
            _refuse_outside(incident, [found[i] for i in candidates if i in found])
        picked = camera_store.cameras_by_id(conn, ids)
        return _Chosen([picked[i] for i in ids], legal, passed_over)
    ids = list(dict.fromkeys(body["camera_ids"]))
    found = camera_store.cameras_by_id(conn, ids)
    unknown = [i for i in ids if i not in found]
    if unknown:
        raise InvalidInput(
            f"no camera has the id(s) {', '.join(map(str, unknown[:10]))}",
            details={"unknown_camera_ids": unknown},
        )
    retired = [i for i in ids if found[i].status == "retired"]
    if retired:
        raise InvalidInput(
            f"camera(s) {', '.join(map(str, retired[:10]))} are retired",
            details={"retired_camera_ids": retired},
        )
    near = camera_store.cameras_near(
        conn, [i for i in ids if i not in on_record], incident.lon, incident.lat, incident.radius_m
    )
    unrelated = [i for i in ids if i not in on_record and i not in near]
    if unrelated:
        raise InvalidInput(
            f"camera(s) {', '.join(map(str, unrelated[:10]))} neither watch an approach of"
            f" incident {incident.id} nor lie within its {incident.radius_m:.0f} m",
            details={"unrelated_camera_ids": unrelated},
        )
    legal = activation_store.activations_for_cameras(conn, point, ids)
    outside = [found[i] for i in ids if i not in legal]
    if outside:
        _refuse_outside(incident, outside)
    return _Chosen([found[i] for i in ids], legal, [])


# --- endpoints --------------------------------------------------------------------------------


@blp.route("/incidents")
class Incidents(MethodView):
    @requires_roles("requester")
    @blp.arguments(IncidentIn)
    @blp.response(201, IncidentOut)
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Raise an incident: its approaches and watching cameras are computed and recorded"""
        caller = current_caller()
        lon, lat = body.get("location") or (body["lon"], body["lat"])
        x0, y0, x1, y1 = app_state().settings.country_bounds
        if not (x0 <= lon <= x1 and y0 <= lat <= y1):
            raise InvalidInput(
                f"({lon:.6f}, {lat:.6f}) is outside the country's bounds",
                details={"location": [lon, lat]},
            )
        answer = answer_at(lon, lat, body["cordon"], level=body["level"])
        with transaction() as conn:
            incident = incident_store.create_incident(
                conn,
                requester_id=caller.organization_id,
                location=(lon, lat),
                answer=answer,
                note=body["note"],
                actor=caller.actor,
            )
            approaches = incident_store.list_approaches(conn, incident.id)
        out = _incident_out(incident, approaches)
        out["answer"] = answer.to_geojson()
        location = url_for("incidents.IncidentById", incident_id=incident.id)
        return out, 201, {"Location": location}


@blp.route("/incidents/<int:incident_id>")
class IncidentById(MethodView):
    @requires_roles(*READERS)
    @blp.response(200, IncidentOut)
    def get(self, incident_id: int) -> dict[str, Any]:
        """An incident with its approaches and cameras on record"""
        with transaction() as conn:
            incident = incident_store.get_incident(conn, incident_id)
            _may_read(conn, current_caller(), incident)
            approaches = incident_store.list_approaches(conn, incident_id)
        return _incident_out(incident, approaches)


@blp.route("/incidents/<int:incident_id>/close")
class CloseIncident(MethodView):
    @requires_roles("requester", "admin")
    @blp.arguments(CloseIn, required=False)
    @blp.response(200, IncidentOut)
    def post(self, body: dict[str, Any], incident_id: int) -> dict[str, Any]:
        """Close an incident: its feeds are revoked (the requester organization, or admin)"""
        caller = current_caller()
        reason = body.get("reason") or "incident closed"
        state = app_state()
        module = _provisioning()
        with transaction() as conn:
            audit.lock_chain(conn)  # before any row lock: see lock_chain
            incident = incident_store.get_incident(conn, incident_id)
            if caller.role != "admin":
                _own(caller, incident)
            incident = incident_store.close_incident(
                conn,
                incident_id,
                actor=caller.actor,
                organization_id=caller.organization_id,
                reason=reason,
            )
            if module is not None:
                module.revoke_for(
                    conn,
                    state.relay,
                    incident_id=incident_id,
                    reason=f"incident closed: {reason}",
                    actor=caller.actor,
                )
            else:
                store.revoke_unprovisioned(
                    conn,
                    incident_id=incident_id,
                    reason=f"incident closed: {reason}",
                    actor=caller.actor,
                    organization_id=caller.organization_id,
                )
            approaches = incident_store.list_approaches(conn, incident_id)
        return _incident_out(incident, approaches)


@blp.route("/incidents/<int:incident_id>/feeds")
class IncidentFeeds(MethodView):
    @requires_roles(*READERS)
    @blp.response(200, FeedsOut)
    def get(self, incident_id: int) -> dict[str, Any]:
        """The incident's feed requests with their status (each centre sees its own)"""
        caller = current_caller()
        with transaction() as conn:
            incident = incident_store.get_incident(conn, incident_id)
            _may_read(conn, caller, incident)
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
                _own(caller, incident)
                _open(incident)
                require_activation(conn, (incident.lon, incident.lat))
                approaches = incident_store.list_approaches(conn, incident_id)
                chosen = _chosen_cameras(conn, incident, approaches, body)
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
            "already_requested": [_feed_out(r, None) for r in existing],
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
        module = _provisioning()
        with transaction() as conn:
            current = store.get_request(conn, request_id)
            if current.requester_id != caller.organization_id:
                # Another requester's request: no more known to this caller than a missing one.
                raise store.request_not_found(request_id)
            if current.status not in ("approved", "provisioned"):
                raise Conflict(
                    f"feed request {request_id} is {current.status}: it has no feed to view",
                    details={"id": request_id, "status": current.status},
                )
            offer = None
            if module is not None and current.status == "approved":
                offer = _provision_approved(conn, [current], actor=caller.actor).get(request_id)
            elif module is not None and state.relay is not None:
                offer = module.issue_credential(conn, state.relay, request_id, actor=caller.actor)
            updated = store.get_request(conn, request_id)
            if offer is None:
                raise Conflict(
                    f"feed request {request_id} cannot be viewed yet: {updated.reason}",
                    details={"id": request_id, "status": updated.status},
                )
            sessions = store.viewer_sessions(conn, [request_id])
        out = _feed_out(updated, sessions.get(request_id))
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
    return _feed_out(decided, None)


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


# --- traffic-control points -------------------------------------------------------------------

CSV_COLUMNS = (
    "id",
    "direction",
    "main",
    "road_name",
    "highway",
    "inbound_bearing_deg",
    "lon",
    "lat",
    "blind",
    "cameras",
)


#: The answer in the OpenAPI document: GeoJSON, or CSV (a header line, then a line per point).
CONTROL_POINTS_200 = {
    "description": "OK",
    "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/FeatureCollectionOut"}},
        "text/csv": {
            "schema": {
                "type": "string",
                "description": ",".join(CSV_COLUMNS) + ", then a line per point",
            }
        },
    },
}


def _control_points(approaches: list[ApproachRecord]) -> list[ApproachRecord]:
    return sorted(approaches, key=lambda a: (not a.is_main, a.seq))


def _wants_csv() -> bool:
    fmt = request.args.get("format")
    if fmt is not None:
        return fmt == "csv"
    best = request.accept_mimetypes.best_match(["application/geo+json", "application/json",
                                                "text/csv"])  # fmt: skip
    return best == "text/csv"


class ControlPointsQuery(ma.Schema):
    format = fields.String(
        validate=validate.OneOf(["geojson", "csv"]),
        metadata={"description": "geojson (default) or csv; or send Accept: text/csv"},
    )


@blp.route("/incidents/<int:incident_id>/control-points")
class ControlPoints(MethodView):
    @requires_roles(*READERS)
    @blp.arguments(ControlPointsQuery, location="query", unknown=ma.RAISE)
    @blp.response(200, FeatureCollectionOut)
    @blp.doc(responses={"200": CONTROL_POINTS_200})
    def get(self, args: dict[str, Any], incident_id: int) -> Any:  # noqa: ARG002
        """Traffic-control points: approaches, main first, with watching cameras (GeoJSON or CSV)

        CSV with `?format=csv` or `Accept: text/csv`: id, direction, main, road_name, highway,
        inbound_bearing_deg, lon, lat, blind, cameras (online watchers, best first).
        """
        with transaction() as conn:
            incident = incident_store.get_incident(conn, incident_id)
            _may_read(conn, current_caller(), incident)
            points = _control_points(incident_store.list_approaches(conn, incident_id))
        if _wants_csv():
            buf = io.StringIO()
            writer = csv.writer(buf)
            writer.writerow(CSV_COLUMNS)
            for a in points:
                online = [c for c in a.cameras if c["online"]]
                writer.writerow(
                    [
                        a.label,
                        a.direction,
                        "yes" if a.is_main else "",
                        a.road_name,
                        a.highway,
                        a.inbound_bearing_deg,
                        f"{a.lon:.7f}",
                        f"{a.lat:.7f}",
                        "yes" if a.blind else "",
                        " ".join(str(c["camera_id"]) for c in online),
                    ]
                )
            name = f"incident-{incident_id}-control-points.csv"
            return Response(
                buf.getvalue(),
                mimetype="text/csv",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        return _approaches_geojson(points)
