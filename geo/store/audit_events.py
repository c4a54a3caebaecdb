"""Events read from the audit trail: what a console is told happened, and who may be told.

The audit trail records every step of an incident, a feed request, a feed session and an
activation, in one chain whose ids rise with commit order (appends are serialised by the
chain's lock and committed while holding it, :mod:`geo.store.audit`). An event is such a record
seen from outside: its id is the record's id (so a client resumes after the last id it saw),
its type is named for the resource it concerns (:data:`EVENT_TYPES`), and it says which
resource to fetch again — never more than the reads would show.

Who may be told (``audience``, organization ids; None for every reader): an incident's events
go to its requester and the centres it involves
(:func:`geo.store.incidents.involved_organizations`);
a feed request's and its session's to the requester, the camera's owner and the regional centre
it was routed through; an activation's to everyone who reads activations. ``admin`` and
``auditor`` see all (the web layer applies roles). Two records are not events but end event
streams: a key's revocation and a browser session's end (``control``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from geo.store import incidents
from geo.store.queries import query

#: The event types a stream may carry.
EVENT_TYPES = (
    "incident.opened",
    "incident.closed",
    "feed_request.created",
    "feed_request.approved",
    "feed_request.denied",
    "feed_request.deferred",
    "feed_request.failed",
    "feed_request.revoked",
    "feed_request.expired",
    "feed_session.live",
    "feed_session.ended",
    "feed_session.source_lost",
    "feed_session.source_restored",
    "activation.started",
    "activation.ended",
)
#: Why a feed session ended (``reason`` of ``feed_session.ended``, ``feed_request.revoked`` and
#: ``feed_request.expired``).
END_REASONS = ("revoked", "expired", "activation_ended", "incident_closed")
#: Controls: the key (``api_key`` id) or the browser session whose streams end now.
CONTROL_ACTIONS = {"api_key.revoked": "key_revoked", "session.ended": "session_ended"}


@dataclass(frozen=True)
class Event:
    """One event: ``id`` and ``at`` are its audit record's; ``data`` is what a client receives
    (``type``, ``at`` and the ids and state it concerns); ``audience`` who may receive it."""

    id: int
    type: str
    at: dt.datetime
    data: dict[str, Any]
    audience: frozenset[int] | None = None
    #: for a control record: (what ended, the api_key or browser_session id)
    control: tuple[str, int] | None = None
    #: for an incident's event: its id, whose involved centres join the audience
    incident_id: int | None = field(default=None, compare=False)


def end_reason(status: str, message: str) -> str:
    """The :data:`END_REASONS` code of a feed's end, from its status and recorded reason."""
    text = message.lower()
    if text.startswith("revoked by"):
        return "revoked"
    if "activation" in text:
        return "activation_ended"
    if "incident" in text and "closed" in text:
        return "incident_closed"
    return "expired" if status == "expired" else "revoked"


def _request_event(row: Any, kind: str, state: str, **extra: Any) -> dict[str, Any]:
    data = {
        "type": f"feed_request.{kind}",
        "feed_request_id": row.request_id,
        "incident_id": row.request_incident_id,
        "activation_id": row.request_activation_id,
        "state": state,
    }
    return {**data, **{k: v for k, v in extra.items() if v not in (None, "")}}


def _session_event(row: Any, kind: str, state: str, **extra: Any) -> dict[str, Any]:
    session_id = (
        int(row.subject_id)
        if row.subject_type == "feed_session"
        else row.details.get("feed_session_id")
    )
    data = {
        "type": f"feed_session.{kind}",
        "feed_session_id": session_id,
        "feed_request_id": row.request_id,
        "incident_id": row.request_incident_id,
        "activation_id": row.request_activation_id,
        "state": state,
    }
    return {**data, **{k: v for k, v in extra.items() if v not in (None, "")}}


def _ended(status: str) -> Callable[[Any], dict[str, Any]]:
    def make(row: Any) -> dict[str, Any]:
        message = str(row.details.get("reason", ""))
        reason = end_reason(status, message)
        if row.subject_type == "feed_session":
            return _session_event(row, "ended", status, reason=reason, message=message)
        return _request_event(row, status, status, reason=reason, message=message)

    return make


