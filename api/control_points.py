"""Traffic-control points of an incident: its approaches, main first, as GeoJSON or CSV.

The approaches of a cordon are exactly the points where traffic is controlled to protect
residents (the MOU's traffic-control coordination); each point lists the online cameras
watching it, best first. Read by whoever may read the incident (:func:`api.incidents.may_read`).
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, request
from flask.views import MethodView
from marshmallow import fields, validate

from api.auth import current_caller, requires_roles
from api.context import transaction
from api.incidents import READERS, approaches_geojson, may_read
from api.schemas import Blueprint
from api.spatial import FeatureCollectionOut
from geo.admin_locate import ADMIN_COLUMNS
from geo.export_files import csv_text
from geo.store import incidents as incident_store
from geo.store.incidents import ApproachRecord

blp = Blueprint(
    "control_points",
    __name__,
    url_prefix="/v1",
    description="The traffic-control points of an incident's cordon: its approaches, main first,"
    " with the cameras watching them",
)


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
    *ADMIN_COLUMNS,
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

        CSV with `?format=csv` or `Accept: text/csv` (UTF-8 with a BOM, booleans true/false):
        id, direction, main, road_name, highway, inbound_bearing_deg, lon, lat, blind,
        sigungu_code, sigungu_name, emd_code, emd_name, cameras (online watchers, best first).
        """
        with transaction() as conn:
            incident = incident_store.get_incident(conn, incident_id)
            may_read(conn, current_caller(), incident)
            points = _control_points(incident_store.list_approaches(conn, incident_id))
        if _wants_csv():
            rows = [
                [
                    a.label,
                    a.direction,
                    a.is_main,
                    a.road_name,
                    a.highway,
                    a.inbound_bearing_deg,
                    f"{a.lon:.7f}",
                    f"{a.lat:.7f}",
                    a.blind,
                    *(getattr(a, column) for column in ADMIN_COLUMNS),
                    " ".join(str(c["camera_id"]) for c in a.cameras if c["online"]),
                ]
                for a in points
            ]
            name = f"incident-{incident_id}-control-points.csv"
            return Response(
                csv_text(list(CSV_COLUMNS), rows),
                mimetype="text/csv",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        return approaches_geojson(points)
