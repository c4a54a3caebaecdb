"""Marshmallow schemas shared by the endpoints: they validate requests and write the OpenAPI doc.

Text fields refuse control characters (a NUL would reach PostgreSQL as an error, not as data);
integers are bounded to what the database columns hold; times need a time zone.

Input is read strictly, in one place for every endpoint:

- numbers are :class:`Integer` and :class:`Float`, which take JSON numbers only: ``601.5`` is
  not the camera 601, ``"601"`` is not a number and ``true`` is not 1. The query string is text
  by nature, so the parser (:class:`_Parser`) decodes it before the fields see it — a whole
  decimal for an integer, a decimal number for a float — and refuses a single-valued parameter
  given more than once (``?limit=5&limit=6``) rather than keep the first;
- no string anywhere in a request — path, query or JSON body, keys or values — may hold a NUL or
  an unpaired UTF-16 surrogate (``"\\ud800"``, legal as a JSON escape): PostgreSQL cannot store
  the one and UTF-8 cannot encode the other. :func:`refuse_unstorable_text` answers those for
  the path and query before anything else runs; the parser for JSON bodies.

Each of these is a 422 ``validation_error`` in the one error shape.
"""

from __future__ import annotations

import json
import re
from typing import Any

import flask_smorest
import marshmallow as ma
from apispec import BasePlugin
from flask import Request, Response, request
from marshmallow import fields, validate
from webargs.flaskparser import FlaskParser

from geo.areas import area_from_geojson
from geo.errors import InvalidInput

# NUL, which PostgreSQL text cannot hold, and the UTF-16 surrogates, which UTF-8 cannot encode.
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
UNSTORABLE_MESSAGE = "must not contain NUL characters or unpaired UTF-16 surrogates"
_WHOLE = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def shown_name(name: str) -> str:
    """A request's key as an error may name it: printable, and encodable even when it is not."""
    return name if _UNSTORABLE.search(name) is None else json.dumps(name)[1:-1]


def unstorable_strings(value: Any) -> Any:
    """Where in a loaded JSON document a key or a string holds NUL or an unpaired surrogate.

    None when nowhere; else error messages nested as marshmallow nests them (objects by key,
    arrays by index), such keys escaped, so that the answer names the field as any other
    validation error does.
    """
    if isinstance(value, str):
        return [UNSTORABLE_MESSAGE] if _UNSTORABLE.search(value) else None
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    found: dict[Any, Any] = {}
    for key, child in items:
        if isinstance(key, str) and _UNSTORABLE.search(key):
            found[shown_name(key)] = [UNSTORABLE_MESSAGE]
        elif (inner := unstorable_strings(child)) is not None:
            found[key] = inner
    return found or None


def _from_text(field: fields.Field, text: str) -> Any:
    """A query-string value as the JSON value a strict field takes; as is when it is not one."""
    if isinstance(field, fields.Integer) and _WHOLE.fullmatch(text):
        return int(text)
    if isinstance(field, fields.Float) and _DECIMAL.fullmatch(text):
        return float(text)
    return text


class _Parser(FlaskParser):
    """webargs' parser, with gilmok's strict reading of query strings and JSON bodies.

    Absurdly nested JSON is answered as malformed (not a RecursionError).
    """

    def _raw_load_json(self, req: Request) -> Any:
        try:
            return super()._raw_load_json(req)
        except RecursionError:
            nested = json.JSONDecodeError("nested too deeply", "", 0)
            return self._handle_invalid_json_error(nested, req)

    def pre_load(
        self, location_data: Any, *, schema: ma.Schema, req: Request, location: str
    ) -> Any:
        if location == "json":
            try:
                bad = unstorable_strings(location_data)
            except RecursionError:
                bad = ["nested too deeply"]
            if bad is not None:
                raise ma.ValidationError(bad)
            return location_data
        if location not in ("query", "querystring"):
            return location_data
        by_key = {f.data_key or name: f for name, f in schema.fields.items() if not f.dump_only}
        loaded: dict[str, Any] = {}
        errors: dict[str, list[str]] = {}
        for key, values in req.args.lists():
            field = by_key.get(key)
            if field is None:
                loaded[key] = values[0]  # the schema refuses unknown parameters
            elif isinstance(field, fields.List):
                loaded[key] = [_from_text(field.inner, v) for v in values]
            elif len(values) > 1:
                errors[key] = [f"given {len(values)} times; give it once"]
            else:
                loaded[key] = _from_text(field, values[0])
        if errors:
            raise ma.ValidationError(errors)
        return loaded