def _activation(kind: str) -> Callable[[Any], dict[str, Any]]:
    def make(row: Any) -> dict[str, Any]:
        data: dict[str, Any] = {"type": f"activation.{kind}", "activation_id": int(row.subject_id)}
        if kind == "started":
            starts = dt.datetime.fromisoformat(str(row.details.get("starts_at")))
            data["state"] = "active" if starts <= row.at else "scheduled"
        elif row.action == "activation.expired":  # it ran out on its own: no one ended it
            data["state"] = "expired"
        else:
            data["state"] = "ended"
            if row.details.get("reason"):
                data["message"] = str(row.details["reason"])
        return data

    return make


def _incident(kind: str) -> Callable[[Any], dict[str, Any]]:
    def make(row: Any) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": f"incident.{kind}",
            "incident_id": int(row.subject_id),
            "state": "open" if kind == "opened" else "closed",
        }
        if row.details.get("reason"):
            data["message"] = str(row.details["reason"])
        return data

    return make


def _message(row: Any) -> str | None:
    return row.details.get("reason") or None


#: Audit action → the event it makes.
_MAKERS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "incident.created": _incident("opened"),
    "incident.closed": _incident("closed"),
    "feed.requested": lambda r: _request_event(r, "created", "pending"),
    "feed.approved": lambda r: _request_event(r, "approved", "approved"),
    "feed.denied": lambda r: _request_event(r, "denied", "denied", message=_message(r)),
    "feed.provision_deferred": lambda r: _request_event(
        r, "deferred", "approved", message=_message(r)
    ),
    "feed.failed": lambda r: _request_event(r, "failed", "failed", message=_message(r)),
    "feed.revoked": _ended("revoked"),
    "feed.expired": _ended("expired"),
    "feed.provisioned": lambda r: _session_event(r, "live", "live"),
    "feed.reprovisioned": lambda r: _session_event(r, "live", "live", reason="reprovisioned"),
    "feed.source_lost": lambda r: _session_event(r, "source_lost", "live"),
    "feed.source_restored": lambda r: _session_event(r, "source_restored", "live"),
    "activation.created": _activation("started"),
    "activation.ended": _activation("ended"),
    "activation.expired": _activation("ended"),
}
_ACTIONS = [*_MAKERS, *CONTROL_ACTIONS]


def _event(row: Any) -> Event:
    if row.action in CONTROL_ACTIONS:
        control = (CONTROL_ACTIONS[row.action], int(row.subject_id))
        return Event(row.id, "control", row.at, {}, frozenset(), control=control)
    data = _MAKERS[row.action](row)
    data = {"type": data.pop("type"), "at": row.at.isoformat(), **data}
    if row.subject_type == "incident":
        audience = frozenset({row.incident_requester_id} - {None})
        return Event(row.id, data["type"], row.at, data, audience, incident_id=int(row.subject_id))
    if row.request_id is not None:
        people = {row.request_requester_id, row.request_owner_id, row.request_via_id}
        return Event(row.id, data["type"], row.at, data, frozenset(people - {None}))
    return Event(row.id, data["type"], row.at, data, None)


def head(conn: Connection) -> int:
    """The id of the newest audit record (0 when there is none)."""
    return int(conn.execute(query("audit_events/head")).scalar_one())


def events_after(conn: Connection, after_id: int, *, limit: int = 500) -> tuple[list[Event], int]:
    """The events (and controls) after ``after_id``, oldest first, at most ``limit``; and the id
    the next call starts after (the last record read, event or not)."""
    rows = conn.execute(
        query("audit_events/after"), {"after": after_id, "actions": _ACTIONS, "limit": limit}
    ).all()
    out = []
    involved: dict[int, frozenset[int]] = {}
    for row in rows:
        event = _event(row)
        if event.incident_id is not None:
            if event.incident_id not in involved:
                involved[event.incident_id] = frozenset(
                    incidents.involved_organizations(conn, event.incident_id)
                )
            audience = (event.audience or frozenset()) | involved[event.incident_id]
            event = Event(event.id, event.type, event.at, event.data, audience, None, None)
        out.append(event)
    return out, (rows[-1].id if rows else after_id)
