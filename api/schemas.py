"""Marshmallow schemas shared by the endpoints: they validate requests and write the OpenAPI doc.

Text fields refuse control characters (a NUL would reach PostgreSQL as an error, not as data);
integers are bounded to what the database columns hold; times need a time zone.
"""

from __future__ import annotations

import json
import re
from typing import Any

import flask_smorest
import marshmallow as ma
from flask import Request
from marshmallow import fields, validate
from webargs.flaskparser import FlaskParser

from geo.areas import area_from_geojson
from geo.errors import InvalidInput


class _Parser(FlaskParser):
    """webargs' parser, with absurdly nested JSON answered as malformed (not a RecursionError)."""

    def _raw_load_json(self, req: Request) -> Any:
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            nested = json.JSONDecodeError("nested too deeply", "", 0)
            return self._handle_invalid_json_error(nested, req)


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's blueprint with gilmok's request parser: every API blueprint uses it."""

    ARGUMENTS_PARSER = _Parser()


INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
# Control characters, and lone surrogates (valid in JSON escapes, not encodable as UTF-8).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


class Text(fields.String):
    """A string, stripped, without control characters, of bounded length."""

    def __init__(self, *, max_length: int = 200, min_length: int = 0, **kwargs: Any) -> None:
        length = validate.Length(min=min_length or None, max=max_length)
        super().__init__(validate=length, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = str(super()._deserialize(value, attr, data, **kwargs)).strip()
        if _CONTROL.search(text):
            raise ma.ValidationError("must not contain control characters or lone surrogates")
        return text


def Id(*, maximum: int = INT32_MAX, **kwargs: Any) -> fields.Integer:  # noqa: N802
    """A database id: an integer in 1..``maximum``."""
    return fields.Integer(validate=validate.Range(min=1, max=maximum), **kwargs)


_POSITION = {
    "type": "array",
    "items": {"type": "number"},
    "minItems": 2,
    "maxItems": 2,
    "description": "[longitude, latitude], degrees (EPSG:4326)",
}
_RING = {"type": "array", "items": _POSITION, "minItems": 4}
_POLYGON_COORDS = {"type": "array", "items": _RING, "minItems": 1}
GEOJSON_POLYGON = {
    "type": "object",
    "required": ["type", "coordinates"],
    "properties": {
        "type": {"type": "string", "enum": ["Polygon"]},
        "coordinates": _POLYGON_COORDS,
    },
}
GEOJSON_MULTIPOLYGON = {
    "type": "object",
    "required": ["type", "coordinates"],
    "properties": {
        "type": {"type": "string", "enum": ["MultiPolygon"]},
        "coordinates": {"type": "array", "items": _POLYGON_COORDS, "minItems": 1},
    },
}


class GeoJSONArea(fields.Field):
    """A GeoJSON Polygon or MultiPolygon in lon/lat, loaded as a checked shapely MultiPolygon.

    Checked against the app's country bounds (``GILMOK_COUNTRY_BOUNDS``) and
    :data:`geo.areas.MAX_AREA_KM2`.
    """

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "oneOf": [GEOJSON_POLYGON, GEOJSON_MULTIPOLYGON],
            "description": "GeoJSON Polygon or MultiPolygon (RFC 7946, [lon, lat]) inside the"
            " country, at most 20,000 km²",
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:  # noqa: ARG002
        from api.context import app_state

        try:
            return area_from_geojson(value, country_bounds=app_state().settings.country_bounds)
        except InvalidInput as exc:
            raise ma.ValidationError(exc.message) from None


class PageArgs(ma.Schema):
    """Keyset paging: ``after_id`` is the last id of the previous page."""

    after_id = fields.Integer(
        validate=validate.Range(min=0, max=INT64_MAX),
        metadata={"description": "Return items with an id greater than this"},
    )
    limit = fields.Integer(
        load_default=100,
        validate=validate.Range(min=1, max=500),
        metadata={"description": "Items per page (1..500)"},
    )


def next_after_id(items: list[Any], limit: int) -> int | None:
    """The cursor of the next page: the last id when the page is full, else None."""
    return items[-1].id if len(items) == limit else None
