"""Platform situations (``platform_event``), the incidents they raised
(``platform_event_incident``) and the event log of every message (``platform_message``).

A situation is one ``ocrNbr`` of one platform. Its messages are applied one at a time: the
situation's row is locked (:func:`lock_event`) before anything is read or written, so two
messages of one situation never interleave, whatever worker takes them. The event log is keyed
by platform, ``ocrNbr`` and status: the first receipt keeps the raw message and its outcome,
a repeat only counts (:func:`log_message`), which is what makes a replay change nothing.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from shapely.geometry import MultiPolygon
from sqlalchemy.engine import Connection

from geo.errors import NotFound
from geo.platform_message import EventMessage
from geo.store.queries import query

_MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class Situation:
    """A platform's situation as stored; ``lon``/``lat`` None when no message placed it."""

    id: int
    platform_id: int
    ocr_nbr: str
    event_type: str
    event_name: str
    grade: str
    place: str
    lon: float | None
    lat: float | None
    status_code: str
    state: str
    callback_url: str
    policy_id: int | None
    activation_id: int | None
    created_at: dt.datetime
    updated_at: dt.datetime
    closed_at: dt.datetime | None


@dataclass(frozen=True)
class LoggedMessage:
    id: int
    outcome: str
    first: bool


@dataclass(frozen=True)
class SituationOfIncident:
    """What an event out about an incident needs of the situation that raised it."""

    id: int
    platform_id: int
    platform_code: str
    event_type: str
    event_name: str
    ocr_nbr: str
    lon: float | None
    lat: float | None
    place: str
    callback_url: str
    registered_callback: str


def lock_event(
    conn: Connection, message: EventMessage, *, platform_id: int, callback_url: str
) -> tuple[Situation, bool]:
    """The situation of ``message``, locked; created (with the message's facts) when new.

    Returns the situation and whether this call created it.
    """
    created = conn.execute(
        query("platform_events/insert"),
        {
            "platform": platform_id,
            "ocr_nbr": message.ocr_nbr,
            "event_type": message.event_type,
            "event_name": message.event_name,
            "grade": message.grade,
            "place": message.place,
            "lon": message.lon,
            "lat": message.lat,
            "status": message.status,
            "state": "closed" if message.closing else "open",
            "callback_url": callback_url,
        },
    ).rowcount
    row = conn.execute(
        query("platform_events/for_update"),
        {"platform": platform_id, "ocr_nbr": message.ocr_nbr},
    ).one()
    return Situation(**row._mapping), bool(created)


def get_situation(conn: Connection, event_id: int) -> Situation:
    row = None
    if 1 <= event_id <= _MAX_ID:
        row = conn.execute(query("platform_events/by_id"), {"id": event_id}).first()
    if row is None:
        raise NotFound(f"no platform event has the id {event_id}", details={"id": event_id})
    return Situation(**row._mapping)


def update_situation(
    conn: Connection, situation_id: int, message: EventMessage, *, callback_url: str
) -> None:
    """Record the message's status (and its position and place, when it gives them)."""
    conn.execute(
        query("platform_events/update"),
        {
            "id": situation_id,
            "status": message.status,
            "state": "closed" if message.closing else "open",
            "place": message.place,
            "lon": message.lon,
            "lat": message.lat,
            "callback_url": callback_url,
        },
    )


def set_activation(
    conn: Connection, situation_id: int, *, policy_id: int | None, activation_id: int | None
) -> None:
    conn.execute(
        query("platform_events/set_activation"),
        {"id": situation_id, "policy": policy_id, "activation": activation_id},
    )


def link_incident(
    conn: Connection, situation_id: int, incident_id: int, subscription_id: int
) -> None:
    conn.execute(
        query("platform_events/link_incident"),
        {"event": situation_id, "incident": incident_id, "subscription": subscription_id},
    )


def incidents_of(conn: Connection, situation_id: int) -> list[tuple[int, int, str]]:
    """``(incident id, subscription id, incident status)`` of each incident it raised."""
    rows = conn.execute(query("platform_events/incidents_of"), {"event": situation_id})
    return [(int(r.incident_id), int(r.subscription_id), str(r.status)) for r in rows]


def log_message(
    conn: Connection,
    *,
    platform_id: int,
    situation_id: int,
    message: EventMessage,
    raw: Any,
    outcome: str,
) -> LoggedMessage:
    """Log one receipt of ``message``; ``first`` is False for a repeat of a logged one."""
    row = conn.execute(
        query("platform_events/log_message"),
        {
            "platform": platform_id,
            "ocr_nbr": message.ocr_nbr,
            "status": message.status,
            "event": situation_id,
            "outcome": outcome,
            "raw": json.dumps(raw, ensure_ascii=False),
        },
    ).one()
    return LoggedMessage(int(row.id), str(row.outcome), bool(row.first))


def set_outcome(conn: Connection, message_id: int, outcome: str) -> None:
    conn.execute(query("platform_events/set_outcome"), {"id": message_id, "outcome": outcome})


def messages_of(conn: Connection, situation_id: int) -> list[dict[str, Any]]:
    """The event log of a situation, oldest first."""
    rows = conn.execute(query("platform_events/messages_of"), {"event": situation_id})
    return [dict(r._mapping) for r in rows]


def situation_of_incident(conn: Connection, incident_id: int) -> SituationOfIncident | None:
    row = conn.execute(query("platform_events/of_incident"), {"incident": incident_id}).first()
    return None if row is None else SituationOfIncident(**row._mapping)


def move_activation_area(conn: Connection, activation_id: int, area: MultiPolygon) -> None:
    """The activation a policy made follows its situation (``area`` lon/lat)."""
    conn.execute(query("platform_events/activation_area"), {"id": activation_id, "wkb": area.wkb})


def open_requests(conn: Connection, incident_id: int) -> list[tuple[int, int, bool]]:
    """``(feed request id, camera id, camera inside its activation's area)`` of the incident's
    requests that may still become or stay live."""
    rows = conn.execute(query("platform_events/open_requests"), {"incident": incident_id})
    return [(int(r.id), int(r.camera_id), bool(r.inside_activation)) for r in rows]
