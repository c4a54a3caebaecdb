"""``/v1/platform``: the smart-city integrated platform's events in, and what became of them.

Who may do what:

- **send events** (``POST /v1/platform/events``): a registered platform, with its own key
  (:mod:`api.platform_auth`; ``gilmok platform register``), never an API key. The message is
  the platform's linkage format (:mod:`geo.platform_message`); what it does is
  :mod:`api.platform_apply`'s. Every answer to an authenticated platform is in the platform's
  shape (``result`` ``"0"``/``"1"``, ``resultCode``, ``message``, with gilmok's ``code`` and
  ``details`` on a refusal) with an HTTP status to match; a refused message writes nothing
  and is logged (``gilmok.platform``). A caller without a valid platform key is answered 401
  in gilmok's one error shape, as is a body no text column can hold (422), before any key is
  looked at.
- **confirm a basis** (``POST /v1/platform/events/{id}/activate``): a ``regional_centre``, for a
  situation whose policy waits for one; the activation is its own (inside its service area).
- **read** a situation with its event log and incidents, and the outbox of events out with
  their delivery state: ``admin``, ``auditor``; a regional centre may read situations.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import marshmallow as ma
from flask import Response, jsonify, request
from flask.views import MethodView
from marshmallow import fields, validate

from api.auth import current_caller, requires_roles
from api.context import app_state, transaction
from api.errors import public_message, status_of, validation_error
from api.platform_apply import apply_message
from api.platform_auth import authenticate_platform
from api.platform_policy import confirm_activation
from api.schemas import TEXT_PATTERN, Blueprint, PageArgs, unstorable_strings
from geo.errors import GilmokError
from geo.platform_message import STATUS_CODES, MessageRefused, answer, read_event
from geo.store import platform_events as events
from geo.store import platform_outbox
from geo.store.platform_outbox import OUTBOX_STATES

log = logging.getLogger("gilmok.platform")

blp = Blueprint(
    "platform",
    __name__,
    url_prefix="/v1/platform",
    description="Smart-city integrated platform linkage: situation events in, feed events out",
)

PLATFORM_SECURITY: list[dict[str, list[str]]] = [{"platformKey": []}, {"platformSecret": []}]
SECURITY_SCHEMES = {
    "platformKey": {"type": "http", "scheme": "bearer", "bearerFormat": "gp_<prefix>_<secret>"},
    "platformSecret": {"type": "apiKey", "in": "header", "name": "X-Scsns-Secret"},
}
#: HTTP status of a gilmok error → the platform's response code.
_RESULT_CODE = {
    400: "4102",
    401: "4001",
    403: "4003",
    404: "4004",
    409: "4000",
    413: "4000",
    415: "4015",
    422: "4102",
    429: "4209",
    503: "5003",
}


class PlatformAnswer(ma.Schema):
    startTag = fields.String(required=True)  # noqa: N815 - the platform's field names
    endTag = fields.String(required=True)  # noqa: N815
    finishTag = fields.String(required=True)  # noqa: N815
    result = fields.String(
        required=True,
        validate=validate.OneOf(["0", "1"]),
        metadata={"description": '"0" success, "1" failure'},
    )
    resultCode = fields.String(required=True, metadata={"description": "2000 OK, 4xxx, 5xxx"})  # noqa: N815
    message = fields.String(required=True)
    code = fields.String(metadata={"description": "gilmok's error code, on a refusal"})
    details = fields.Dict(metadata={"description": "gilmok's error details, on a refusal"})
    event = fields.Dict(
        metadata={
            "description": "What the message did: the situation's id,"
            " outcome, incidents, offered cameras, revoked feed requests,"
            " activation"
        }
    )


class PlatformRefusal(ma.Schema):
    """A refusal: the platform's answer with gilmok's error fields, or (no platform key, or a
    body no text column can hold) gilmok's error alone."""

    code = fields.String(required=True)
    message = fields.String(required=True)
    details = fields.Dict(required=True)
    startTag = fields.String()  # noqa: N815
    endTag = fields.String()  # noqa: N815
    finishTag = fields.String()  # noqa: N815
    result = fields.String(validate=validate.OneOf(["1"]))
    resultCode = fields.String()  # noqa: N815


class ActivateOut(ma.Schema):
    event_id = fields.Integer(required=True)
    activation_id = fields.Integer(required=True)


class SituationOut(ma.Schema):
    id = fields.Integer(required=True)
    ocr_nbr = fields.String(required=True)
    event_type = fields.String(required=True)
    event_name = fields.String(required=True)
    status_code = fields.String(required=True)
    state = fields.String(required=True)
    place = fields.String(required=True)
    location = fields.Dict(allow_none=True, required=True)
    activation_id = fields.Integer(allow_none=True, required=True)
    incidents = fields.List(fields.Dict(), required=True)
    messages = fields.List(fields.Dict(), required=True)
    created_at = fields.AwareDateTime(required=True)
    closed_at = fields.AwareDateTime(allow_none=True, required=True)


