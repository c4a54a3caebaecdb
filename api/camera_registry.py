"""Cameras a centre adds to the registry and retires from it, outside any import.

- ``POST /v1/cameras``: a camera the centre owns (position, kind, heading, field of view,
  resolution, its own key for it, and the video source URL — a secret kept for the relay,
  never returned);
- ``DELETE /v1/cameras/{id}?reason=``: the camera no longer exists. It is no longer offered;
  its live feeds are ended now, each relay stream destroyed and audited as a revocation is
  (:func:`api.feeds.revoke.revoke_for`), and its requests still open are revoked.

Only the centre's own cameras (an ``admin`` key acts for any owner, naming it), as
``PATCH /v1/cameras/{id}`` (:mod:`api.cameras`): another centre's camera answers as a missing
one. Each is a change of the registry's change sequence, logged (``added`` / ``removed``) and
audited, and reaches every worker's answers within about a second (:mod:`api.live_changes`).
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from marshmallow import fields, validate

from api.auth import current_caller, requires_roles
from api.cameras import WRITERS, camera_not_found
from api.context import app_state, transaction
from api.feeds.revoke import revoke_for
from api.schemas import INT64_MAX, Blueprint, Float, Id, Integer, Text
from geo import domain
from geo.errors import Forbidden, InvalidInput, NotFound
from geo.store import camera_changes as store
from geo.store.camera_sources import SOURCE_SCHEMES, set_camera_sources
from geo.store.orgs import get_organization_by_id

blp = Blueprint(
    "camera_registry",
    __name__,
    url_prefix="/v1",
    description="A centre's cameras added to the registry and retired from it",
)


class CameraIn(ma.Schema):
    key = Text(
        required=True, min_length=1, max_length=200,
        metadata={"description": "the centre's own identifier for the camera (its VMS or asset"
                  " number): unique among the centre's cameras, retired ones included (409)"},
    )  # fmt: skip
    owner_id = Id(
        metadata={"description": "the owning organization: an admin names it; a centre may give"
                  " only its own (403 otherwise)"},
    )  # fmt: skip
    lon = Float(
        required=True, validate=validate.Range(min=-180, max=180),
        metadata={"description": "longitude, degrees (EPSG:4326), inside the country bounds"
                  " (GILMOK_COUNTRY_BOUNDS)"},
    )  # fmt: skip
    lat = Float(
        required=True, validate=validate.Range(min=-90, max=90),
        metadata={"description": "latitude, degrees (EPSG:4326), inside the country bounds"},
    )  # fmt: skip
    kind = fields.String(required=True, validate=validate.OneOf(domain.CAMERA_KINDS))
    heading_deg = Float(
        allow_none=True, load_default=None,
        validate=validate.Range(min=0, max=360, max_inclusive=False),
        metadata={"description": "surveyed heading, degrees clockwise from true north; null or"
                  " absent: unknown", "exclusiveMaximum": True},
    )  # fmt: skip
    fov_deg = Float(
        allow_none=True, load_default=None,
        validate=validate.Range(min=0, max=360, min_inclusive=False),
        metadata={"description": "horizontal field of view, degrees; null: the kind's default",
                  "exclusiveMinimum": True},
    )  # fmt: skip
    resolution_px_h = Integer(
        allow_none=True, load_default=None,
        validate=validate.Range(min=1, max=store.MAX_RESOLUTION_PX),
        metadata={"description": "vertical resolution, pixels (e.g. 1080); null: the kind's"
                  " default"},
    )  # fmt: skip
    purpose = Text(load_default="", max_length=200,
                   metadata={"description": "what the camera is for (방범, 교통, …)"})  # fmt: skip
    source_url = Text(
        load_only=True, max_length=2000,
        metadata={"description": "the video source the relay pulls"
                  f" ({', '.join(SOURCE_SCHEMES)}): a secret, never returned or audited",
                  "writeOnly": True},
    )  # fmt: skip


class CameraAddedOut(ma.Schema):
    camera_id = fields.Integer(required=True)
    owner_id = fields.Integer(required=True)
    key = fields.String(required=True)
    outcome = fields.String(required=True, metadata={"enum": ["added"]})
    seq = fields.Integer(
        required=True, metadata={"description": "the change's place in the change sequence"}
    )
    lon = fields.Float(required=True)
    lat = fields.Float(required=True)
    kind = fields.String(required=True)
    heading_deg = fields.Float(allow_none=True, required=True)
    heading_source = fields.String(required=True, metadata={"enum": ["surveyed", "unknown"]})
    fov_deg = fields.Float(allow_none=True, required=True)
    resolution_px_h = fields.Integer(allow_none=True, required=True)
    status = fields.String(required=True, metadata={"enum": ["online"]})
    has_source_url = fields.Boolean(required=True)


class RemoveArgs(ma.Schema):
    reason = Text(
        required=True, min_length=1, max_length=500,
        metadata={"description": "why the camera is retired (dismantled, replaced, …)"},
    )  # fmt: skip


class CameraRemovedOut(ma.Schema):
    camera_id = fields.Integer(required=True)
    outcome = fields.String(required=True, metadata={"enum": ["removed"]})
    seq = fields.Integer(required=True)
    reason = fields.String(required=True)
    feeds_ended = fields.Integer(
        required=True, metadata={"description": "live feed sessions of the camera ended now"}
    )


def _owner_for(body: dict[str, Any]) -> int:
    caller = current_caller()
    wanted = body.get("owner_id")
    if caller.role != "admin":
        if wanted is not None and wanted != caller.organization_id:
            raise Forbidden("a centre adds cameras of its own only", details={"field": "owner_id"})
        return caller.organization_id
    if wanted is None:
        raise InvalidInput("an admin names the camera's owner", details={"field": "owner_id"})
    return int(wanted)


@blp.route("/cameras")
class Cameras(MethodView):
    @requires_roles(*WRITERS)
    @blp.arguments(CameraIn)
    @blp.response(201, CameraAddedOut)
    @blp.alt_response(409, response="CONFLICT")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Add a camera the centre owns (an admin: for the owner it names); its coverage is
        drawn and every answer offers it within about a second; 409 when the key is taken"""
        owner = _owner_for(body)
        settings = app_state().settings
        x0, y0, x1, y1 = settings.country_bounds
        if not (x0 <= body["lon"] <= x1 and y0 <= body["lat"] <= y1):
            raise InvalidInput(
                f"({body['lon']}, {body['lat']}) is outside the country bounds"
                f" ({x0}, {y0}, {x1}, {y1})",
                details={"field": "lon,lat"},
            )
        caller = current_caller()
        with transaction() as conn:
            try:
                get_organization_by_id(conn, owner)
            except NotFound as exc:
                raise InvalidInput(
                    f"no organization has the id {owner}", details={"field": "owner_id"}
                ) from exc
            result = store.add_camera(
                conn, owner_id=owner, lon=body["lon"], lat=body["lat"], kind=body["kind"],
                source_key=store.centre_source_key(owner, body["key"]),
                heading_deg=body["heading_deg"], fov_deg=body["fov_deg"],
                resolution_px_h=body["resolution_px_h"], purpose=body["purpose"],
                organization_id=caller.organization_id, actor=caller.actor, via="api",
                max_range_m=settings.max_coverage_range_m,
            )  # fmt: skip
            if body.get("source_url"):
                set_camera_sources(conn, {result.camera_id: body["source_url"]},
                                   actor=caller.actor)  # fmt: skip
        assert result.seq is not None
        return {
            "camera_id": result.camera_id, "owner_id": owner, "key": body["key"],
            "outcome": "added", "seq": result.seq, "lon": body["lon"], "lat": body["lat"],
            "kind": body["kind"], "heading_deg": body["heading_deg"],
            "heading_source": "unknown" if body["heading_deg"] is None else "surveyed",
            "fov_deg": body["fov_deg"], "resolution_px_h": body["resolution_px_h"],
            "status": "online", "has_source_url": bool(body.get("source_url")),
        }  # fmt: skip


