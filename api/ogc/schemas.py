"""The OGC API's query parameters and answers as marshmallow schemas: they validate requests
and write the OpenAPI document (the ``service-desc`` GDAL and QGIS read the limit's bounds from).
"""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from api.ogc import crs as ogc_crs
from api.schemas import Integer

#: Largest page; a page of this many cameras is about 5 MB of GeoJSON.
MAX_LIMIT = 10_000
DEFAULT_LIMIT = 100

_NUMBER = r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]{1,3})?"
BBOX_PATTERN = f"^{_NUMBER}(?:,{_NUMBER}){{3}}(?:,{_NUMBER},{_NUMBER})?$"
CURSOR_PATTERN = "^[A-Za-z0-9_-]{1,64}$"


class BBoxValues(fields.Field):
    """Four numbers (or six, heights ignored), in the axis order of ``bbox-crs``."""

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "type": "string",
            "pattern": BBOX_PATTERN,
            "maxLength": 200,
            "example": "126.97,37.56,126.99,37.58",
            "description": "lower corner, then upper corner, in the axis order of bbox-crs"
            " (CRS84 by default: minlon,minlat,maxlon,maxlat); six numbers carry heights,"
            " which are ignored",
        }
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:  # noqa: ARG002
        if not isinstance(value, str) or len(value) > 200 or not re.fullmatch(BBOX_PATTERN, value):
            raise ma.ValidationError("must be four (or six) comma-separated numbers")
        numbers = tuple(float(p) for p in value.split(","))
        if not all(abs(n) < 1e9 for n in numbers):
            raise ma.ValidationError("each number must be below 1e9 in magnitude")
        return numbers


class OutputQuery(ma.Schema):
    crs = fields.String(
        validate=validate.OneOf(list(ogc_crs.SUPPORTED)),
        metadata={"description": "Output CRS (default CRS84), in its own axis order"},
    )
    f = fields.String(
        validate=validate.OneOf(["json", "geojson"]),
        metadata={"description": "Encoding (GeoJSON whichever is given)"},
    )


class ItemsQuery(OutputQuery):
    limit = Integer(
        load_default=DEFAULT_LIMIT,
        validate=validate.Range(min=1, max=MAX_LIMIT),
        metadata={"description": f"Features per page (1..{MAX_LIMIT})", "default": DEFAULT_LIMIT},
    )
    bbox = BBoxValues()
    bbox_crs = fields.String(
        data_key="bbox-crs",
        validate=validate.OneOf(list(ogc_crs.SUPPORTED)),
        metadata={"description": "CRS of bbox (default CRS84), in its own axis order"},
    )
    cursor = fields.String(
        validate=validate.Regexp(CURSOR_PATTERN),
        metadata={
            "pattern": CURSOR_PATTERN,
            "description": "Position of a page, opaque: take it from a next or prev link (one"
            " this server did not make is 400)",
        },
    )


class FormatQuery(ma.Schema):
    f = fields.String(validate=validate.OneOf(["json"]))


class OgcDocument(ma.Schema):
    links = fields.List(fields.Dict(), required=True)


class OgcLandingOut(OgcDocument):
    title = fields.String(required=True)
    description = fields.String(required=True)


class OgcConformanceOut(OgcDocument):
    conformsTo = fields.List(fields.String(), required=True)  # noqa: N815


class OgcCollectionOut(OgcDocument):
    id = fields.String(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    itemType = fields.String(required=True)  # noqa: N815
    extent = fields.Dict(required=True)
    crs = fields.List(fields.String(), required=True)
    storageCrs = fields.String(required=True)  # noqa: N815
    geometry = fields.String(
        data_key="x-gilmok-geometry",
        required=True,
        metadata={"description": "The one geometry type of the collection's features"},
    )


class OgcCollectionsOut(OgcDocument):
    collections = fields.List(fields.Nested(OgcCollectionOut), required=True)
    crs = fields.List(fields.String(), required=True)


class OgcItemsOut(OgcDocument):
    type = fields.String(required=True, metadata={"enum": ["FeatureCollection"]})
    features = fields.List(fields.Dict(), required=True)
    numberMatched = fields.Integer(  # noqa: N815
        allow_none=True,
        required=True,
        metadata={"description": "null for coverage drawn on demand (not counted)"},
    )
    numberReturned = fields.Integer(required=True)  # noqa: N815
    timeStamp = fields.String(required=True)  # noqa: N815


class OgcFeatureOut(OgcDocument):
    type = fields.String(required=True, metadata={"enum": ["Feature"]})
    id = fields.Integer(required=True)
    geometry = fields.Dict(required=True)
    properties = fields.Dict(required=True)
