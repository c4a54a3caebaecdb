"""The one map from gilmok's errors to HTTP statuses, and the one JSON error body.

Every error response, whatever raised it (a domain error, request validation, Werkzeug's
routing, an oversize body, a bug), has the body ``{"code", "message", "details"}``: ``code`` is
stable and machine-readable, ``message`` is written for a person, ``details`` is an object.
A 500 says only that something failed and a reference to find it in the log: never a
traceback, a query, a database URL or a camera source URL.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

import marshmallow as ma
from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
    MethodNotAllowed,
    RequestEntityTooLarge,
)

from api.relay import errors as relay_errors
from geo import errors as ge

log = logging.getLogger("gilmok.api")

_SURROGATE = re.compile(r"[\ud800-\udfff]")


class Unauthenticated(ge.GilmokError):
    """No API key was presented, or the presented one is unknown, malformed or revoked."""

    code = "unauthenticated"


class CsrfFailed(ge.Forbidden):
    """A state change by a browser session without its CSRF token, or from another site."""

    code = "csrf_failed"


class TooManyStreams(ge.GilmokError):
    """The server process holds as many event streams as it may (``GILMOK_EVENTS_MAX_STREAMS``)."""

    code = "too_many_streams"


#: Status of each domain error. A subclass not listed takes its nearest listed ancestor's.
STATUS: dict[type[ge.GilmokError], int] = {
    ge.InvalidInput: 422,
    ge.ImportFileError: 422,
    ge.OutsideCoverageArea: 422,
    Unauthenticated: 401,
    ge.Forbidden: 403,
    CsrfFailed: 403,
    ge.NoLegalBasis: 403,
    ge.CameraOutsideActivation: 403,
    ge.NotFound: 404,
    ge.Conflict: 409,
    relay_errors.CameraSourceUnavailable: 502,
    relay_errors.RelayRefused: 502,
    ge.DatabaseUnavailable: 503,
    ge.StatementTimeout: 503,
    TooManyStreams: 503,
    relay_errors.RelayUnavailable: 503,
    ge.SchemaOutOfDate: 503,
    ge.NoRoadData: 503,
    ge.ConfigurationError: 500,
    ge.GilmokError: 500,
}
#: Seconds a client should wait before retrying, for the transient ones.
RETRY_AFTER: dict[type[ge.GilmokError], int] = {
    ge.DatabaseUnavailable: 5,
    ge.StatementTimeout: 5,
    TooManyStreams: 5,
    relay_errors.RelayUnavailable: 10,
}

#: Messages shown instead of the domain's own, which name servers and users an outside caller
#: has no business knowing (the real message goes to the log).
PUBLIC_MESSAGE: dict[type[ge.GilmokError], str] = {
    ge.DatabaseUnavailable: "the database is unavailable; retry shortly",
    ge.SchemaOutOfDate: "the database is not at the schema this server needs; the operators"
    " must migrate it",
}


class ErrorSchema(ma.Schema):
    """The body of every error response."""

    code = ma.fields.String(
        required=True, metadata={"description": "Stable machine-readable error code"}
    )
    message = ma.fields.String(
        required=True, metadata={"description": "What is wrong, for a person"}
    )
    details = ma.fields.Dict(
        required=True, metadata={"description": "Structured facts about the error (may be empty)"}
    )


def public_message(exc: ge.GilmokError) -> str:
    """The message an outside caller may see for ``exc``."""
    return next((PUBLIC_MESSAGE[c] for c in type(exc).__mro__ if c in PUBLIC_MESSAGE), exc.message)


def status_of(exc: ge.GilmokError) -> int:
    """The HTTP status of a domain error (its class's, or its nearest ancestor's)."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def _encodable(value: Any) -> Any:
    """``value`` with every unpaired surrogate escaped, so that the body encodes as UTF-8.

    An error may quote the request, and a JSON request can carry ``"\\ud800"``.
    """
    if isinstance(value, str):
        return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", value)
    if isinstance(value, dict):
        return {_encodable(k): _encodable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encodable(v) for v in value]
    return value


