"""What a platform's event message does: raise, move or close its situation's incidents.

One message is applied in one transaction (the request's), with the situation's row locked
(:func:`geo.store.platform_events.lock_event`), so that a message either has all its effects or
none, and two messages of one situation never interleave:

- **10 발생** raises an incident for each situation room subscribed to the platform and event
  type (:func:`geo.store.platforms.subscriptions_for`), through the incident code path of
  ``POST /v1/incidents`` (the core query at the event point with the subscription's cordon,
  recorded by :func:`geo.store.incidents.create_incident`). Under a policy, the event type is
  itself a legal basis over the event's area: an activation is made at once (``automatic``) or
  left for a regional centre to confirm (``POST /v1/platform/events/{id}/activate``).
- **40 정보변경** moves the situation: each open incident's answer is recomputed at the new
  point (:func:`geo.store.incidents.move_incident`); its new cameras are offered (named in the
  answer), and the feeds of the cameras it no longer has, or that stand outside the moved
  activation's area, are revoked now (:func:`api.feeds.revoke.revoke_for`). A 40 for a
  situation not heard of before raises it, as a 10 would.
- **50 해제, 90 취소, 91 종료, 92 자동종료** close the incidents and revoke their feeds in the
  request, relay streams destroyed before the answer (as ending an activation does), and end
  the activation the policy made.
- A message already logged (same platform, ``ocrNbr`` and status) changes nothing and is
  audited as a repeat; a message for a closed situation (a 10 after a 91) changes nothing and is
  audited as ignored; a closing message for a situation never raised records it closed, so a
  10 arriving late raises nothing.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from api.context import app_state
from api.feeds.revoke import revoke_for
from api.platform_policy import activate_by_policy, policy_area
from api.spatial import answer_at
from geo.cordon import CordonOptions
from geo.errors import Conflict, InvalidInput, OutsideCoverageArea
from geo.platform_message import CLOSING, MOVE, RAISE, STATUS_CODES, EventMessage, MessageRefused
from geo.store import activations, audit, platforms
from geo.store import incidents as incident_store
from geo.store import platform_events as events
from geo.store.platform_events import Situation
from geo.store.platforms import Platform, Policy


@dataclass
class Applied:
    """What one message did, for the answer and the audit trail."""

    situation_id: int
    outcome: str
    incidents: list[int] = field(default_factory=list)
    offered: dict[int, list[int]] = field(default_factory=dict)
    revoked_requests: list[int] = field(default_factory=list)
    activation_id: int | None = None
    activation_state: str = "none"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.situation_id,
            "outcome": self.outcome,
            "incidents": self.incidents,
            "offered_cameras": {str(k): v for k, v in self.offered.items()},
            "revoked_feed_requests": self.revoked_requests,
            "activation": {"id": self.activation_id, "state": self.activation_state},
        }


def _callback(platform: Platform, message: EventMessage) -> str:
    """The message's callback when it is on the registered callback's server, else that one."""
    if message.callback_url and platforms.same_origin(message.callback_url, platform.callback_url):
        return message.callback_url
    return platform.callback_url


def apply_message(conn: Connection, platform: Platform, message: EventMessage, raw: Any) -> Applied:
    """Apply ``message`` of ``platform`` in ``conn``'s transaction (module docstring).

    Raises
    ------
    MessageRefused
        no situation room subscribes to the event type and no policy names it (4004), or the
        event point lies off the loaded roads (4102); nothing is written.
    """
    audit.lock_chain(conn)  # before any row lock: see lock_chain
    situation, created = events.lock_event(
        conn, message, platform_id=platform.id, callback_url=_callback(platform, message)
    )
    subscriptions = platforms.subscriptions_for(conn, platform.id, situation.event_type)
    policy = platforms.policy_for(conn, platform.id, situation.event_type)
    if created and not subscriptions and policy is None:
        # A situation of a known type still closes after its subscriptions are gone.
        raise MessageRefused(
            f"no situation room subscribes to event type {message.event_type!r} of"
            f" {platform.code}, and no policy names it",
            result_code="4004",
            field="evtId",
        )
    logged = events.log_message(
        conn,
        platform_id=platform.id,
        situation_id=situation.id,
        message=message,
        raw=raw,
        outcome="received",
    )
    if not logged.first:
        applied = Applied(situation.id, "repeat", activation_id=situation.activation_id)
        _audit(
            conn,
            platform,
            situation.id,
            "platform.message_repeated",
            message,
            first_outcome=logged.outcome,
        )
        return applied
    if created and message.closing:
        applied = Applied(situation.id, "closed_before_raised")
    elif created:
        applied = _raise(conn, platform, situation, message, subscriptions, policy)
    elif situation.state == "closed":
        applied = Applied(situation.id, "ignored_situation_closed")
    elif message.status == RAISE:
        applied = Applied(situation.id, "ignored_raised_already")
    elif message.status == MOVE:
        applied = _move(conn, platform, situation, message)
        events.update_situation(
            conn, situation.id, message, callback_url=_callback(platform, message)
        )
    else:
        applied = _close(conn, platform, situation, message)
        events.update_situation(
            conn, situation.id, message, callback_url=_callback(platform, message)
        )
    if applied.activation_id is None and applied.activation_state == "none":
        applied.activation_id = situation.activation_id
    events.set_outcome(conn, logged.id, applied.outcome)
    _audit(
        conn,
        platform,
        situation.id,
        f"platform.event_{applied.outcome}",
        message,
        **applied.as_dict(),
    )
    return applied


def _audit(
    conn: Connection,
    platform: Platform,
    situation_id: int,
    action: str,
    message: EventMessage,
    **details: Any,
) -> None:
    audit.append(
        conn,
        actor=platform.actor,
        organization_id=None,
        action=action,
        subject_type="platform_event",
        subject_id=situation_id,
        details={
            "platform": platform.code,
            "ocr_nbr": message.ocr_nbr,
            "event_type": message.event_type,
            "status": message.status,
            "status_name": STATUS_CODES[message.status],
            **details,
        },
    )


def _point(situation: Situation, message: EventMessage) -> tuple[float, float]:
    lon = message.lon if message.lon is not None else situation.lon
    lat = message.lat if message.lat is not None else situation.lat
    if lon is None or lat is None:
        raise MessageRefused(
            "the situation has no position (ocrLc)", result_code="4101", field="ocrLc"
        )
    return lon, lat


def _answer(lon: float, lat: float, cordon: CordonOptions, level: str) -> Any:
    try:
        return answer_at(lon, lat, cordon, level=level)
    except (InvalidInput, OutsideCoverageArea) as exc:
        raise MessageRefused(f"no answer at ({lon}, {lat}): {exc.message}", field="ocrLc") from exc


def _raise(
    conn: Connection,
    platform: Platform,
    situation: Situation,
    message: EventMessage,
    subscriptions: list[platforms.Subscription],
    policy: Policy | None,
) -> Applied:
    point = _point(situation, message)
    applied = Applied(situation.id, "raised")
    if policy is not None:
        applied.activation_id, applied.activation_state = activate_by_policy(
            conn, platform, situation, policy, point
        )
        events.set_activation(
            conn, situation.id, policy_id=policy.id, activation_id=applied.activation_id
        )
    note = " · ".join(
        t
        for t in (
            message.event_name,
            message.place,
            f"{platform.name} {message.event_type} {message.ocr_nbr}",
        )
        if t
    )
    for sub in subscriptions:
        answer = _answer(*point, sub.cordon(), sub.level)
        incident = incident_store.create_incident(
            conn,
            requester_id=sub.organization_id,
            location=point,
            answer=answer,
            note=note,
            actor=platform.actor,
        )
        events.link_incident(conn, situation.id, incident.id, sub.id)
        applied.incidents.append(incident.id)
    return applied


def _move(
    conn: Connection, platform: Platform, situation: Situation, message: EventMessage
) -> Applied:
    point = _point(situation, message)
    applied = Applied(situation.id, "moved", activation_id=situation.activation_id)
    relay = app_state().relay
    if situation.activation_id is not None and situation.policy_id is not None:
        policy = platforms.get_policy(conn, situation.policy_id)
        events.move_activation_area(conn, situation.activation_id, policy_area(policy, *point))
        applied.activation_state = "active"
    for incident_id, _, status in events.incidents_of(conn, situation.id):
        if status != "open":
            continue
        incident = incident_store.get_incident(conn, incident_id)
        cordon = CordonOptions(
            radius_m=incident.radius_m,
            mode=incident.mode,
            direction=incident.direction,
            travel=incident.travel,
        )
        answer = _answer(*point, cordon, incident.level)
        _, before, after = incident_store.move_incident(
            conn,
            incident_id,
            location=point,
            answer=answer,
            actor=platform.actor,
            organization_id=incident.requester_id,
            reason=f"{platform.code} {message.ocr_nbr} 정보변경",
        )
        applied.incidents.append(incident_id)
        applied.offered[incident_id] = sorted(after - before)
        for request_id, camera_id, inside in events.open_requests(conn, incident_id):
            if camera_id in after and inside:
                continue
            why = (
                "no longer watches an approach"
                if camera_id not in after
                else ("stands outside the moved legal basis's area")
            )
            revoke_for(
                conn,
                relay,
                feed_request_id=request_id,
                actor=platform.actor,
                reason=f"the situation moved: camera {camera_id} {why}",
            )
            applied.revoked_requests.append(request_id)
    return applied


def _close(
    conn: Connection, platform: Platform, situation: Situation, message: EventMessage
) -> Applied:
    assert message.status in CLOSING
    reason = f"{platform.code} {message.ocr_nbr} {STATUS_CODES[message.status]}"
    applied = Applied(situation.id, "closed", activation_id=situation.activation_id)
    relay = app_state().relay
    for incident_id, _, status in events.incidents_of(conn, situation.id):
        applied.incidents.append(incident_id)
        if status != "open":
            continue
        incident = incident_store.get_incident(conn, incident_id)
        incident_store.close_incident(
            conn,
            incident_id,
            actor=platform.actor,
            organization_id=incident.requester_id,
            reason=reason,
        )
        revoke_for(
            conn,
            relay,
            incident_id=incident_id,
            actor=platform.actor,
            reason=f"incident closed: {reason}",
        )
    if situation.activation_id is not None:
        activation = activations.get_activation(conn, situation.activation_id)
        with contextlib.suppress(Conflict):  # it ran its course, or a centre ended it
            activations.end_activation(
                conn,
                activation.id,
                actor=platform.actor,
                organization_id=activation.issuer_id,
                reason=reason,
            )
        revoke_for(
            conn,
            relay,
            activation_id=activation.id,
            actor=platform.actor,
            reason=f"activation (legal basis) ended: {reason}",
        )
        applied.activation_state = "ended"
    return applied