class OutboxQuery(PageArgs):
    state = fields.String(validate=validate.OneOf(OUTBOX_STATES))


class OutboxItem(ma.Schema):
    id = fields.Integer(required=True)
    platform_code = fields.String(required=True)
    event_id = fields.Integer(allow_none=True, required=True)
    target_url = fields.String(required=True)
    body = fields.Dict(required=True)
    state = fields.String(required=True)
    attempts = fields.Integer(required=True)
    next_attempt_at = fields.AwareDateTime(required=True)
    last_error = fields.String(required=True)
    created_at = fields.AwareDateTime(required=True)
    delivered_at = fields.AwareDateTime(allow_none=True, required=True)


class OutboxPage(ma.Schema):
    items = fields.List(fields.Nested(OutboxItem), required=True)
    next_after_id = fields.Integer(allow_none=True, required=True)


def _platform_answer(result_code: str, message: str, **extra: Any) -> Response:
    body, status = answer(result_code, message, **extra)
    response = jsonify(body)
    response.status_code = status
    return response


def _refusal(platform_code: str, exc: MessageRefused | GilmokError) -> Response:
    if isinstance(exc, MessageRefused):
        code, message = exc.result_code, exc.message
        extra = {"code": "platform_message_refused", "details": {"field": exc.field}}
    else:
        code = _RESULT_CODE.get(status_of(exc), "5000")
        message = public_message(exc)
        extra = {"code": exc.code, "details": exc.details if code != "5000" else {}}
    log.warning("platform %s: message refused (%s): %s", platform_code, code, message)
    return _platform_answer(code, message, **extra)


def _decoded() -> Any:
    """The request's JSON document; a body no text column can hold is a 422 before anything."""
    raw = request.get_data(cache=True)
    try:
        document = json.loads(raw) if raw.strip() else None
    except (ValueError, UnicodeDecodeError):
        return _NOT_JSON
    return document


_NOT_JSON = object()


_TEXT = {"type": "string", "maxLength": 500, "pattern": TEXT_PATTERN}
_CODE = {"type": "string", "maxLength": 128, "pattern": TEXT_PATTERN}


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        out["required"] = list(required)
    return out


_STATUS = {"type": "string", "enum": list(STATUS_CODES)}
_STAMP = {"type": "string", "pattern": "^[0-9]{14}$", "description": "yyyyMMddHHmmss, Seoul"}
_USER = _object({"ocrEvtUsrId": _TEXT, "ocrEvtUsrNm": _TEXT})
#: The event message as the OpenAPI document states it: the linkage format's header and body
#: fields (:mod:`geo.platform_message`); :func:`read_event` checks the rest.
EVENT_MESSAGE = _object(
    {
        "svcTy": {"type": "string", "enum": ["EVENT"]},
        **dict.fromkeys(("hdCnt", "dtCnt", "cmnMtd", "tranTy", "rrKey", "bodyLen"), _TEXT),
        "apSeq": _object({"apCurrent": _TEXT, "apTotal": _TEXT}),
        "sendCd": {**_CODE, "description": "The sending platform's code (its key's)"},
        "rcvCd": _CODE,
        "sysCd": _CODE,
        "encAt": {"type": "string", "enum": ["N"]},
        "reqDate": _STAMP,
        "tranSysHis": {},
        "callBack": _object(
            {
                "useYn": {"type": "string", "enum": ["Y", "N"]},
                "targetUrl": {**_TEXT, "maxLength": 2000},
            }
        ),
        "body": _object(
            {
                **dict.fromkeys(
                    (
                        "startTag",
                        "endTag",
                        "finishTag",
                        "evtNm",
                        "evtGrad",
                        "ocrPlc",
                        "ocrEvtCn",
                        "ocrEvtItemCnt",
                    ),
                    _TEXT,
                ),
                "evtId": _CODE,
                "ocrNbr": _CODE,
                "ocrSts": _STATUS,
                "ocrEvtSts": _object({"ocrEvtStsCd": _STATUS, "ocrEvtStsDtl": _TEXT}),
                "ocrLc": _object(
                    {
                        "crdntX": {**_TEXT, "description": "longitude, degrees"},
                        "crdntY": {**_TEXT, "description": "latitude, degrees"},
                        "crdntZ": _TEXT,
                    },
                    ("crdntX", "crdntY"),
                ),
                **dict.fromkeys(("ocrEvtTime", "ocrEvtStsTime", "ocrEvtEndTime"), _STAMP),
                "ocrEvtUsr": _USER,
                "ocrEvtStsUsr": _USER,
                "ocrEvtItem": {
                    "type": "array",
                    "maxItems": 100,
                    "items": _object({"key": _CODE, "val": _TEXT}, ("key",)),
                },
                "ocrEvtDtl": _object({"ocrEvtDtlCd": _TEXT, "ocrEvtDtlCdDtl": _TEXT}),
            },
            ("evtId", "ocrNbr", "ocrSts"),
        ),
    },
    ("svcTy", "sendCd", "body"),
)