def error_response(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = _encodable({"code": code, "message": message, "details": details or {}})
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _internal(exc: BaseException) -> Response:
    """A 500 that names a reference; the log line names it with the cause and the endpoint.

    The reference is the request's id for the operators: the one line holds the exception's
    type and message, the method, path and endpoint, followed by the traceback.
    """
    reference = uuid.uuid4().hex[:12]
    cause = (exc.original_exception if isinstance(exc, InternalServerError) else None) or exc
    log.error(
        "internal error, request %s: %s: %s; on %s %s (endpoint %s)",
        reference,
        type(cause).__name__,
        _encodable(str(cause)),
        request.method,
        _encodable(request.path),
        request.endpoint,
        exc_info=cause,
    )
    return error_response(
        500,
        "internal_error",
        f"the server failed to answer this request; the operators can find it as {reference}",
        {"reference": reference},
    )


def handle_domain_error(exc: ge.GilmokError) -> Response:
    status = status_of(exc)
    if status >= 500 and status not in (502, 503):
        return _internal(exc)
    headers: dict[str, str] = {}
    for cls in type(exc).__mro__:
        if cls in RETRY_AFTER:
            headers["Retry-After"] = str(RETRY_AFTER[cls])
            break
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="gilmok"'
    message = exc.message
    if status >= 500:
        log.warning("%s on %s %s: %s", exc.code, request.method, request.path, exc.message)
        message = public_message(exc)
    return error_response(status, exc.code, message, exc.details, headers)


def _flatten(messages: Any, path: str = "") -> list[str]:
    if isinstance(messages, dict):
        out: list[str] = []
        for key, value in messages.items():
            out.extend(_flatten(value, f"{path}.{key}" if path else str(key)))
        return out
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [f"{path}: {' '.join(messages)}"]
    if isinstance(messages, list):
        return [line for m in messages for line in _flatten(m, path)]
    return [f"{path}: {messages}"]


def _snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


def validation_error(messages: Any, headers: dict[str, str] | None = None) -> Response:
    """The 422 of a request that is not valid; ``messages`` as webargs nests them by location."""
    lines = _flatten(messages)
    shown = "; ".join(lines[:5]) + ("; …" if len(lines) > 5 else "")
    return error_response(
        422, "validation_error", f"the request is not valid: {shown}", {"fields": messages}, headers
    )


def handle_http_exception(exc: HTTPException) -> Response:
    """Werkzeug's and webargs' HTTP errors in the one error shape."""
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages")
    if status >= 500:
        return _internal(exc)
    if status == 422 and messages is not None:
        return validation_error(messages, data.get("headers") or None)
    if status == 400 and messages == {"json": ["Invalid JSON body."]}:
        return error_response(400, "malformed_json", "the request body is not valid JSON")
    if isinstance(exc, RequestEntityTooLarge):
        limit = request.max_content_length
        return error_response(
            413,
            "payload_too_large",
            f"the request body is larger than the {limit} bytes accepted",
            {"max_bytes": limit},
        )
    if isinstance(exc, MethodNotAllowed):
        allowed = sorted(exc.valid_methods or [])
        return error_response(
            405,
            "method_not_allowed",
            f"{request.method} is not allowed on {request.path}; allowed: {', '.join(allowed)}",
            {"allowed": allowed},
            {"Allow": ", ".join(allowed)},
        )
    if status == 404:
        return error_response(
            404, "not_found", f"nothing is at {request.path}", {"path": request.path}
        )
    if status == 429:
        from api.rate_limits import retry_after_s

        wait = retry_after_s()
        return error_response(
            429,
            "rate_limited",
            f"too many requests: the limit of {exc.description} for this API key (or, without"
            f" one, this address) is spent; retry in {wait} s",
            {"limit": exc.description, "retry_after_s": wait},
            {"Retry-After": str(wait)},
        )
    return error_response(status, _snake(exc.name), exc.description or exc.name)


def handle_unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    return _internal(exc)


def register_error_handlers(app: Flask) -> None:
    """Route every error through the one map; call after flask-smorest's ``Api`` is set up."""
    app.register_error_handler(ge.GilmokError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
