"""``GET /v1/events``: Server-Sent Events telling a console what changed, scoped by role.

Each event is one step of the audit trail seen from outside (:mod:`geo.store.audit_events`)::

    id: 1234
    event: feed_request.approved
    data: {"type": "feed_request.approved", "at": "…", "feed_request_id": 7, "incident_id": 3,
           "activation_id": 2, "state": "approved"}

A client fetches the resource again when an event arrives; an event never holds more than the
reads show the caller. Who receives what is the reads' rule: a municipal centre the events of
requests for its cameras (and of the incidents those involve), a regional centre those routed
through it, a requester its own incidents' and requests', admin and auditor all; activations'
events go to every caller of the stream.

The id is the audit record's, rising with commit order: a client that reconnects with
``Last-Event-ID`` (a browser's EventSource does so by itself) or ``?after_id=`` receives what it
missed, at most :data:`MAX_BACKLOG` events (past that, one ``resync`` event says to fetch the
lists again). A comment line is sent every ``GILMOK_EVENTS_HEARTBEAT_S`` seconds (15) so that
proxies keep the connection. The stream ends with an ``end`` event (``data.reason``) when its
browser session ends (sign-out, its absolute end, its key revoked) or the API key is revoked,
when it falls :data:`api.event_hub.MAX_QUEUED` events behind, or when the server stops; a
heartbeat of a session's stream counts as the session's use (a video wall is not idle).

Each open stream holds one server thread: a process serves ``GILMOK_EVENTS_MAX_STREAMS`` (8) at
once, and refuses more with 503 ``too_many_streams`` (``gilmok serve`` gives every worker that
many threads beside those for requests). Events reach every stream of every process within a
second of their commit (:mod:`api.event_hub`: PostgreSQL LISTEN/NOTIFY). An app bound to one
database connection (tests) has no listener: its stream sends the events after the given id
and ends (``reason: replay``).
"""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator
from typing import Any

import marshmallow as ma
from flask import Response, current_app, g
from flask.views import MethodView
from marshmallow import fields, validate

from api.auth import current_caller, requires_roles
from api.context import app_state, transaction
from api.errors import TooManyStreams
from api.event_hub import EventHub, Subscription, event_hub, may_see
from api.schemas import INT64_MAX, Blueprint, Integer
from geo.store import audit_events, browser_sessions
from geo.store.app_role import app_transaction
from geo.store.audit_events import EVENT_TYPES, Event
from geo.store.orgs import Caller

READERS = ("requester", "regional_centre", "municipal_centre", "admin", "auditor")
#: Events missed that a reconnecting stream is sent at most (else one ``resync``).
MAX_BACKLOG = 2000
#: Milliseconds a browser waits before reconnecting a stream that closed.
RETRY_MS = 1000
END_REASONS = (
    "session_ended",
    "session_expired",
    "key_revoked",
    "too_far_behind",
    "server_stopping",
    "replay",
)

blp = Blueprint(
    "events",
    __name__,
    url_prefix="/v1",
    description="Server-Sent Events: incidents, feed requests, feed sessions and activations"
    " changing, scoped by role as the reads are",
)


class EventsQuery(ma.Schema):
    after_id = Integer(
        validate=validate.Range(min=0, max=INT64_MAX),
        metadata={"description": "Send the events after this id first (as Last-Event-ID)"},
    )


class EventsHeaders(ma.Schema):
    last_event_id = fields.String(
        data_key="Last-Event-ID",
        validate=validate.Regexp(r"^[0-9]{1,18}$"),
        metadata={
            "description": "The id of the last event received (a browser's EventSource sends"
            " it when it reconnects): the missed events are sent first",
            "pattern": "^[0-9]{1,18}$",
        },
    )


_EVENT_DATA = {
    "type": "object",
    "required": ["type", "at"],
    "properties": {
        "type": {"type": "string", "enum": [*EVENT_TYPES, "resync", "end"]},
        "at": {"type": "string", "format": "date-time"},
        "incident_id": {"type": "integer"},
        "feed_request_id": {"type": "integer"},
        "feed_session_id": {"type": "integer"},
        "activation_id": {"type": "integer"},
        "state": {"type": "string"},
        "reason": {
            "type": "string",
            "enum": [*audit_events.END_REASONS, "reprovisioned", *END_REASONS],
        },
        "message": {"type": "string"},
    },
}
_STREAM_DOC = {
    "description": "A text/event-stream of frames `id: <n>`, `event: <type>`, `data: <JSON>`"
    " (the JSON object x-event-data describes), with `: keep-alive` comments. Types: "
    + ", ".join(EVENT_TYPES)
    + "; `resync` (too many missed: fetch the lists again) and `end` (the stream closes:"
    " data.reason is one of " + ", ".join(END_REASONS) + ").",
    "content": {
        "text/event-stream": {
            "example": 'id: 42\nevent: feed_request.approved\ndata: {"type":'
            ' "feed_request.approved", "at": "2026-12-03T12:00:00+00:00",'
            ' "feed_request_id": 7, "incident_id": 3, "activation_id": 2,'
            ' "state": "approved"}\n\n'
        }
    },
    "x-event-data": _EVENT_DATA,
}


