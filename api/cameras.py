"""``/v1/cameras``: a centre reports its cameras' health and corrects them.

- ``PATCH /v1/cameras/{id}``: status (online / offline / maintenance, with a reason), surveyed
  heading, field of view, position, kind of one camera.
- ``POST /v1/cameras/status``: a batch of statuses, as a centre's VMS pushes them (one
  statement a batch, idempotent, one result per item).
- ``POST /v1/cameras/survey``: a survey CSV of headings and fields of view, all or nothing, with
  the report of ``gilmok cameras survey``.

Only a camera's own municipal centre changes it (an ``admin`` key any camera): another centre's
camera answers exactly as a missing one (404, or ``not_found`` in a batch). Each change is kept
with its history (``camera_change``) and audited, and reaches every worker's answers within
about a second (:mod:`api.live_changes`).
"""

from __future__ import annotations

from typing import Any, ClassVar

import marshmallow as ma
from flask import request
from flask.views import MethodView
from marshmallow import fields, validate

from api.auth import current_caller, requires_roles
from api.context import app_state, transaction
from api.schemas import INT64_MAX, Blueprint, Float, Id, Text
from geo import domain
from geo.errors import InvalidInput, NotFound
from geo.ingest.survey import read_survey
from geo.store import camera_changes as store

WRITERS = ("municipal_centre", "admin")
#: Largest status batch one request may carry.
MAX_BATCH = 5000
#: Largest survey upload, bytes.
MAX_SURVEY_BYTES = 5_000_000

blp = Blueprint(
    "cameras",
    __name__,
    url_prefix="/v1/cameras",
    description="A centre's own cameras: health reports and corrections",
)


def _owner() -> tuple[int | None, int]:
    """(the owner the caller may change cameras of — None for an admin —, the caller's org)."""
    caller = current_caller()
    owner = None if caller.role == "admin" else caller.organization_id
    return owner, caller.organization_id


def camera_not_found(camera_id: int) -> NotFound:
    """One error for a camera that does not exist and one of another centre."""
    return NotFound(f"no camera of yours has the id {camera_id}", details={"id": camera_id})


def _reason() -> Text:
    return Text(max_length=500, metadata={"description": "why (offline, maintenance)"})