@blp.route("/cameras/<int:camera_id>")
class Camera(MethodView):
    @requires_roles(*WRITERS)
    @blp.arguments(RemoveArgs, location="query")
    @blp.response(200, CameraRemovedOut)
    @blp.alt_response(404, response="NOT_FOUND")
    def delete(self, args: dict[str, Any], camera_id: int) -> dict[str, Any]:
        """Retire a camera of the centre (it no longer exists): no longer offered, its live
        feeds ended and their relay streams destroyed (audited), its open requests revoked"""
        caller = current_caller()
        owner = None if caller.role == "admin" else caller.organization_id
        if camera_id > INT64_MAX:
            raise camera_not_found(camera_id)
        with transaction() as conn:
            result = store.remove_camera(
                conn, camera_id, owner_id=owner, organization_id=caller.organization_id,
                actor=caller.actor, via="api", reason=args["reason"],
            )  # fmt: skip
            if result.outcome != "changed":
                raise camera_not_found(camera_id)
            ended = revoke_for(
                conn, app_state().relay, camera_id=camera_id, actor=caller.actor,
                reason=f"the camera was removed from the registry: {args['reason']}",
            )  # fmt: skip
        assert result.seq is not None
        return {"camera_id": camera_id, "outcome": "removed", "seq": result.seq,
                "reason": args["reason"], "feeds_ended": ended}  # fmt: skip
