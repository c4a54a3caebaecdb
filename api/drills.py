"""``/v1/drills``: camera sets precomputed for drill scenarios (``gilmok drills precompute``).

A drill can be run later from the API with the same cameras: the drill's summary and its
scenarios a page at a time, then one scenario's approaches with their ranked best cameras.
Readers: requesters, regional and municipal centres, planners and admins. Camera source URLs
are never part of a drill.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from marshmallow import fields, validate

from api.auth import requires_roles
from api.context import transaction
from api.schemas import Blueprint, PageArgs, next_after_id
from geo.store import drills as store
from geo.store.drills import DrillInfo, Scenario

READERS = ("admin", "requester", "regional_centre", "municipal_centre", "planner")
STATUSES = ("pending", "done", "failed")

blp = Blueprint(
    "drills",
    __name__,
    url_prefix="/v1/drills",
    description="Drills: approaches and best cameras precomputed for many scenario points",
)


class DrillCamera(ma.Schema):
    camera_id = fields.Raw(required=True)
    rank = fields.Integer(required=True)
    dori_level = fields.String(required=True)
    px_per_m = fields.Float(allow_none=True, required=True)
    facing = fields.Boolean(required=True)
    distance_m = fields.Float(allow_none=True, required=True)
    online = fields.Boolean(required=True)
    confidence = fields.String(required=True)


class DrillApproach(ma.Schema):
    seq = fields.Integer(required=True)
    id = fields.String(required=True, metadata={"description": "A1, A2, …"})
    direction = fields.String(required=True)
    road_name = fields.String(required=True)
    ref = fields.String(required=True)
    highway = fields.String(required=True)
    main = fields.Boolean(required=True)
    bearing_deg = fields.Float(allow_none=True, required=True)
    blind = fields.Boolean(required=True)
    lon = fields.Float(required=True)
    lat = fields.Float(required=True)
    cameras = fields.List(fields.Nested(DrillCamera), required=True)


class ScenarioSummary(ma.Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    lon = fields.Float(required=True)
    lat = fields.Float(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    approaches = fields.Integer(allow_none=True, required=True)
    blind = fields.Integer(allow_none=True, required=True)
    incomplete = fields.Boolean(allow_none=True, required=True)
    error = fields.String(required=True)
    computed_at = fields.AwareDateTime(allow_none=True, required=True)


class ScenarioOut(ScenarioSummary):
    drill = fields.String(required=True)
    options = fields.Dict(required=True)
    result = fields.List(fields.Nested(DrillApproach), allow_none=True, required=True)


class DrillOut(ma.Schema):
    name = fields.String(required=True)
    options = fields.Dict(required=True, metadata={"description": "The cordon query's options"})
    source_file = fields.String(required=True)
    created_at = fields.AwareDateTime(required=True)
    scenarios = fields.Integer(required=True)
    done = fields.Integer(required=True)
    failed = fields.Integer(required=True)
    pending = fields.Integer(required=True)
    approaches = fields.Integer(required=True)
    blind = fields.Integer(required=True)
    cameras = fields.Integer(required=True, metadata={"description": "Distinct cameras kept"})
    items = fields.List(fields.Nested(ScenarioSummary), required=True)
    next_after_id = fields.Integer(allow_none=True, required=True)


def _summary(s: Scenario) -> dict[str, Any]:
    return {
        "id": s.id,
        "name": s.name,
        "lon": s.lon,
        "lat": s.lat,
        "status": s.status,
        "approaches": s.approaches,
        "blind": s.blind,
        "incomplete": s.incomplete,
        "error": s.error,
        "computed_at": s.computed_at,
    }


def _drill(info: DrillInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "options": info.options,
        "source_file": info.source_file,
        "created_at": info.created_at,
        "scenarios": info.scenarios,
        "done": info.done,
        "failed": info.failed,
        "pending": info.pending,
        "approaches": info.approaches,
        "blind": info.blind,
        "cameras": info.cameras,
    }


@blp.route("/<string:name>")
class DrillByName(MethodView):
    @requires_roles(*READERS)
    @blp.arguments(PageArgs, location="query", unknown=ma.RAISE)
    @blp.response(200, DrillOut)
    def get(self, args: dict[str, Any], name: str) -> dict[str, Any]:
        """A drill: its options, counts and scenarios (a page at a time, by id)"""
        with transaction() as conn:
            info = store.get_drill(conn, name)
            items = store.list_scenarios(
                conn, info.id, after_id=args.get("after_id"), limit=args["limit"]
            )
        return {
            **_drill(info),
            "items": [_summary(s) for s in items],
            "next_after_id": next_after_id(items, args["limit"]),
        }


@blp.route("/<string:name>/scenarios/<int:scenario_id>")
class DrillScenario(MethodView):
    @requires_roles(*READERS)
    @blp.response(200, ScenarioOut)
    def get(self, name: str, scenario_id: int) -> dict[str, Any]:
        """One scenario: its approaches and their ranked best cameras"""
        with transaction() as conn:
            info = store.get_drill(conn, name)
            scenario = store.get_scenario(conn, info.id, scenario_id)
        return {
            **_summary(scenario),
            "drill": info.name,
            "options": info.options,
            "result": scenario.result,
        }
