"""Incidents raised by situation rooms: raise, read, close; who may see one.

Who may do what:

- **raise** (``POST /v1/incidents``): ``requester`` keys, for their own organization.
- **close**: the requester organization, or ``admin``; closing revokes the incident's feeds in
  the same transaction (:func:`api.feeds.revoke.revoke_for`).
- **list** (``GET /v1/incidents``): the incidents the caller may read, by the same rule.
- **read** an incident, its feeds and its control points: the requester organization; the
  centres it involves — the owners of the cameras on its record or asked for, and the regional
  centres that route to them; ``admin`` and ``auditor``. Planners do not.

An incident the caller may not see is answered exactly as one that does not exist (404, the
same body): a wrong role is refused with 403 before any lookup, but no answer tells another
organization's incident apart from a missing one (:func:`may_read`, :func:`require_own`, used by
:mod:`api.feed_requests` and :mod:`api.control_points` too).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import marshmallow as ma
from flask import url_for
from flask.views import MethodView
from marshmallow import fields, validate

from api.activations import OrgRef
from api.auth import current_caller, requires_roles
from api.context import app_state, transaction
from api.feeds.revoke import revoke_for
from api.schemas import Blueprint, PageArgs, Text, only_one_of
from api.spatial import (
    CORDON_RULES,
    CordonQuery,
    FeatureCollectionOut,
    answer_at,
    latitude,
    longitude,
)
from geo import domain
from geo.errors import Conflict, InvalidInput
from geo.store import audit
from geo.store import incidents as incident_store
from geo.store.incidents import ApproachRecord, Incident
from geo.store.orgs import Caller

#: Roles that may read an incident (each sees only what involves its organization).
READERS = ("requester", "regional_centre", "municipal_centre", "admin", "auditor")

blp = Blueprint(
    "incidents",
    __name__,
    url_prefix="/v1",
    description="Incidents raised by situation rooms, with the approaches of their cordons and"
    " the cameras watching them on record",
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


class IncidentListQuery(PageArgs):
    state = fields.String(
        validate=validate.OneOf(domain.INCIDENT_STATUSES),
        metadata={"description": "Only incidents in this state (default: any)"},
    )


class IncidentListItem(ma.Schema):
    """An incident as ``GET /v1/incidents/{id}`` answers it, without its approaches (fetch the
    incident for them): their number and how many are blind instead."""

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
    approach_count = fields.Integer(required=True)
    blind_count = fields.Integer(required=True)


class IncidentPage(ma.Schema):
    items = fields.List(fields.Nested(IncidentListItem), required=True)
    next_after_id = fields.Integer(
        allow_none=True, required=True, metadata={"description": "after_id of the next page"}
    )


# --- helpers ----------------------------------------------------------------------------------


def incident_out(incident: Incident, approaches: list[ApproachRecord] | None) -> dict[str, Any]:
    out = {
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
    }
    if approaches is not None:
        out["approaches"] = approaches_geojson(approaches)
    return out


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


def approaches_geojson(approaches: list[ApproachRecord]) -> dict[str, Any]:
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


def may_read(conn: Any, caller: Caller, incident: Incident) -> None:
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


def require_own(caller: Caller, incident: Incident) -> None:
    """Only the requester organization acts on its incident. The roles that may call these
    endpoints (requester, and admin for closing, who skips this) see no other organization's
    incident, so another's is answered as a missing one, as :func:`may_read` does."""
    if caller.organization_id != incident.requester_id:
        raise incident_store.incident_not_found(incident.id)


def require_open(incident: Incident) -> None:
    if incident.status != "open":
        raise Conflict(
            f"incident {incident.id} is closed: no more feeds for it",
            details={"id": incident.id, "status": incident.status},
        )


# --- endpoints --------------------------------------------------------------------------------


@blp.route("/incidents")
class Incidents(MethodView):
    @requires_roles(*READERS)
    @blp.arguments(IncidentListQuery, location="query", unknown=ma.RAISE)
    @blp.response(200, IncidentPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Incidents the caller may read, oldest first: its own, or (a centre) those involving it

        The same incidents ``GET /v1/incidents/{id}`` shows the caller: a requester its own
        organization's; a centre those with requests for, or cameras on record of, it or a
        centre below it; admin and auditor all.
        """
        caller = current_caller()
        everyone = caller.role in ("admin", "auditor")
        centre = caller.role in ("regional_centre", "municipal_centre")
        with transaction() as conn:
            found = incident_store.list_visible(
                conn,
                everyone=everyone,
                requester_id=caller.organization_id,
                centre_id=caller.organization_id if centre else None,
                state=args.get("state"),
                after_id=args.get("after_id") or 0,
                limit=args["limit"],
            )
        items = []
        for summary in found:
            item = incident_out(summary.incident, None)
            item["approach_count"] = summary.approach_count
            item["blind_count"] = summary.blind_count
            items.append(item)
        last = found[-1].incident.id if len(found) == args["limit"] else None
        return {"items": items, "next_after_id": last}

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
        out = incident_out(incident, approaches)
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
            may_read(conn, current_caller(), incident)
            approaches = incident_store.list_approaches(conn, incident_id)
        return incident_out(incident, approaches)


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
        with transaction() as conn:
            audit.lock_chain(conn)  # before any row lock: see lock_chain
            incident = incident_store.get_incident(conn, incident_id)
            if caller.role != "admin":
                require_own(caller, incident)
            incident = incident_store.close_incident(
                conn,
                incident_id,
                actor=caller.actor,
                organization_id=caller.organization_id,
                reason=reason,
            )
            revoke_for(
                conn,
                state.relay,
                incident_id=incident_id,
                reason=f"incident closed: {reason}",
                actor=caller.actor,
            )
            approaches = incident_store.list_approaches(conn, incident_id)
        return incident_out(incident, approaches)
