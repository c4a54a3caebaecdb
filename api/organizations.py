"""``/v1/organizations/{id}/service-area``: the ground a centre serves and may activate for.

Who may do what:

- **set** (``PUT``): ``admin`` only — a centre may not widen its own area, since the area is
  what bounds the activations it may issue. From 시군구/시도 names or codes (NGII's
  boundaries, :mod:`geo.admin_areas`), a GeoJSON (Multi)Polygon, or the hull of its cameras.
  Audited as ``organization.service_area_set``.
- **read** (``GET``): ``admin``, ``auditor``, and the centres (a regional centre checks the
  ground it may activate for before it drafts an activation).
"""

from __future__ import annotations

from typing import Any, ClassVar

import marshmallow as ma
from flask.views import MethodView
from marshmallow import fields, validate

from api.activations import OrgRef
from api.auth import current_caller, requires_roles
from api.context import app_state, transaction
from api.schemas import GEOJSON_MULTIPOLYGON, GEOJSON_POLYGON, Blueprint, Text
from geo.store import orgs as store

READERS = ("admin", "auditor", "regional_centre", "municipal_centre")

blp = Blueprint(
    "organizations",
    __name__,
    url_prefix="/v1/organizations",
    description="Organizations' service areas: a centre activates legal bases only inside its own",
)


class _StrictBoolean(fields.Boolean):
    """A JSON true or false, nothing else ("1", 1 and "yes" are refused)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:  # noqa: ARG002
        if not isinstance(value, bool):
            raise ma.ValidationError("must be true or false")
        return value


def _none_of(*names: str) -> dict[str, Any]:
    return {"not": {"anyOf": [{"required": [name]} for name in names]}}


class ServiceAreaIn(ma.Schema):
    #: The area given one way: 시군구 and/or 시도, or a drawn area, or the camera hull.
    OPENAPI_RULES: ClassVar[dict[str, Any]] = {
        "oneOf": [
            {
                "anyOf": [{"required": ["sigungu"]}, {"required": ["sido"]}],
                **_none_of("area", "camera_hull"),
            },
            {"required": ["area"], **_none_of("sigungu", "sido", "camera_hull")},
            {"required": ["camera_hull"], **_none_of("sigungu", "sido", "area")},
        ]
    }

    sigungu = fields.List(
        Text(min_length=1, max_length=60),
        validate=validate.Length(min=1, max=300),
        metadata={
            "description": "시군구 names or 5-digit codes: 종로구, 서울특별시 중구, 용인시 (all its"
            " 구), 11110"
        },
    )
    sido = fields.List(
        Text(min_length=1, max_length=30),
        validate=validate.Length(min=1, max=20),
        metadata={"description": "시도 names or 2-digit codes: 서울특별시, 경기, 41"},
    )
    area = fields.Dict(
        metadata={
            "oneOf": [GEOJSON_POLYGON, GEOJSON_MULTIPOLYGON],
            "description": "GeoJSON Polygon or MultiPolygon (RFC 7946, [lon, lat]) inside the"
            " country",
        }
    )
    camera_hull = _StrictBoolean(
        validate=validate.Equal(True, error="give true, or leave camera_hull out"),
        metadata={
            "description": "true: the hull of the cameras the centre owns, 200 m wider",
            "enum": [True],
        },
    )

    @ma.validates_schema
    def _one_source(self, data: dict[str, Any], **_: Any) -> None:
        kinds = ["sigungu" in data or "sido" in data, "area" in data, "camera_hull" in data]
        if sum(kinds) != 1:
            raise ma.ValidationError(
                "give the area one way: sigungu and/or sido, or area, or camera_hull: true",
                field_name="area",
            )


class ServiceAreaOut(ma.Schema):
    organization = fields.Nested(OrgRef, required=True)
    kind = fields.String(required=True)
    area = fields.Dict(
        allow_none=True,
        required=True,
        metadata={**GEOJSON_MULTIPOLYGON, "description": "null: the centre has none"},
    )
    area_km2 = fields.Float(allow_none=True, required=True)


def _out(org: store.Organization, found: store.ServiceArea | None) -> dict[str, Any]:
    return {
        "organization": {"id": org.id, "name": org.name},
        "kind": org.kind,
        "area": found.area if found else None,
        "area_km2": found.area_km2 if found else None,
    }


@blp.route("/<int:organization_id>/service-area")
class ServiceArea(MethodView):
    @requires_roles(*READERS)
    @blp.response(200, ServiceAreaOut)
    def get(self, organization_id: int) -> dict[str, Any]:
        """An organization's service area (null when it has none)"""
        with transaction() as conn:
            org = store.get_organization_by_id(conn, organization_id)
            found = store.get_service_area(conn, organization_id)
        return _out(org, found)

    @requires_roles("admin")
    @blp.arguments(ServiceAreaIn)
    @blp.response(200, ServiceAreaOut)
    def put(self, body: dict[str, Any], organization_id: int) -> dict[str, Any]:
        """Set a centre's service area from 시군구/시도, a GeoJSON polygon or its cameras (admin)"""
        caller = current_caller()
        with transaction() as conn:
            found = store.set_service_area_from(
                conn,
                organization_id=organization_id,
                sigungu=body.get("sigungu", ()),
                sido=body.get("sido", ()),
                geojson=body.get("area"),
                camera_hull_of_own=body.get("camera_hull", False),
                country_bounds=app_state().settings.country_bounds,
                actor=caller.actor,
                actor_organization_id=caller.organization_id,
            )
            org = store.get_organization_by_id(conn, organization_id)
        return _out(org, found)