def frame(event: Event) -> str:
    """One event as a Server-Sent Events frame."""
    data = json.dumps(event.data, ensure_ascii=False, separators=(",", ":"))
    return f"id: {event.id}\nevent: {event.type}\ndata: {data}\n\n"


def _control_frame(kind: str, **data: Any) -> str:
    body = json.dumps(
        {"type": kind, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **data},
        separators=(",", ":"),
    )
    return f"event: {kind}\ndata: {body}\n\n"


def _backlog(conn: Any, caller: Caller, after: int, until: int | None) -> list[Event] | None:
    """The events ``caller`` may see in (after, until]; None when more than MAX_BACKLOG."""
    out: list[Event] = []
    cursor = after
    while until is None or cursor < until:
        events, cursor_next = audit_events.events_after(conn, cursor)
        if cursor_next == cursor:
            break
        cursor = cursor_next
        for event in events:
            if until is not None and event.id > until:
                return out
            if may_see(caller, event):
                out.append(event)
        if len(out) > MAX_BACKLOG:
            return None
    return out


def _stream(
    hub: EventHub,
    sub: Subscription,
    backlog: list[Event] | None,
    start: int,
    *,
    heartbeat_s: float,
    session_ends_at: float | None,
    idle_s: float,
) -> Iterator[str]:
    try:
        yield f"retry: {RETRY_MS}\n\n"
        if backlog is None:
            yield _control_frame("resync")
        for missed in backlog or ():
            yield frame(missed)
        sent = start
        while True:
            wait = heartbeat_s
            if session_ends_at is not None:
                left = session_ends_at - time.time()
                if left <= 0:
                    yield _control_frame("end", reason="session_expired")
                    return
                wait = min(wait, left)
            try:
                event = sub.events.get(timeout=wait)
            except queue.Empty:
                if sub.session_id is not None and not _keep_alive(hub, sub.session_id, idle_s):
                    yield _control_frame("end", reason="session_ended")
                    return
                yield ": keep-alive\n\n"
                continue
            if event is None:
                yield _control_frame("end", reason=sub.ended or "server_stopping")
                return
            if event.id > sent:
                sent = event.id
                yield frame(event)
    finally:
        hub.unsubscribe(sub)


def _keep_alive(hub: EventHub, session_id: int, idle_s: float) -> bool:
    """Note the session's use; False when it has ended. A database that does not answer keeps
    the stream (the hub's controls still end it)."""
    try:
        with app_transaction(hub.engine) as conn:
            if not browser_sessions.is_alive(conn, session_id, idle_s=idle_s):
                return False
            browser_sessions.touch(conn, session_id)
    except Exception:  # the stream outlives a database restart
        return True
    return True


def _headers() -> dict[str, str]:
    return {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


@blp.route("/events")
class Events(MethodView):
    @requires_roles(*READERS)
    @blp.arguments(EventsQuery, location="query", unknown=ma.RAISE)
    @blp.arguments(EventsHeaders, location="headers", unknown=ma.EXCLUDE)
    @blp.doc(
        responses={
            "200": _STREAM_DOC,
            "503": {"description": "This server process holds its most event streams already"},
        }
    )
    def get(self, args: dict[str, Any], headers: dict[str, Any]) -> Response:
        """Server-Sent Events: what changed, for the caller's role (fetch the resource again)"""
        caller = current_caller()
        session = g.get("browser_session")
        after = int(headers["last_event_id"]) if "last_event_id" in headers else None
        if after is None:
            after = args.get("after_id")
        settings = app_state().settings
        hub = event_hub(current_app._get_current_object())  # type: ignore[attr-defined]
        if hub is None:
            with transaction() as conn:
                replayed = _backlog(conn, caller, after, None) if after is not None else []
            body = f"retry: {RETRY_MS}\n\n"
            body += _control_frame("resync") if replayed is None else ""
            body += "".join(frame(e) for e in replayed or ())
            body += _control_frame("end", reason="replay")
            return Response(body, mimetype="text/event-stream", headers=_headers())
        subscribed = hub.subscribe(caller, session.id if session is not None else None)
        if subscribed is None:
            raise TooManyStreams(
                f"this server process holds its {hub.max_streams} event streams already;"
                " retry shortly",
                details={"max_streams": hub.max_streams},
            )
        sub, start = subscribed
        try:
            backlog: list[Event] | None = []
            if after is not None and after < start:
                with transaction() as conn:
                    backlog = _backlog(conn, caller, after, start)
        except BaseException:
            hub.unsubscribe(sub)
            raise
        stream = _stream(
            hub,
            sub,
            backlog,
            max(start, after or 0),
            heartbeat_s=settings.events_heartbeat_s,
            session_ends_at=session.expires_at.timestamp() if session is not None else None,
            idle_s=settings.session_idle_s,
        )
        return Response(stream, mimetype="text/event-stream", headers=_headers())
