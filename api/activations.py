"""``/v1/activations``: the legal bases in force, each for an area and a period.

Who may do what:

- **create** (``POST``): ``admin``, and ``regional_centre`` keys — the 광역 integrated centre
  records the basis declared by the competent authority (its reference number cites the
  declaration); the issuer is the caller's organization. A centre may only cover ground inside
  its service area, and one without a service area may not issue at all (403, saying to set
  one: ``gilmok orgs service-area`` or ``PUT /v1/organizations/{id}/service-area``). An admin
  organization without a service area is the operator and is not bounded.
- **end** (``POST …/end``): ``admin`` any activation; ``regional_centre`` only its own
  organization's. Ending revokes, in the same request and transaction, every feed the
  activation is the basis of: live sessions' relay streams are destroyed before the answer,
  and pending or approved requests are revoked (:func:`api.feeds.revoke.revoke_for`, as closing
  an incident does). An activation whose end time simply passes is ended by the expiry loop
  that ``gilmok serve`` runs (:mod:`api.feeds.loop`).
- **read** (``GET``): every role but ``planner``: requesters and centres need to know whether a
  basis covers an incident; planners work on coverage, not on operations.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

import marshmallow as ma
from flask import url_for
from flask.views import MethodView
from marshmallow import fields, validate

from api.auth import current_caller, requires_roles
from api.context import app_state, transaction
from api.feeds.revoke import revoke_for
from api.schemas import (
    GEOJSON_MULTIPOLYGON,
    Blueprint,
    GeoJSONArea,
    Id,
    PageArgs,
    Text,
    next_after_id,
    only_one_of,
)
from geo import domain
from geo.admin_areas import area_of_codes
from geo.errors import Forbidden
from geo.store import activations as store
from geo.store import audit
from geo.store.activations import Activation

ISSUERS = ("admin", "regional_centre")
READERS = ("admin", "auditor", "regional_centre", "municipal_centre", "requester")
STATES = ("scheduled", "active", "ended", "expired")

blp = Blueprint(
    "activations",
    __name__,
    url_prefix="/v1/activations",
    description="Legal bases in force: without an active activation covering an incident, no"
    " video is provided",
)


#: A 시군구 (5 digits) or 읍면동 (8-digit 법정동) code.
AREA_CODE = r"^([0-9]{5}|[0-9]{8})$"


class ActivationIn(ma.Schema):
    #: The area drawn, or named by administrative codes; not both.
    OPENAPI_RULES: ClassVar[dict[str, Any]] = only_one_of(["area"], ["areas"])

    basis = fields.String(
        required=True,
        validate=validate.OneOf(list(domain.LEGAL_BASES)),
        metadata={"description": "One of the nine legal bases of the 2020 MOU"},
    )
    reference = Text(
        required=True,
        min_length=1,
        max_length=200,
        metadata={"description": "Reference number of the declaration or order"},
    )
    area = GeoJSONArea()
    areas = fields.List(
        fields.String(
            validate=validate.Regexp(AREA_CODE, error="a 5-digit 시군구 or 8-digit 읍면동 code"),
            metadata={"pattern": AREA_CODE},
        ),
        validate=validate.Length(min=1, max=300),
        metadata={
            "description": "Instead of area: 시군구 (11110) or 읍면동 (11110119) codes of NGII's"
            " boundaries (base date 2023-09-15); the area is their union. A code naming no unit"
            " is 422 with details.area naming it"
        },
    )
    starts_at = fields.AwareDateTime(
        required=True, metadata={"description": "ISO 8601 with a time zone"}
    )
    ends_at = fields.AwareDateTime(
        required=True, metadata={"description": "ISO 8601 with a time zone, after starts_at"}
    )

    @ma.validates_schema
    def _one_area(self, data: dict[str, Any], **_: Any) -> None:
        if ("area" in data) == ("areas" in data):
            raise ma.ValidationError(
                "give the area one way: area (GeoJSON) or areas (codes)", field_name="area"
            )

    @ma.validates_schema
    def _end_after_start(self, data: dict[str, Any], **_: Any) -> None:
        if "starts_at" in data and "ends_at" in data and data["ends_at"] <= data["starts_at"]:
            raise ma.ValidationError("must be after starts_at", field_name="ends_at")


class EndIn(ma.Schema):
    reason = Text(load_default="", max_length=500, metadata={"description": "Why it ends early"})


class BasisOut(ma.Schema):
    code = fields.String(required=True)
    ko = fields.String(required=True)
    en = fields.String(required=True)


class OrgRef(ma.Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class ActivationOut(ma.Schema):
    id = fields.Integer(required=True)
    basis = fields.Nested(BasisOut, required=True)
    reference = fields.String(required=True)
    issuer = fields.Nested(OrgRef, required=True)
    area = fields.Dict(required=True, metadata=GEOJSON_MULTIPOLYGON)
    starts_at = fields.AwareDateTime(required=True)
    ends_at = fields.AwareDateTime(required=True)
    ended_at = fields.AwareDateTime(allow_none=True, required=True)
    state = fields.String(required=True, validate=validate.OneOf(STATES))
    created_at = fields.AwareDateTime(required=True)


class ActivationQuery(PageArgs):
    state = fields.String(
        load_default="all",
        validate=validate.OneOf(["all", *STATES]),
        metadata={"description": "Only activations in this state at `at`"},
    )
    at = fields.AwareDateTime(metadata={"description": "Instant the state refers to (now)"})
    issuer_id = Id()


class ActivationPage(ma.Schema):
    items = fields.List(fields.Nested(ActivationOut), required=True)
    next_after_id = fields.Integer(
        allow_none=True, required=True, metadata={"description": "after_id of the next page"}
    )


def _out(activation: Activation, at: dt.datetime) -> dict[str, Any]:
    ko, en = domain.LEGAL_BASES[activation.basis]
    return {
        "id": activation.id,
        "basis": {"code": activation.basis, "ko": ko, "en": en},
        "reference": activation.reference,
        "issuer": {"id": activation.issuer_id, "name": activation.issuer_name},
        "area": activation.area,
        "starts_at": activation.starts_at,
        "ends_at": activation.ends_at,
        "ended_at": activation.ended_at,
        "state": activation.state(at),
        "created_at": activation.created_at,
    }


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@blp.route("")
class Activations(MethodView):
    @requires_roles(*READERS)
    @blp.arguments(ActivationQuery, location="query", unknown=ma.RAISE)
    @blp.response(200, ActivationPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List activations, oldest first, optionally by state"""
        at = args.get("at") or _now()
        with transaction() as conn:
            items = store.list_activations(
                conn,
                state=args["state"],
                at=at,
                issuer_id=args.get("issuer_id"),
                after_id=args.get("after_id"),
                limit=args["limit"],
            )
        return {
            "items": [_out(a, at) for a in items],
            "next_after_id": next_after_id(items, args["limit"]),
        }

    @requires_roles(*ISSUERS)
    @blp.arguments(ActivationIn)
    @blp.response(201, ActivationOut)
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Record a legal basis in force for an area and a period (admin, regional centre)

        The area is drawn (`area`, GeoJSON) or named (`areas`: 시군구 and 읍면동 codes, their
        union); either way it must lie inside the issuer's service area.
        """
        caller = current_caller()
        codes = body.get("areas")
        area = body["area"] if codes is None else area_of_codes(codes).area
        with transaction() as conn:
            activation = store.create_activation(
                conn,
                basis=body["basis"],
                reference=body["reference"],
                area=area,
                area_codes=codes or (),
                starts_at=body["starts_at"],
                ends_at=body["ends_at"],
                issuer_id=caller.organization_id,
                actor=caller.actor,
            )
        location = url_for("activations.ActivationById", activation_id=activation.id)
        return _out(activation, _now()), 201, {"Location": location}


@blp.route("/<int:activation_id>")
class ActivationById(MethodView):
    @requires_roles(*READERS)
    @blp.response(200, ActivationOut)
    def get(self, activation_id: int) -> dict[str, Any]:
        """One activation"""
        with transaction() as conn:
            activation = store.get_activation(conn, activation_id)
        return _out(activation, _now())


@blp.route("/<int:activation_id>/end")
class EndActivation(MethodView):
    @requires_roles(*ISSUERS)
    @blp.arguments(EndIn, required=False)
    @blp.response(200, ActivationOut)
    def post(self, body: dict[str, Any], activation_id: int) -> dict[str, Any]:
        """End an activation now; its feeds are revoked (admin: any; regional centre: its own)"""
        caller = current_caller()
        reason = body.get("reason", "")
        with transaction() as conn:
            audit.lock_chain(conn)  # before any row lock: see lock_chain
            current = store.get_activation(conn, activation_id)
            if caller.role != "admin" and current.issuer_id != caller.organization_id:
                raise Forbidden(
                    f"activation {activation_id} was issued by {current.issuer_name}; only its"
                    " issuer or an admin may end it",
                    details={"id": activation_id, "issuer_id": current.issuer_id},
                )
            activation = store.end_activation(
                conn,
                activation_id,
                actor=caller.actor,
                organization_id=caller.organization_id,
                reason=reason,
            )
            revoke_for(
                conn,
                app_state().relay,
                activation_id=activation_id,
                reason="activation (legal basis) ended" + (f": {reason}" if reason else ""),
                actor=caller.actor,
            )
        return _out(activation, _now())
