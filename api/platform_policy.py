"""A platform event type as a legal basis: the area a policy covers, and its activation.

A policy (:mod:`geo.store.platforms`) says that an event type of a platform is itself one of
the legal bases, over the event's area — the 시군구 the event point lies in, or a circle of
``radius_m`` around it — for the situation's lifetime, at most ``max_hours``. It is activated
when the situation is raised (``automatic``, issued in the name of the policy's issuer, an
admin organization or a regional centre, whose service area bounds it as any activation's), or
when a regional centre confirms it (``regional_centre``: :func:`confirm_activation`, issued by
that centre). Either way the activation is an ordinary one (:mod:`geo.store.activations`): the
feed requests of the situation's incidents rest on it, and it ends when the situation does.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy.engine import Connection

from api.context import app_state
from geo.admin_areas import admin_area, sigungu_at
from geo.crs import geometry_to_lonlat, lonlat_to_xy
from geo.errors import Conflict, Forbidden
from geo.store import activations, audit, platforms
from geo.store import platform_events as events
from geo.store.platform_events import Situation
from geo.store.platforms import Platform, Policy


def policy_area(policy: Policy, lon: float, lat: float) -> MultiPolygon:
    """The area the policy's basis covers around (lon, lat): the 시군구 the point lies in, or a
    circle of ``radius_m`` (also where the point lies in no 시군구), lon/lat."""
    if policy.area == "sigungu":
        unit = sigungu_at(lon, lat)
        if unit is not None:
            return admin_area(sigungu=[unit.code]).area
    crs = app_state().settings.working_crs
    x, y = lonlat_to_xy([lon], [lat], crs=crs)
    circle = shapely.Point(float(x[0]), float(y[0])).buffer(policy.radius_m, quad_segs=32)
    ring = geometry_to_lonlat(np.asarray([circle], dtype=object), crs=crs)[0]
    return MultiPolygon([Polygon(ring.exterior)])


def activate_by_policy(
    conn: Connection,
    platform: Platform,
    situation: Situation,
    policy: Policy,
    point: tuple[float, float],
) -> tuple[int | None, str]:
    """The activation an automatic policy makes now: ``(its id, state)``."""
    if policy.activation != "automatic" or policy.issuer_id is None:
        return None, "awaiting_regional_centre"
    now = dt.datetime.now(dt.UTC)
    try:
        activation = activations.create_activation(
            conn,
            basis=policy.basis,
            reference=f"{platform.code} {situation.event_type} {situation.ocr_nbr}",
            area=policy_area(policy, *point),
            starts_at=now,
            ends_at=now + dt.timedelta(hours=policy.max_hours),
            issuer_id=policy.issuer_id,
            actor=platform.actor,
        )
    except Forbidden as exc:
        # The incidents are raised all the same; the basis is left to a regional centre.
        audit.append(
            conn,
            actor=platform.actor,
            organization_id=policy.issuer_id,
            action="platform.activation_refused",
            subject_type="platform_event",
            subject_id=situation.id,
            legal_basis=policy.basis,
            details={"reason": exc.message},
        )
        return None, "awaiting_regional_centre"
    return activation.id, "active"


def confirm_activation(conn: Connection, situation_id: int, *, issuer_id: int, actor: str) -> int:
    """A regional centre confirms the legal basis of a situation whose policy waits for one:
    the activation is made in its name (inside its service area); its id.

    Raises
    ------
    Conflict
        the situation is closed, has an activation already, or has no policy.
    Forbidden
        the area reaches outside the centre's service area.
    """
    situation = events.get_situation(conn, situation_id)
    if situation.state != "open" or situation.policy_id is None:
        raise Conflict(
            f"platform event {situation_id} is {situation.state} or names no policy:"
            " there is no basis to confirm",
            details={"id": situation_id},
        )
    if situation.activation_id is not None:
        raise Conflict(
            f"platform event {situation_id} has its activation already",
            details={"activation_id": situation.activation_id},
        )
    assert situation.lon is not None
    assert situation.lat is not None
    policy = platforms.get_policy(conn, situation.policy_id)
    now = dt.datetime.now(dt.UTC)
    activation = activations.create_activation(
        conn,
        basis=policy.basis,
        reference=f"{situation.event_type} {situation.ocr_nbr}",
        area=policy_area(policy, situation.lon, situation.lat),
        starts_at=now,
        ends_at=situation.created_at + dt.timedelta(hours=policy.max_hours),
        issuer_id=issuer_id,
        actor=actor,
    )
    events.set_activation(conn, situation.id, policy_id=policy.id, activation_id=activation.id)
    return activation.id
