"""The smart-city integrated platform's event messages: read one, answer one, write one.

The smart-city integrated platform (스마트시티 통합플랫폼) exchanges situation events with the
services linked to it as JSON messages of a header and a body. The fields and codes below are
those of the platform's linkage interface as KETI's open interworking bridge between the
platform and the City Data Hub implements it (github.com/IoTKETI/
smartcitydatahub_integrationplatform_interworking: ``IntegrationPlatformAbstractMessage``,
``IntegrationPlatformEventMessage``, ``IntegrationPlatformResponse``, ``ResponseCode``,
``IntegrationPlatformConstants``, and the sample message in its ``init.sql``):

- **header** (top level): ``svcTy`` (service type: ``EVENT`` for events, ``AUTH``, ``PREEVT``),
  ``hdCnt``, ``dtCnt``, ``apSeq {apCurrent, apTotal}``, ``cmnMtd``, ``sendCd`` (the sending
  city or platform's code), ``rcvCd`` (the receiver's), ``encAt`` (``Y``/``N``: body
  encrypted), ``tranTy`` (``HTTP``), ``rrKey``, ``reqDate`` (``yyyyMMddHHmmss``, Asia/Seoul),
  ``bodyLen``, ``sysCd`` (the sending system's code), ``tranSysHis``, and ``callBack {useYn,
  targetUrl}``; the same header travels as HTTP headers ``X-Scsns-svcTy``, ``X-Scsns-sendCd``,
  ``X-Scsns-rcvCd``, ``X-Scsns-sysCd``, ``X-Scsns-encAt``, with the session secret in
  ``X-Scsns-Secret``.
- **body** (``body``; the sample spells it ``Body``): ``evtId`` (the event type's id, e.g.
  ``MOJUC110``), ``evtNm`` (its name), ``evtGrad`` (grade), ``ocrNbr`` (the occurrence
  number: one situation), ``ocrSts`` (the status code) and ``ocrEvtSts {ocrEvtStsCd,
  ocrEvtStsDtl}`` (the same code with its name), ``ocrLc {crdntX, crdntY, crdntZ}`` (the
  position: longitude and latitude as decimal text), ``ocrPlc`` (the place, as text),
  ``ocrEvtCn`` (content), ``ocrEvtTime`` / ``ocrEvtStsTime`` / ``ocrEvtEndTime``
  (``yyyyMMddHHmmss``), ``ocrEvtItemCnt`` and ``ocrEvtItem [{key, val}]`` (the event type's own
  items), ``ocrEvtDtl {ocrEvtDtlCd, ocrEvtDtlCdDtl}``, framed by ``startTag`` ``$DA``,
  ``endTag`` ``$DB``, ``finishTag`` ``$DF``.
- **status codes**: 10 발생 (occurred), 40 정보변경 (information changed), 50 해제 (cleared),
  90 취소 (cancelled), 91 종료 (ended), 92 자동종료 (ended automatically). (The bridge's constants
  give 91 for both of the last two, a slip: 92 is 자동종료.)
- **answer**: ``{startTag, endTag, finishTag, result, message}`` with ``result`` ``"0"`` for
  success and ``"1"`` for failure; the failure's kind is one of the bridge's response codes —
  2000 OK, 4000 Bad Request, 4001 Unauthorized, 4004 Not Found, 4015 Unsupported Media Type,
  4100 Already Exists, 4101 Mandatory Parameter Missing, 4102 Invalid Parameter Type,
  4209 Too Many Requests, 5000 Internal Server Error, 5003 Service Unavailable.

gilmok writes its own code from these facts. It reads both spellings of the status (``ocrSts``,
or ``ocrEvtSts`` as the object or as a bare code) and of the body; it answers in the platform's
shape and adds ``resultCode`` (the response code above) and gilmok's own ``code`` and
``details``, so that one body serves the platform's client and gilmok's error map alike.

This module is pure: no HTTP, no SQL. :func:`read_event` turns a decoded JSON message into an
:class:`EventMessage` or raises :class:`MessageRefused` naming the field; :func:`answer` and
:func:`feed_message` write the answer and an event out.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from zoneinfo import ZoneInfo

#: Status code → (Korean name, what gilmok does with it).
STATUS_CODES: Final[dict[str, str]] = {
    "10": "발생",
    "40": "정보변경",
    "50": "해제",
    "90": "취소",
    "91": "종료",
    "92": "자동종료",
}
RAISE: Final = "10"
MOVE: Final = "40"
#: The statuses that end a situation.
CLOSING: Final = frozenset({"50", "90", "91", "92"})

#: The platform's response codes gilmok answers with: code → (description, HTTP status).
RESPONSE_CODES: Final[dict[str, tuple[str, int]]] = {
    "2000": ("OK", 200),
    "4000": ("Bad Request", 400),
    "4001": ("Unauthorized", 401),
    "4003": ("Forbidden", 403),
    "4004": ("Not Found", 404),
    "4015": ("Unsupported Media Type", 415),
    # a well-formed JSON message gilmok cannot act on: 422, gilmok's status for such a request
    "4101": ("Mandatory Parameter Missing", 422),
    "4102": ("Invalid Parameter Type", 422),
    "4209": ("Too Many Requests", 429),
    "5000": ("Internal Server Error", 500),
    "5003": ("Service Unavailable", 503),
}
SUCCESS_RESULT: Final = "0"
FAILURE_RESULT: Final = "1"
FRAME: Final = {"startTag": "$DA", "endTag": "$DB", "finishTag": "$DF"}
#: ``reqDate`` and the body's times: local time in Seoul, to the second.
DATE_FORMAT: Final = "%Y%m%d%H%M%S"
SEOUL: Final = ZoneInfo("Asia/Seoul")
#: gilmok's system code in the header of the messages it sends.
SYSTEM_CODE: Final = "GILMOK"

_MAX_TEXT = 500
_MAX_ID = 128
_MAX_ITEMS = 100


class MessageRefused(Exception):
    """A message gilmok will not act on; ``result_code`` is the platform's response code."""

    def __init__(self, message: str, *, result_code: str = "4102", field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.result_code = result_code
        self.field = field


@dataclass(frozen=True)
class EventMessage:
    """One event message, checked. ``lon``/``lat`` in degrees (None when the message has no
    position, which only a closing status may lack)."""

    send_code: str
    event_type: str
    event_name: str
    grade: str
    ocr_nbr: str
    status: str
    lon: float | None
    lat: float | None
    place: str
    callback_url: str
    items: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    request_date: dt.datetime | None = None

    @property
    def closing(self) -> bool:
        return self.status in CLOSING


def _text(value: Any, name: str, *, required: bool = False, max_length: int = _MAX_TEXT) -> str:
    if value is None or value == "":
        if required:
            raise MessageRefused(f"{name} is missing", result_code="4101", field=name)
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MessageRefused(f"{name} must be text", field=name)
    text = str(value).strip()
    if required and not text:
        raise MessageRefused(f"{name} is missing", result_code="4101", field=name)
    if len(text) > max_length:
        raise MessageRefused(f"{name} is longer than {max_length} characters", field=name)
    return text


def _coordinate(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise MessageRefused(f"{name} must be a decimal number", field=name)
    try:
        number = float(value)
    except ValueError:
        raise MessageRefused(
            f"{name} must be a decimal number, not {value!r}", field=name
        ) from None
    if not math.isfinite(number):
        raise MessageRefused(f"{name} must be a finite number", field=name)
    return number


def _status(body: Mapping[str, Any]) -> str:
    """The status code: ``ocrSts``, or ``ocrEvtSts`` as ``{ocrEvtStsCd}`` or as a bare code."""
    given = body.get("ocrSts")
    nested = body.get("ocrEvtSts")
    if isinstance(nested, Mapping):
        nested = nested.get("ocrEvtStsCd")
    codes = {_text(v, "ocrEvtSts") for v in (given, nested) if v not in (None, "")}
    if not codes:
        raise MessageRefused(
            "the status (ocrSts or ocrEvtSts) is missing", result_code="4101", field="ocrEvtSts"
        )
    if len(codes) > 1:
        raise MessageRefused(
            f"ocrSts and ocrEvtSts disagree ({', '.join(sorted(codes))})", field="ocrEvtSts"
        )
    (code,) = codes
    if code not in STATUS_CODES:
        known = ", ".join(f"{c} {n}" for c, n in STATUS_CODES.items())
        raise MessageRefused(f"unknown status code {code!r}: one of {known}", field="ocrEvtSts")
    return code


def _items(value: Any) -> tuple[tuple[str, str], ...]:
    if value in (None, ""):
        return ()
    if not isinstance(value, list) or len(value) > _MAX_ITEMS:
        raise MessageRefused(
            f"ocrEvtItem must be a list of at most {_MAX_ITEMS} {{key, val}}", field="ocrEvtItem"
        )
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping):
            raise MessageRefused(f"ocrEvtItem[{i}] must be {{key, val}}", field="ocrEvtItem")
        key = _text(item.get("key"), f"ocrEvtItem[{i}].key", required=True, max_length=_MAX_ID)
        out.append((key, _text(item.get("val"), f"ocrEvtItem[{i}].val")))
    return tuple(out)


def _request_date(value: Any) -> dt.datetime | None:
    text = _text(value, "reqDate", max_length=14)
    if not text:
        return None
    try:
        return dt.datetime.strptime(text, DATE_FORMAT).replace(tzinfo=SEOUL)
    except ValueError:
        raise MessageRefused(
            f"reqDate must read yyyyMMddHHmmss, not {text!r}", field="reqDate"
        ) from None


def read_event(message: Any, *, bounds: tuple[float, float, float, float]) -> EventMessage:
    """Check one decoded event message; ``bounds`` (lon/lat box) is where a position may lie.

    Raises
    ------
    MessageRefused
        not an object, not an ``EVENT``, an encrypted body (``encAt`` ``Y``: gilmok holds no
        platform cipher key), a missing or malformed field, an unknown status code, or a
        position outside ``bounds``; the message names the field.

    Examples
    --------
    >>> m = read_event({"svcTy": "EVENT", "sendCd": "SIHEUNG", "body": {"evtId": "DISASTER",
    ...     "ocrNbr": "20261203120000", "ocrSts": "10",
    ...     "ocrLc": {"crdntX": "126.9555", "crdntY": "37.5455"}}},
    ...     bounds=(124.5, 33.0, 132.0, 38.7))
    >>> m.status, m.lon, m.lat
    ('10', 126.9555, 37.5455)
    >>> read_event({"svcTy": "EVENT", "sendCd": "X", "body": {"evtId": "E", "ocrNbr": "1",
    ...     "ocrSts": "30"}}, bounds=(124.5, 33.0, 132.0, 38.7))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    geo.platform_message.MessageRefused: unknown status code '30': one of 10 발생, ...
    """
    if not isinstance(message, Mapping):
        raise MessageRefused(
            "the message must be a JSON object of a header and a body", result_code="4000"
        )
    service = _text(message.get("svcTy"), "svcTy", required=True, max_length=16)
    if service != "EVENT":
        raise MessageRefused(
            f"svcTy must be EVENT for an event message, not {service!r}", field="svcTy"
        )
    if _text(message.get("encAt"), "encAt", max_length=1) == "Y":
        raise MessageRefused(
            "encrypted bodies (encAt Y) are not accepted: send encAt N over the TLS link",
            field="encAt",
        )
    send_code = _text(message.get("sendCd"), "sendCd", required=True, max_length=_MAX_ID)
    request_date = _request_date(message.get("reqDate"))
    callback = message.get("callBack")
    callback_url = ""
    if callback is not None:
        if not isinstance(callback, Mapping):
            raise MessageRefused("callBack must be {useYn, targetUrl}", field="callBack")
        if _text(callback.get("useYn"), "callBack.useYn", max_length=1) != "N":
            callback_url = _text(callback.get("targetUrl"), "callBack.targetUrl", max_length=2000)
    body = message.get("body", message.get("Body"))
    if body is None:
        raise MessageRefused("the message has no body", result_code="4101", field="body")
    if not isinstance(body, Mapping):
        raise MessageRefused("body must be a JSON object", field="body")
    status = _status(body)
    lon = lat = None
    location = body.get("ocrLc")
    if location not in (None, ""):
        if not isinstance(location, Mapping):
            raise MessageRefused("ocrLc must be {crdntX, crdntY}", field="ocrLc")
        if location.get("crdntX") in (None, "") or location.get("crdntY") in (None, ""):
            raise MessageRefused("ocrLc needs crdntX and crdntY", result_code="4101", field="ocrLc")
        lon = _coordinate(location.get("crdntX"), "ocrLc.crdntX")
        lat = _coordinate(location.get("crdntY"), "ocrLc.crdntY")
        x0, y0, x1, y1 = bounds
        if not (x0 <= lon <= x1 and y0 <= lat <= y1):
            raise MessageRefused(
                f"ocrLc ({lon}, {lat}) is outside the country's bounds {bounds}: crdntX is the"
                " longitude and crdntY the latitude, in degrees",
                field="ocrLc",
            )
    elif status not in CLOSING:
        raise MessageRefused(
            f"status {status} needs the position (ocrLc)", result_code="4101", field="ocrLc"
        )
    return EventMessage(
        send_code=send_code,
        event_type=_text(body.get("evtId"), "evtId", required=True, max_length=_MAX_ID),
        event_name=_text(body.get("evtNm"), "evtNm"),
        grade=_text(body.get("evtGrad"), "evtGrad", max_length=16),
        ocr_nbr=_text(body.get("ocrNbr"), "ocrNbr", required=True, max_length=_MAX_ID),
        status=status,
        lon=lon,
        lat=lat,
        place=_text(body.get("ocrPlc"), "ocrPlc"),
        callback_url=callback_url,
        items=_items(body.get("ocrEvtItem")),
        request_date=request_date,
    )


def answer(result_code: str, message: str = "", **extra: Any) -> tuple[dict[str, Any], int]:
    """The platform's answer for ``result_code`` and its HTTP status.

    >>> body, status = answer("2000")
    >>> body["result"], body["resultCode"], body["startTag"], status
    ('0', '2000', '$DA', 200)
    >>> answer("4102", "bad")[0]["result"], answer("4102", "bad")[1]
    ('1', 422)
    """
    _, status = RESPONSE_CODES[result_code]
    result = SUCCESS_RESULT if status < 400 else FAILURE_RESULT
    body = {**FRAME, "result": result, "resultCode": result_code, "message": message, **extra}
    return body, status


def seoul_stamp(at: dt.datetime) -> str:
    """``at`` as the platform writes times: ``yyyyMMddHHmmss`` in Seoul.

    >>> seoul_stamp(dt.datetime(2026, 12, 3, 3, 0, tzinfo=dt.UTC))
    '20261203120000'
    """
    return at.astimezone(SEOUL).strftime(DATE_FORMAT)


def feed_message(
    *,
    platform_code: str,
    event_type: str,
    event_name: str,
    ocr_nbr: str,
    lon: float | None,
    lat: float | None,
    place: str,
    feed: str,
    camera_id: int,
    incident_id: int,
    reason: str,
    at: dt.datetime,
) -> dict[str, Any]:
    """An event out: a feed of ``camera_id`` went ``live`` or ended (``revoked``, ``expired``)
    for the situation ``ocr_nbr``, in the platform's format.

    It travels as status 40 (정보변경: the situation's information changed) of the platform's
    own event, with the news in ``ocrEvtItem``: ``GILMOK_FEED`` (live / revoked / expired),
    ``CAMERA_ID``, ``INCIDENT_ID`` and ``REASON``. It never holds a viewer credential or a
    camera's source.
    """
    items = [
        {"key": "GILMOK_FEED", "val": feed},
        {"key": "CAMERA_ID", "val": str(camera_id)},
        {"key": "INCIDENT_ID", "val": str(incident_id)},
        {"key": "REASON", "val": reason[:_MAX_TEXT]},
    ]
    body: dict[str, Any] = {
        **FRAME,
        "evtId": event_type,
        "evtNm": event_name,
        "ocrNbr": ocr_nbr,
        "ocrSts": MOVE,
        "ocrEvtSts": {"ocrEvtStsCd": MOVE, "ocrEvtStsDtl": STATUS_CODES[MOVE]},
        "ocrPlc": place,
        "ocrEvtStsTime": seoul_stamp(at),
        "ocrEvtItemCnt": str(len(items)),
        "ocrEvtItem": items,
    }
    if lon is not None and lat is not None:
        body["ocrLc"] = {"crdntX": f"{lon:.7f}", "crdntY": f"{lat:.7f}", "crdntZ": "0"}
    return {
        "svcTy": "EVENT",
        "cmnMtd": "1",
        "sendCd": SYSTEM_CODE,
        "rcvCd": platform_code,
        "encAt": "N",
        "tranTy": "HTTP",
        "reqDate": seoul_stamp(at),
        "sysCd": SYSTEM_CODE,
        "body": body,
    }