class SchemaRules(BasePlugin):
    """apispec plugin: a schema's ``OPENAPI_RULES`` (JSON Schema keywords such as ``oneOf``) join
    its component, so that the document states the cross-field rules its validators enforce."""

    def schema_helper(self, name: str, definition: dict[str, Any], **kwargs: Any) -> Any:  # noqa: ARG002
        schema = kwargs.get("schema")
        cls = schema if isinstance(schema, type) else type(schema)
        return dict(getattr(cls, "OPENAPI_RULES", {})) or None


def only_one_of(*groups: list[str]) -> dict[str, Any]:
    """JSON Schema: exactly one of ``groups`` of properties given, each whole, no other's."""
    return {
        "oneOf": [
            {
                "required": group,
                "not": {"anyOf": [{"required": [p]} for g in groups if g is not group for p in g]},
            }
            for group in groups
        ]
    }


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's blueprint with gilmok's request parser: every API blueprint uses it."""

    ARGUMENTS_PARSER = _Parser()


INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
# Control characters (tab, line feed and carriage return are text), as a regular expression
# class for the OpenAPI document's patterns too (its escapes read the same in ECMA 262 and
# Python); and lone surrogates (valid in JSON escapes, not encodable as UTF-8), which no UTF-8
# text can carry, so the document need not name them.
_CONTROL_CLASS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
_CONTROL = re.compile(f"[{_CONTROL_CLASS}\ud800-\udfff]")
TEXT_PATTERN = f"^[^{_CONTROL_CLASS}]*$"
#: Also at least one character that is not white space.
NON_BLANK_PATTERN = f"^[^{_CONTROL_CLASS}]*[^\\s{_CONTROL_CLASS}][^{_CONTROL_CLASS}]*$"


class Text(fields.String):
    """A string without control characters, of bounded length, stripped once found valid.

    The checks are made on the string as sent — its length, and with ``min_length`` that it is
    not blank — so that the OpenAPI document (``minLength``, ``maxLength``, ``pattern``) states
    exactly what is accepted.
    """

    def __init__(self, *, max_length: int = 200, min_length: int = 0, **kwargs: Any) -> None:
        length = validate.Length(min=min_length or None, max=max_length)
        self.min_length, self.max_length = min_length, max_length
        metadata = {"pattern": NON_BLANK_PATTERN if min_length else TEXT_PATTERN}
        metadata.update(kwargs.pop("metadata", {}))
        super().__init__(validate=length, metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = str(super()._deserialize(value, attr, data, **kwargs))
        if _CONTROL.search(text):
            raise ma.ValidationError("must not contain control characters or lone surrogates")
        if len(text) > self.max_length:
            raise ma.ValidationError(f"Longer than maximum length {self.max_length}.")
        if self.min_length and not text.strip():
            raise ma.ValidationError("must not be blank")
        return text.strip()


class Integer(fields.Integer):
    """An integer given as a JSON integer: not ``601.5``, ``601.0``, ``"601"`` nor ``true``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)


class Float(fields.Float):
    """A finite number given as a JSON number: not ``"1.5"`` nor ``true``."""

    def _validated(self, value: Any) -> float:
        if isinstance(value, str):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


def Id(*, maximum: int = INT32_MAX, **kwargs: Any) -> fields.Integer:  # noqa: N802
    """A database id: an integer in 1..``maximum``."""
    return Integer(validate=validate.Range(min=1, max=maximum), **kwargs)


def refuse_unstorable_text() -> Response | None:
    """Before every request: a 422 for a path or query value (or name) no text column can hold.

    Registered with ``app.before_request``; runs before authentication, so that no such string
    reaches the database, whatever the endpoint.
    """
    from api.errors import validation_error

    messages: dict[str, dict[str, list[str]]] = {}
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and _UNSTORABLE.search(value):
            messages.setdefault("path", {})[name] = [UNSTORABLE_MESSAGE]
    for name, value in request.args.items(multi=True):
        if _UNSTORABLE.search(name) or _UNSTORABLE.search(value):
            messages.setdefault("query", {})[shown_name(name)] = [UNSTORABLE_MESSAGE]
    return validation_error(messages) if messages else None


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

    after_id = Integer(
        validate=validate.Range(min=0, max=INT64_MAX),
        metadata={"description": "Return items with an id greater than this"},
    )
    limit = Integer(
        load_default=100,
        validate=validate.Range(min=1, max=500),
        metadata={"description": "Items per page (1..500)"},
    )


def next_after_id(items: list[Any], limit: int) -> int | None:
    """The cursor of the next page: the last id when the page is full, else None."""
    return items[-1].id if len(items) == limit else None
