"""The spatial endpoints, for any authenticated caller: approaches, cameras and coverage.

A camera's *location* is public data in Korea; its video is not. These endpoints answer where
cameras are and what they see — never a source URL — and need an API key, but no legal basis.

- ``GET /v1/approaches``: the core query (cordon, approaches, ranked watching cameras) as the
  RFC 7946 FeatureCollection of :meth:`geo.incident.Answer.to_geojson`, from the worker's
  registry snapshot (:mod:`api.snapshot`); stateless, nothing recorded. The hot path: with the
  caller's key verified lately (:class:`api.auth.VerifiedKeys`) it touches no database, and its
  body is encoded by orjson (the same JSON, keys sorted, about ten times faster), its
  coordinates straight from numpy arrays.
- ``GET /v1/cameras`` and ``GET /v1/coverage``: what lies in a bounding box, paged by id.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar
from urllib.parse import urlencode

import marshmallow as ma
import orjson
from flask import Response, request
from flask.views import MethodView
from marshmallow import fields, validate

from api.auth import requires_roles
from api.context import transaction
from api.schemas import Blueprint, Float, PageArgs
from api.snapshot import current_index, current_snapshot
from geo import domain
from geo.cordon import MAX_RADIUS_M, MIN_RADIUS_M, CordonOptions
from geo.errors import InvalidInput
from geo.incident import Answer, answer_incident
from geo.store import cameras as store

#: Largest bounding box side, degrees (about 44 × 55 km in Korea).
MAX_BBOX_DEG = 0.5
#: Longest time-based cordon, minutes, and fastest speed, km/h (the radius limit binds anyway).
MAX_MINUTES = 600.0
MAX_SPEED_KMH = 300.0

blp = Blueprint(
    "spatial",
    __name__,
    url_prefix="/v1",
    description="Where cameras are, what they cover, and which watch an incident's approaches"
    " (any API key; never a video or a source URL)",
)


def longitude(**kwargs: Any) -> fields.Float:
    return Float(
        validate=validate.Range(min=-180, max=180),
        metadata={"description": "Longitude, degrees (EPSG:4326)"},
        **kwargs,
    )


def latitude(**kwargs: Any) -> fields.Float:
    return Float(
        validate=validate.Range(min=-90, max=90),
        metadata={"description": "Latitude, degrees (EPSG:4326)"},
        **kwargs,
    )


#: The cordon's size, as JSON Schema: radius_m, or minutes with speed_kmh, or neither (500 m).
#: That speed × minutes must come to 50..5000 m no JSON Schema can say: its description does.
CORDON_RULES: list[dict[str, Any]] = [
    {"not": {"required": ["radius_m", "minutes"]}},
    {"not": {"required": ["radius_m", "speed_kmh"]}},
    {
        "anyOf": [
            {"required": ["minutes", "speed_kmh"]},
            {"not": {"anyOf": [{"required": ["minutes"]}, {"required": ["speed_kmh"]}]}},
        ]
    },
]
_RADIUS_RULE = (
    "give radius_m, or minutes and speed_kmh (R = speed × time, which must come to"
    f" {MIN_RADIUS_M:g}..{MAX_RADIUS_M:g} m), not both; neither is {500} m"
)


class CordonQuery(ma.Schema):
    """The core query's options, shared by ``/v1/approaches`` and ``POST /v1/incidents``: the
    cordon's six (loaded as one :class:`geo.cordon.CordonOptions`, ``cordon``) and the DORI
    ``level``."""

    OPENAPI_RULES: ClassVar[dict[str, Any]] = {"allOf": CORDON_RULES}

    radius_m = Float(
        validate=validate.Range(min=MIN_RADIUS_M, max=MAX_RADIUS_M),
        metadata={"description": f"Cordon radius R, metres: {_RADIUS_RULE}"},
    )
    minutes = Float(
        validate=validate.Range(min=0, max=MAX_MINUTES, min_inclusive=False),
        metadata={
            "description": "Time-based cordon: minutes of travel (with speed_kmh)",
            "exclusiveMinimum": True,
        },
    )
    speed_kmh = Float(
        validate=validate.Range(min=0, max=MAX_SPEED_KMH, min_inclusive=False),
        metadata={
            "description": "Time-based cordon: speed, km/h (with minutes)",
            "exclusiveMinimum": True,
        },
    )
    mode = fields.String(
        load_default="network",
        validate=validate.OneOf(domain.CORDON_MODES),
        metadata={"description": "network: along the roads; euclidean: a circle"},
    )
    direction = fields.String(
        load_default="inbound",
        validate=validate.OneOf(domain.DIRECTIONS),
        metadata={"description": "inbound: approaches; outbound: exits; both"},
    )
    travel = fields.String(
        load_default="drive",
        validate=validate.OneOf(domain.TRAVEL_MODES),
        metadata={"description": "drive: one-way streets respected; foot: ignored"},
    )
    level = fields.String(
        load_default=domain.DEFAULT_DORI_LEVEL,
        validate=validate.OneOf(list(domain.DORI_PX_PER_M)),
        metadata={"description": "DORI level the cameras must reach on the watch stretch"},
    )

    @ma.validates_schema
    def _one_cordon(self, data: dict[str, Any], **_: Any) -> None:
        """The rule of :class:`geo.cordon.CordonOptions` (a radius, or minutes and a speed,
        within the radius limits), blamed on the field it names."""
        try:
            CordonOptions.from_dict(data)
        except InvalidInput as exc:
            raise ma.ValidationError(exc.message, field_name=exc.details["field"]) from None

    @ma.post_load
    def _as_options(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        """The six cordon options become one ``cordon`` (:class:`geo.cordon.CordonOptions`)."""
        cordon = CordonOptions.from_dict(data)
        for name in CordonOptions.__dataclass_fields__:
            data.pop(name, None)
        return {**data, "cordon": cordon}


class ApproachesQuery(CordonQuery):
    lon = longitude(required=True)
    lat = latitude(required=True)


#: One instance for every request: webargs would build a schema per request from the class.
APPROACHES_QUERY = ApproachesQuery()


def answer_at(lon: float, lat: float, cordon: CordonOptions, *, level: str) -> Answer:
    """The core query at (lon, lat) for ``cordon`` at DORI ``level``, from the snapshot.

    Raises
    ------
    OutsideCoverageArea
        outside every loaded road network, or farther than R from any road.
    NoRoadData
        no road network is loaded.
    """
    snapshot = current_snapshot()
    network = snapshot.network_for(lon, lat)
    return answer_incident(network.roads, current_index(), (lon, lat), cordon, level=level)


class FeatureCollectionOut(ma.Schema):
    type = fields.String(required=True, metadata={"enum": ["FeatureCollection"]})
    features = fields.List(fields.Dict(), required=True)


class FeaturePageOut(FeatureCollectionOut):
    next_after_id = fields.Integer(
        allow_none=True, required=True, metadata={"description": "after_id of the next page"}
    )
    links = fields.List(
        fields.Dict(),
        required=True,
        metadata={"description": "self, and next when there is a next page (its URL)"},
    )


class CameraPageOut(FeaturePageOut):
    numberMatched = fields.Integer(  # noqa: N815
        required=True, metadata={"description": "Cameras in the box, over every page"}
    )
    numberReturned = fields.Integer(  # noqa: N815
        required=True, metadata={"description": "Cameras on this page"}
    )


_NUMBER = r"-?[0-9]{1,3}(?:\.[0-9]{1,12})?"
#: The form of a bbox, in the OpenAPI document and here alike.
BBOX_PATTERN = f"^{_NUMBER},{_NUMBER},{_NUMBER},{_NUMBER}$"


class BBox(fields.Field):
    """``minlon,minlat,maxlon,maxlat`` in degrees, each side at most :data:`MAX_BBOX_DEG`.

    Its form is :data:`BBOX_PATTERN` (plain decimals, as the document says); the order of the
    corners and the size are rules no JSON Schema can state, written in the description.
    """

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "type": "string",
            "pattern": BBOX_PATTERN,
            "example": "126.97,37.56,126.99,37.58",
            "description": "minlon,minlat,maxlon,maxlat (EPSG:4326 degrees, plain decimals):"
            " minlon < maxlon within ±180, minlat < maxlat within ±90, each side at most"
            f" {MAX_BBOX_DEG}° (else 422)",
        }
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:  # noqa: ARG002
        if not isinstance(value, str) or re.fullmatch(BBOX_PATTERN, value) is None:
            raise ma.ValidationError(
                "must be four plain decimal numbers: minlon,minlat,maxlon,maxlat"
            )
        x0, y0, x1, y1 = (float(p) for p in value.split(","))
        if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
            raise ma.ValidationError(
                "must be minlon < maxlon within ±180 and minlat < maxlat within ±90"
            )
        if x1 - x0 > MAX_BBOX_DEG or y1 - y0 > MAX_BBOX_DEG:
            raise ma.ValidationError(
                f"each side must be at most {MAX_BBOX_DEG}°; page a smaller box"
            )
        return (x0, y0, x1, y1)


class BBoxQuery(PageArgs):
    bbox = BBox(required=True)


class CoverageQuery(BBoxQuery):
    level = fields.String(
        load_default=domain.DEFAULT_DORI_LEVEL,
        validate=validate.OneOf(list(domain.DORI_PX_PER_M)),
        metadata={"description": "DORI level of the stored polygons (the import stores observe)"},
    )


GEOJSON = "application/geo+json"


def _page(features: list[dict[str, Any]], limit: int, **extra: Any) -> Response:
    """The page as JSON, encoded by orjson (the same JSON as Flask's, keys sorted): 500
    coverage polygons took Flask's encoder longer than the database took to find them.

    ``links`` holds ``self`` and, when the page is full, ``next`` (this URL with ``after_id``
    set): the same cursor as ``next_after_id``, which older clients read. The media type is
    GeoJSON's when the client asks for it (``Accept: application/geo+json``).
    """
    after = features[-1]["id"] if len(features) == limit else None
    media_type = request.accept_mimetypes.best_match(["application/json", GEOJSON])
    media_type = media_type or "application/json"
    links = [{"href": request.url, "rel": "self", "type": media_type}]
    if after is not None:
        args = {**request.args.to_dict(), "after_id": str(after)}
        links.append(
            {"href": f"{request.base_url}?{urlencode(args)}", "rel": "next", "type": media_type}
        )
    page = {
        "type": "FeatureCollection",
        "features": features,
        "next_after_id": after,
        "links": links,
        **extra,
    }
    return Response(orjson.dumps(page, option=orjson.OPT_SORT_KEYS), mimetype=media_type)


@blp.route("/approaches")
class Approaches(MethodView):
    @requires_roles(*domain.ROLES)
    @blp.arguments(APPROACHES_QUERY, location="query", unknown=ma.RAISE)
    @blp.response(200, FeatureCollectionOut)
    def get(self, args: dict[str, Any]) -> Response:
        """The approaches to a point and the cameras watching them (GeoJSON, nothing recorded)

        The cordon: radius_m, or minutes and speed_kmh (R = speed × time, 50..5000 m), not
        both. A point outside every loaded road network, or farther than R from any road, is
        422 `outside_coverage_area`.
        """
        collection = answer_at(
            args["lon"], args["lat"], args["cordon"], level=args["level"]
        ).to_geojson(arrays=True)
        body = orjson.dumps(collection, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)
        return Response(body, mimetype="application/json")


@blp.route("/cameras")
class Cameras(MethodView):
    @requires_roles(*domain.ROLES)
    @blp.arguments(BBoxQuery, location="query", unknown=ma.RAISE)
    @blp.response(200, CameraPageOut)
    def get(self, args: dict[str, Any]) -> Response:
        """Cameras in a bounding box (GeoJSON points, paged by id; never a source URL)

        `links` has the `next` page's URL; `numberMatched` counts the cameras in the box.
        For QGIS and GDAL, `/ogc/collections/cameras/items` serves the same cameras as OGC
        API – Features.
        """
        with transaction() as conn:
            features = store.cameras_in_bbox(
                conn, args["bbox"], limit=args["limit"], after_id=args.get("after_id")
            )
            matched = store.count_cameras_in_bbox(conn, args["bbox"])
        return _page(features, args["limit"], numberMatched=matched, numberReturned=len(features))


@blp.route("/coverage")
class Coverage(MethodView):
    @requires_roles(*domain.ROLES)
    @blp.arguments(CoverageQuery, location="query", unknown=ma.RAISE)
    @blp.response(200, FeaturePageOut)
    def get(self, args: dict[str, Any]) -> Response:
        """Stored coverage polygons meeting a bounding box (GeoJSON, paged by coverage id)"""
        with transaction() as conn:
            features = store.coverage_in_bbox(
                conn,
                args["bbox"],
                level=args["level"],
                limit=args["limit"],
                after_id=args.get("after_id"),
            )
        return _page(features, args["limit"])