@blp.route("/events")
class PlatformEvents(MethodView):
    @blp.doc(
        security=PLATFORM_SECURITY,
        requestBody={"required": True, "content": {"application/json": {"schema": EVENT_MESSAGE}}},
        **{"x-gilmok-roles": [], "x-gilmok-auth": "a registered platform's key (gp_…)"},
    )
    @blp.response(200, PlatformAnswer)
    @blp.alt_response(400, schema=PlatformRefusal, description="4000: not a JSON object")
    @blp.alt_response(
        401,
        schema=PlatformRefusal,
        description="No valid platform key (gilmok's error), or 4001: sendCd is another platform's",
    )
    @blp.alt_response(403, schema=PlatformRefusal, description="4003: refused by a rule")
    @blp.alt_response(429, response="TOO_MANY_REQUESTS", description="The key's request budget")
    @blp.alt_response(
        404,
        schema=PlatformRefusal,
        description="4004: no subscription or policy names the event type",
    )
    @blp.alt_response(415, schema=PlatformRefusal, description="4015: the body is not JSON")
    @blp.alt_response(
        422,
        schema=PlatformRefusal,
        description="4101 a field missing, 4102 a"
        " field malformed, an unknown status code, a position off the loaded roads;"
        " or a string no text column can hold (gilmok's error)",
    )
    @blp.alt_response(
        503, schema=PlatformRefusal, description="5003: database or road data unavailable"
    )
    def post(self) -> Response:
        """An event message of the smart-city integrated platform (10 raise, 40 move, 50/90/91/92
        close); answered in the platform's shape"""
        document = _decoded()
        if document is not _NOT_JSON and (where := unstorable_strings(document)) is not None:
            return validation_error({"json": where})
        platform = authenticate_platform()
        try:
            if document is _NOT_JSON or document is None:
                raise MessageRefused(
                    "the body must be the event message as JSON", result_code="4015"
                )
            message = read_event(document, bounds=app_state().settings.country_bounds)
            if message.send_code != platform.code:
                raise MessageRefused(
                    f"sendCd {message.send_code!r} is not this key's platform ({platform.code})",
                    result_code="4001",
                    field="sendCd",
                )
            with transaction() as conn:
                applied = apply_message(conn, platform, message, document)
        except (MessageRefused, GilmokError) as exc:
            return _refusal(platform.code, exc)
        log.info(
            "platform %s: %s %s → %s",
            platform.code,
            message.ocr_nbr,
            message.status,
            applied.outcome,
        )
        return _platform_answer("2000", "", event=applied.as_dict())


@blp.route("/events/<int:event_id>")
class PlatformEventById(MethodView):
    @requires_roles("admin", "auditor", "regional_centre")
    @blp.response(200, SituationOut)
    def get(self, event_id: int) -> dict[str, Any]:
        """A platform situation with its incidents and its event log (no raw message)"""
        with transaction() as conn:
            situation = events.get_situation(conn, event_id)
            incidents = events.incidents_of(conn, event_id)
            messages = events.messages_of(conn, event_id)
        location = None
        if situation.lon is not None and situation.lat is not None:
            location = {
                "type": "Point",
                "coordinates": [round(situation.lon, 7), round(situation.lat, 7)],
            }
        return {
            **{
                k: getattr(situation, k)
                for k in (
                    "id",
                    "ocr_nbr",
                    "event_type",
                    "event_name",
                    "status_code",
                    "state",
                    "place",
                    "activation_id",
                    "created_at",
                    "closed_at",
                )
            },
            "location": location,
            "incidents": [{"id": i, "subscription_id": s, "status": st} for i, s, st in incidents],
            "messages": [
                {
                    **m,
                    "received_at": m["received_at"].isoformat(),
                    "last_received_at": m["last_received_at"] and m["last_received_at"].isoformat(),
                }
                for m in messages
            ],
        }


@blp.route("/events/<int:event_id>/activate")
class ActivatePlatformEvent(MethodView):
    @requires_roles("regional_centre")
    @blp.response(201, ActivateOut)
    def post(self, event_id: int) -> tuple[dict[str, Any], int]:
        """Confirm the legal basis of a situation whose policy waits for a regional centre"""
        caller = current_caller()
        with transaction() as conn:
            activation_id = confirm_activation(
                conn, event_id, issuer_id=caller.organization_id, actor=caller.actor
            )
        return {"event_id": event_id, "activation_id": activation_id}, 201


@blp.route("/outbox")
class Outbox(MethodView):
    @requires_roles("admin", "auditor")
    @blp.arguments(OutboxQuery, location="query", unknown=ma.RAISE)
    @blp.response(200, OutboxPage)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Events out to the platforms, oldest first, with their delivery state"""
        with transaction() as conn:
            items = platform_outbox.list_outbox(
                conn,
                state=args.get("state"),
                after_id=args.get("after_id") or 0,
                limit=args["limit"],
            )
        full = len(items) == args["limit"]
        return {"items": items, "next_after_id": items[-1]["id"] if full else None}
