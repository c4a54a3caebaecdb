"""Activations: the legal bases in force, each for an area and a period.

Video may be provided only inside an active activation: :func:`active_activation_covering` is
the question the incidents and feeds code asks of the incident point, and
:func:`activations_for_cameras` the one it asks of each camera's position (a camera standing
outside every activation's area may not be requested, however close to the incident). A
centre records activations only inside its service area (:func:`create_activation`).

An activation is *scheduled* before its start, *active* from ``starts_at`` until ``ends_at``
or until it is ended early, then *ended* (ended early) or *expired* (ran its course). Areas
arrive and leave as lon/lat (EPSG:4326) and are stored in the working CRS. Creating and ending
are audited in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from shapely.geometry import MultiPolygon
from sqlalchemy import String, and_, func, or_, select, true
from sqlalchemy.engine import Connection

from geo import domain
from geo.areas import geodesic_area_km2
from geo.errors import Conflict, Forbidden, InvalidInput, NoLegalBasis, NotFound
from geo.store import audit, models
from geo.store.orgs import CENTRE_KINDS
from geo.store.queries import bigint, query

#: Longest period one activation may cover; a longer situation is renewed with a new reference.
MAX_PERIOD = dt.timedelta(days=90)
#: How far ahead an activation may be recorded (exercises are announced months before).
MAX_LEAD = dt.timedelta(days=366)

ActivationState = Literal["scheduled", "active", "ended", "expired"]
_MAX_ID = 2**31 - 1

_A = models.Activation.__table__.alias("a")
_O = models.Organization.__table__.alias("o")
#: What :func:`list_activations` reads, as the .sql statements do: an activation, its issuer's
#: name and its area as lon/lat GeoJSON.
_LISTED = select(
    _A.c.id,
    _A.c.basis,
    _A.c.reference,
    _A.c.issuer_id,
    _O.c.name.label("issuer_name"),
    func.ST_AsGeoJSON(func.ST_Transform(_A.c.area, 4326), 7, type_=String).label("area_geojson"),
    _A.c.starts_at,
    _A.c.ends_at,
    _A.c.ended_at,
    _A.c.created_at,
).join_from(_A, _O, _O.c.id == _A.c.issuer_id)


@dataclass(frozen=True)
class Activation:
    """An activation as stored; ``area`` is a GeoJSON MultiPolygon in lon/lat."""

    id: int
    basis: str
    reference: str
    issuer_id: int
    issuer_name: str
    area: dict[str, Any]
    starts_at: dt.datetime
    ends_at: dt.datetime
    ended_at: dt.datetime | None
    created_at: dt.datetime

    @property
    def effective_end(self) -> dt.datetime:
        """When video stops being allowed: the planned end, or the early end."""
        return min(self.ends_at, self.ended_at) if self.ended_at else self.ends_at

    def state(self, at: dt.datetime) -> ActivationState:
        if self.ended_at is not None and self.ended_at <= at and self.ended_at < self.ends_at:
            return "ended"
        if at >= self.ends_at:
            return "expired"
        if at < self.starts_at:
            return "scheduled"
        return "active"


def _row(row: Any) -> Activation:
    values = dict(row._mapping)
    values["area"] = json.loads(values.pop("area_geojson"))
    return Activation(**values)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def get_activation(conn: Connection, activation_id: int) -> Activation:
    """Raises :class:`NotFound` for an unknown id."""
    row = None
    if 1 <= activation_id <= _MAX_ID:
        row = conn.execute(query("activations/by_id"), {"id": activation_id}).first()
    if row is None:
        raise NotFound(f"no activation has the id {activation_id}", details={"id": activation_id})
    return _row(row)


def create_activation(
    conn: Connection,
    *,
    basis: str,
    reference: str,
    area: MultiPolygon,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    issuer_id: int,
    actor: str,
    area_codes: Sequence[str] = (),
) -> Activation:
    """Record an activation issued by organization ``issuer_id``.

    ``area`` is a validated lon/lat MultiPolygon (:func:`geo.areas.area_from_geojson`), or the
    union of the 시군구 / 읍면동 ``area_codes`` (:func:`geo.admin_areas.area_of_codes`), which
    the audit record names.

    Raises
    ------
    InvalidInput
        unknown basis, empty reference, naive times, end not after start, a period over
        :data:`MAX_PERIOD`, already over, or starting more than :data:`MAX_LEAD` ahead.
    Forbidden
        the issuer is a centre without a service area, or the activation's area reaches
        outside the issuer's service area (:func:`_check_within_service_area`).
    """
    if basis not in domain.LEGAL_BASES:
        raise InvalidInput(
            f"unknown legal basis {basis!r}: one of {', '.join(domain.LEGAL_BASES)}",
            details={"field": "basis"},
        )
    reference = reference.strip()
    if not reference:
        raise InvalidInput("an activation needs the reference number of its legal basis")
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise InvalidInput("starts_at and ends_at need a time zone (e.g. +09:00 or Z)")
    if ends_at <= starts_at:
        raise InvalidInput("ends_at must be after starts_at", details={"field": "ends_at"})
    if ends_at - starts_at > MAX_PERIOD:
        raise InvalidInput(
            f"an activation may last at most {MAX_PERIOD.days} days; renew it with a new"
            " reference for a longer situation",
            details={"field": "ends_at", "max_days": MAX_PERIOD.days},
        )
    now = _now()
    if ends_at <= now:
        raise InvalidInput("ends_at is in the past: the activation would never be in force")
    if starts_at > now + MAX_LEAD:
        raise InvalidInput(
            f"starts_at is more than {MAX_LEAD.days} days ahead", details={"field": "starts_at"}
        )
    wkb = area.wkb
    _check_within_service_area(conn, issuer_id=issuer_id, wkb=wkb)
    activation_id = conn.execute(
        query("activations/create"),
        {
            "basis": basis,
            "reference": reference,
            "issuer": issuer_id,
            "wkb": wkb,
            "starts_at": starts_at,
            "ends_at": ends_at,
        },
    ).scalar_one()
    x0, y0, x1, y1 = area.bounds
    audit.append(
        conn,
        actor=actor,
        organization_id=issuer_id,
        action="activation.created",
        subject_type="activation",
        subject_id=activation_id,
        legal_basis=basis,
        details={
            "reference": reference,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "area_km2": round(geodesic_area_km2(area), 3),
            "area_bounds": [round(v, 6) for v in (x0, y0, x1, y1)],
            **({"area_codes": list(area_codes)} if area_codes else {}),
        },
    )
    return get_activation(conn, activation_id)


def _check_within_service_area(conn: Connection, *, issuer_id: int, wkb: bytes) -> None:
    """Refuse an area (lon/lat WKB) that is not inside the issuer's service area.

    A centre (regional or municipal) without a service area is refused outright: it must be
    given one first. An ``admin`` organization without one is the operator, who sets every
    centre's area and so is not bounded by one; with one, it is bounded like a centre.
    """
    row = conn.execute(
        query("activations/issuer_area_check"),
        {"wkb": wkb, "id": issuer_id},
    ).first()
    if row is None:
        raise NotFound(f"no organization has the id {issuer_id}")
    if row.missing:
        if row.kind in CENTRE_KINDS:
            raise Forbidden(
                f"{row.name} has no service area, so it may not issue activations: an admin"
                f" must set one first (`gilmok orgs service-area '{row.name}' --sigungu …` or"
                f" PUT /v1/organizations/{row.id}/service-area)",
                details={"issuer_id": row.id, "reason": "no_service_area"},
            )
        return
    if not row.inside:
        where = "" if row.lon is None else f", e.g. at ({row.lon:.5f}, {row.lat:.5f})"
        raise Forbidden(
            f"the activation's area reaches outside {row.name}'s service area"
            f" ({row.outside_km2:,.3f} km² of it lies outside{where}): a centre may only"
            " activate a legal basis for ground it serves",
            details={
                "issuer_id": row.id,
                "reason": "outside_service_area",
                "outside_km2": round(float(row.outside_km2 or 0.0), 3),
            },
        )


def end_activation(
    conn: Connection, activation_id: int, *, actor: str, organization_id: int, reason: str = ""
) -> Activation:
    """End an activation now; audited as ``activation.ended``.

    Ending a scheduled activation cancels it: it is never in force.

    Raises
    ------
    NotFound
    Conflict
        it has ended or expired already.
    """
    current = get_activation(conn, activation_id)
    now = _now()
    state = current.state(now)
    if state in ("ended", "expired"):
        raise Conflict(
            f"activation {activation_id} has {state} already"
            f" (at {current.effective_end.isoformat()})",
            details={"id": activation_id, "state": state},
        )
    conn.execute(
        query("activations/end"),
        {"id": activation_id, "now": now},
    )
    audit.append(
        conn,
        actor=actor,
        organization_id=organization_id,
        action="activation.ended",
        subject_type="activation",
        subject_id=activation_id,
        legal_basis=current.basis,
        details={"reference": current.reference, "reason": reason, "was": state},
    )
    return get_activation(conn, activation_id)


#: How far back the loop looks for activations that ran out unrecorded: one that ran out while
#: no loop ran for longer is not announced late (its state is read from it all the same).
RAN_OUT_LOOKBACK = dt.timedelta(hours=1)


def record_ran_out(conn: Connection, *, actor: str, now: dt.datetime | None = None) -> list[int]:
    """Record in the audit trail, once each, the activations whose end passed without anyone
    ending them (``activation.expired``): what tells event streams, and so the consoles, that
    they are no longer in force. The ids recorded, in the order they ran out."""
    now = now or _now()
    rows = conn.execute(
        query("activations/ran_out_unrecorded"), {"now": now, "since": now - RAN_OUT_LOOKBACK}
    ).all()
    for row in rows:
        audit.append(
            conn,
            actor=actor,
            organization_id=row.issuer_id,
            action="activation.expired",
            subject_type="activation",
            subject_id=row.id,
            legal_basis=row.basis,
            details={"reference": row.reference, "ends_at": row.ends_at.isoformat()},
        )
    return [int(row.id) for row in rows]


def list_activations(
    conn: Connection,
    *,
    state: ActivationState | Literal["all"] = "all",
    at: dt.datetime | None = None,
    issuer_id: int | None = None,
    after_id: int | None = None,
    limit: int = 100,
) -> list[Activation]:
    """Activations in id order, optionally only those in ``state`` at ``at`` (default now)."""
    at = at or _now()
    a = _A.c
    conditions = {
        "all": true(),
        "scheduled": and_(a.starts_at > at, or_(a.ended_at.is_(None), a.ended_at > at)),
        "active": and_(
            a.starts_at <= at, a.ends_at > at, or_(a.ended_at.is_(None), a.ended_at > at)
        ),
        "ended": and_(a.ended_at.is_not(None), a.ended_at <= at, a.ended_at < a.ends_at),
        "expired": and_(a.ends_at <= at, or_(a.ended_at.is_(None), a.ended_at >= a.ends_at)),
    }
    statement = _LISTED.where(conditions[state])
    if issuer_id is not None:
        statement = statement.where(a.issuer_id == bigint(issuer_id))
    if after_id is not None:
        statement = statement.where(a.id > bigint(after_id))
    rows = conn.execute(statement.order_by(a.id).limit(limit))
    return [_row(r) for r in rows]


def active_activation_covering(
    conn: Connection, point_lonlat: tuple[float, float], at: dt.datetime | None = None
) -> Activation | None:
    """The activation in force at ``at`` (default now) whose area covers the point, or None.

    ``point_lonlat`` is (longitude, latitude), degrees. When several cover it, the one in
    force longest wins (then the oldest), so a feed's expiry can be as late as the law allows.

    Examples
    --------
    ``active_activation_covering(conn, (126.9780, 37.5665))`` → the activation over Seoul City
    Hall now, or None: then video may not be provided (:class:`geo.errors.NoLegalBasis`).
    """
    lon, lat = point_lonlat
    row = conn.execute(
        query("activations/active_covering"),
        {"lon": lon, "lat": lat, "at": at or _now()},
    ).first()
    return _row(row) if row is not None else None


def activations_for_cameras(
    conn: Connection,
    point_lonlat: tuple[float, float],
    camera_ids: list[int],
    at: dt.datetime | None = None,
) -> dict[int, Activation]:
    """For each camera, the activation in force at ``at`` (default now) whose area covers both
    the incident point and the camera's position; cameras with none are left out.

    A camera's video rests on a legal basis for the ground the camera stands on, not only for
    the incident's: a wide cordon reaches cameras beyond a small activation's area, and those
    may not be provided. When several activations qualify, the same one
    :func:`active_activation_covering` would choose wins (in force longest, then the oldest).

    Examples
    --------
    ``activations_for_cameras(conn, (126.9769, 37.5759), [601, 702])`` → ``{601: <activation
    7>}`` when camera 702 stands outside activation 7's area (and every other's).
    """
    if not camera_ids:
        return {}
    lon, lat = point_lonlat
    rows = conn.execute(
        query("activations/for_cameras"),
        {"ids": list(camera_ids), "lon": lon, "lat": lat, "at": at or _now()},
    )
    out = {}
    for row in rows:
        values = dict(row._mapping)
        camera_id = int(values.pop("camera_id"))
        values["area"] = json.loads(values.pop("area_geojson"))
        out[camera_id] = Activation(**values)
    return out


def require_activation(
    conn: Connection, point_lonlat: tuple[float, float], at: dt.datetime | None = None
) -> Activation:
    """The activation covering the point at ``at`` (default now), or :class:`NoLegalBasis`.

    The error says why: no activation in force at all, or those in force cover other ground
    (listed in ``details`` by id, basis and reference), so a situation room knows what to ask
    its regional centre for.
    """
    at = at or _now()
    found = active_activation_covering(conn, point_lonlat, at)
    if found is not None:
        return found
    in_force = list_activations(conn, state="active", at=at, limit=20)
    lon, lat = point_lonlat
    where = f"({lon:.6f}, {lat:.6f})"
    if in_force:
        message = (
            f"no legal basis covers {where}: the {len(in_force)} activation(s) in force cover"
            " other areas; video may not be provided here"
        )
    else:
        message = (
            f"no legal basis is in force: video may not be provided at {where} until one of the"
            " nine bases is activated for this area"
        )
    raise NoLegalBasis(
        message,
        details={
            "location": [lon, lat],
            "at": at.isoformat(),
            "in_force_elsewhere": [
                {"id": a.id, "basis": a.basis, "reference": a.reference} for a in in_force
            ],
        },
    )