class CameraPatchIn(ma.Schema):
    status = fields.String(validate=validate.OneOf(domain.REPORTED_STATUSES))
    reason = _reason()
    #: Not empty; a position is lon and lat together.
    OPENAPI_RULES: ClassVar[dict[str, Any]] = {
        "minProperties": 1,
        "anyOf": [
            {"required": ["lon", "lat"]},
            {"not": {"anyOf": [{"required": ["lon"]}, {"required": ["lat"]}]}},
        ],
    }

    heading_deg = Float(
        allow_none=True,
        validate=validate.Range(min=0, max=360, max_inclusive=False),
        metadata={"description": "surveyed heading, degrees clockwise from true north; null:"
                  " unknown", "exclusiveMaximum": True},
    )  # fmt: skip
    fov_deg = Float(
        allow_none=True,
        validate=validate.Range(min=0, max=360, min_inclusive=False),
        metadata={"description": "horizontal field of view, degrees; null: the kind's default",
                  "exclusiveMinimum": True},
    )  # fmt: skip
    lon = Float(
        validate=validate.Range(min=-180, max=180),
        metadata={"description": "new position: longitude, degrees (EPSG:4326), inside the"
                  " country bounds (GILMOK_COUNTRY_BOUNDS)"},
    )  # fmt: skip
    lat = Float(
        validate=validate.Range(min=-90, max=90),
        metadata={"description": "new position: latitude, degrees (EPSG:4326), inside the"
                  " country bounds"},
    )  # fmt: skip
    kind = fields.String(validate=validate.OneOf(domain.CAMERA_KINDS))

    @ma.validates_schema
    def _rules(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ma.ValidationError("give at least one value to change", field_name="status")
        if ("lon" in data) != ("lat" in data):
            raise ma.ValidationError("a position needs both lon and lat", field_name="lon")


class ChangeOut(ma.Schema):
    camera_id = fields.Integer(required=True)
    outcome = fields.String(
        required=True, metadata={"enum": ["changed", "unchanged", "not_found", "retired"]}
    )
    seq = fields.Integer(metadata={"description": "the change's place in the registry's"
                                   " change sequence"})  # fmt: skip
    previous = fields.Dict()
    current = fields.Dict()


class StatusItem(ma.Schema):
    camera_id = Id(maximum=INT64_MAX, required=True)
    status = fields.String(required=True, validate=validate.OneOf(domain.REPORTED_STATUSES))
    reason = _reason()


class StatusBatchIn(ma.Schema):
    items = fields.List(
        fields.Nested(StatusItem),
        required=True,
        validate=validate.Length(min=1, max=MAX_BATCH),
        metadata={"description": "each camera at most once in a batch (422 naming the ids"
                  " given twice)"},
    )  # fmt: skip


class StatusBatchOut(ma.Schema):
    changed = fields.Integer(required=True)
    unchanged = fields.Integer(required=True)
    not_found = fields.Integer(required=True)
    results = fields.List(fields.Nested(ChangeOut), required=True)


class SurveyArgs(ma.Schema):
    dry_run = fields.Boolean(
        load_default=False, metadata={"description": "check and report; change nothing"}
    )
    name = Text(max_length=200, load_default="survey.csv",
                metadata={"description": "the file's name, for the report"})  # fmt: skip


class RejectionOut(ma.Schema):
    line = fields.Integer(required=True)
    field = fields.String(required=True)
    value = fields.String(required=True)
    reason = fields.String(required=True)


class SurveyOut(ma.Schema):
    file_name = fields.String(required=True)
    rows_read = fields.Integer(required=True)
    changed = fields.Integer(required=True)
    unchanged = fields.Integer(required=True)
    rejected = fields.Integer(required=True)
    adds_up = fields.Boolean(required=True)
    applied = fields.Boolean(required=True)
    dry_run = fields.Boolean(required=True)
    rejections = fields.List(fields.Nested(RejectionOut), required=True)
    summary = fields.String(required=True)


@blp.route("/<int:camera_id>")
class Camera(MethodView):
    @requires_roles(*WRITERS)
    @blp.arguments(CameraPatchIn)
    @blp.response(200, ChangeOut)
    def patch(self, body: dict[str, Any], camera_id: int) -> dict[str, Any]:
        """Report a camera's status or correct it: heading (surveyed), field of view, position,
        kind (its own centre, or admin)"""
        owner, org = _owner()
        if camera_id > INT64_MAX:
            raise camera_not_found(camera_id)
        if "lon" in body:
            x0, y0, x1, y1 = app_state().settings.country_bounds
            if not (x0 <= body["lon"] <= x1 and y0 <= body["lat"] <= y1):
                raise InvalidInput(
                    f"({body['lon']}, {body['lat']}) is outside the country bounds"
                    f" ({x0}, {y0}, {x1}, {y1})",
                    details={"field": "lon,lat"},
                )
        with transaction() as conn:
            (result,) = store.correct_cameras(
                conn, [(camera_id, body)], owner_id=owner, organization_id=org,
                actor=current_caller().actor, via="api",
                max_range_m=app_state().settings.max_coverage_range_m,
            )  # fmt: skip
        if result.outcome in ("not_found", "retired"):
            raise camera_not_found(camera_id)
        return result.as_dict()


@blp.route("/status")
class StatusBatch(MethodView):
    @requires_roles(*WRITERS)
    @blp.arguments(StatusBatchIn)
    @blp.response(200, StatusBatchOut)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Report many cameras' statuses at once (a VMS): idempotent, one result per item, only
        the centre's own cameras (others: not_found)"""
        owner, org = _owner()
        items = [(i["camera_id"], i["status"], i.get("reason", "")) for i in body["items"]]
        with transaction() as conn:
            results = store.set_statuses(
                conn, items, owner_id=owner, organization_id=org,
                actor=current_caller().actor, via="vms",
            )  # fmt: skip
        counts = {k: sum(r.outcome == k for r in results)
                  for k in ("changed", "unchanged", "not_found")}  # fmt: skip
        return {**counts, "results": [r.as_dict() for r in results]}


@blp.route("/survey")
class Survey(MethodView):
    @requires_roles(*WRITERS)
    @blp.arguments(SurveyArgs, location="query")
    @blp.doc(
        requestBody={
            "required": True,
            "content": {"text/csv": {"schema": {"type": "string", "maxLength": MAX_SURVEY_BYTES}}},
            "description": "CSV (UTF-8, UTF-8 with BOM, or CP949): camera_id and heading_deg"
            " and/or fov_deg",
        }
    )
    @blp.response(200, SurveyOut)
    def post(self, args: dict[str, Any]) -> dict[str, Any]:
        """Upload a survey of the centre's cameras (headings, fields of view): all or nothing;
        a file with a bad row is 422, its report (each bad row by line and field) in details"""
        owner, org = _owner()
        if (request.content_length or 0) > MAX_SURVEY_BYTES:
            raise InvalidInput(f"the survey file is larger than {MAX_SURVEY_BYTES} bytes")
        data = request.get_data(cache=False)
        if len(data) > MAX_SURVEY_BYTES:
            raise InvalidInput(f"the survey file is larger than {MAX_SURVEY_BYTES} bytes")
        rows, report = read_survey(data, args["name"])
        with transaction() as conn:
            store.apply_survey(
                conn, rows, report, owner_id=owner, organization_id=org,
                actor=current_caller().actor, via="survey",
                max_range_m=app_state().settings.max_coverage_range_m, dry_run=args["dry_run"],
            )  # fmt: skip
        if report.rejected:
            raise InvalidInput(report.summary(), details=report.as_dict())
        return {**report.as_dict(), "summary": report.summary()}
