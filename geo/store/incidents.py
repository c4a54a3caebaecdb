"""Incidents on record: the point a requester raised, its cordon's options, and the answer given.

The answer of the core query (:class:`geo.incident.Answer`) is kept as one ``approach`` row per
approach or exit, with its entry point, watch stretch and ``cameras``, the ranked watchers as
they were when the incident was raised; later changes to the registry do not rewrite the record.
A merged approach's watch stretch (several crossings of one road) is stored as its longest part,
the column being a LineString. Geometries arrive in lon/lat and are stored in the working CRS.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from sqlalchemy.engine import Connection

from geo.crs import geometry_to_lonlat
from geo.errors import Conflict, NotFound
from geo.incident import Answer
from geo.store import audit
from geo.store.queries import query

_MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class Incident:
    """An incident as stored; ``lon``/``lat`` in degrees."""

    id: int
    requester_id: int
    requester_name: str
    lon: float
    lat: float
    radius_m: float
    mode: str
    direction: str
    travel: str
    level: str
    note: str
    status: str
    incomplete: bool
    created_at: dt.datetime
    closed_at: dt.datetime | None


@dataclass(frozen=True)
class ApproachRecord:
    """One stored approach (or exit); ``cameras`` are its ranked watchers on record."""

    id: int
    seq: int
    direction: str
    road_name: str
    highway: str
    is_main: bool
    bearing_deg: float
    blind: bool
    lon: float
    lat: float
    stretch: dict[str, Any]
    cameras: list[dict[str, Any]]

    @property
    def label(self) -> str:
        """``A1``, ``A2``… as in the answer's GeoJSON."""
        return f"A{self.seq}"

    @property
    def inbound_bearing_deg(self) -> float:
        """Direction of the traffic entering the cordon here, degrees clockwise from north."""
        bearing = self.bearing_deg if self.direction == "inbound" else self.bearing_deg + 180.0
        return round(bearing % 360.0, 1)


def _round(value: Any, digits: int = 2) -> Any:
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float):
        return round(value, digits) if np.isfinite(value) else None
    return value


def _longest_line(geom: shapely.Geometry) -> shapely.Geometry:
    if isinstance(geom, shapely.MultiLineString):
        parts = list(geom.geoms)
        return max(parts, key=lambda g: g.length)
    return geom


def approach_rows(answer: Answer) -> list[dict[str, Any]]:
    """The answer as ``approach`` rows: lon/lat WKB geometries and the ranked watchers."""
    a = answer.cordon.approaches
    w = answer.watchers
    k = len(a)
    points = np.asarray(shapely.points(a.x, a.y), dtype=object).reshape(-1)
    stretches = np.asarray([_longest_line(g) for g in a.stretch], dtype=object).reshape(-1)
    crs = answer.cordon.crs
    points_ll = geometry_to_lonlat(points, crs=crs) if k else points
    stretches_ll = geometry_to_lonlat(stretches, crs=crs) if k else stretches
    rows = []
    for j in range(k):
        mine = np.flatnonzero(w.approach == j)
        mine = mine[np.argsort(w.rank[mine], kind="stable")]
        cameras = [
            {
                "camera_id": int(w.camera_id[i]),
                "rank": int(w.rank[i]),
                "dori_level": str(w.level[i]),
                "px_per_m": _round(float(w.px_per_m[i]), 1),
                "faces_traffic": bool(w.facing[i]),
                "distance_m": _round(float(w.distance_m[i]), 1),
                "online": bool(w.online[i]),
                "confidence": str(w.confidence[i]),
                "kind": str(w.kind[i]),
            }
            for i in mine
        ]
        rows.append(
            {
                "seq": j + 1,
                "direction": str(a.direction[j]),
                "road_name": str(a.name[j] or a.ref[j] or ""),
                "highway": str(a.highway[j]),
                "is_main": bool(a.main[j]),
                "bearing_deg": round(float(a.bearing_deg[j]), 1),
                "blind": bool(w.blind[j]),
                "entry_wkb": shapely.to_wkb(points_ll[j]),
                "stretch_wkb": shapely.to_wkb(stretches_ll[j]),
                "cameras": json.dumps(cameras),
            }
        )
    return rows


def create_incident(
    conn: Connection,
    *,
    requester_id: int,
    location: tuple[float, float],
    answer: Answer,
    note: str,
    actor: str,
) -> Incident:
    """Record an incident raised at ``location`` (lon, lat) with its answer; audited.

    The answer's cordon gives the radius (metres; a time-based cordon's radius resolved),
    mode, direction and travel; its watchers the DORI level.
    """
    cordon = answer.cordon
    lon, lat = location
    incident_id = conn.execute(
        query("incidents/create"),
        {
            "requester": requester_id,
            "lon": lon,
            "lat": lat,
            "radius": cordon.radius_m,
            "mode": cordon.mode,
            "direction": cordon.direction,
            "travel": cordon.travel,
            "level": answer.watchers.requested_level,
            "note": note,
            "incomplete": cordon.incomplete,
        },
    ).scalar_one()
    rows = approach_rows(answer)
    if rows:
        conn.execute(
            query("incidents/add_approach"),
            [{**row, "incident": incident_id} for row in rows],
        )
    audit.append(
        conn,
        actor=actor,
        organization_id=requester_id,
        action="incident.created",
        subject_type="incident",
        subject_id=incident_id,
        details={
            "location": [round(lon, 7), round(lat, 7)],
            "radius_m": round(cordon.radius_m, 1),
            "minutes": cordon.options.minutes,
            "speed_kmh": cordon.options.speed_kmh,
            "mode": cordon.mode,
            "direction": cordon.direction,
            "travel": cordon.travel,
            "level": answer.watchers.requested_level,
            "approaches": len(rows),
            "blind": sum(1 for r in rows if r["blind"]),
            "incomplete": cordon.incomplete,
        },
    )
    return get_incident(conn, incident_id)


def incident_not_found(incident_id: int) -> NotFound:
    """The error for an incident that does not exist, or that the caller may not know exists:
    one error for both, so that an answer never tells another organization's incident apart."""
    return NotFound(f"no incident has the id {incident_id}", details={"id": incident_id})


def get_incident(conn: Connection, incident_id: int) -> Incident:
    """Raises :class:`NotFound` for an unknown id."""
    row = None
    if 1 <= incident_id <= _MAX_ID:
        row = conn.execute(query("incidents/by_id"), {"id": incident_id}).first()
    if row is None:
        raise incident_not_found(incident_id)
    return Incident(**row._mapping)


def list_approaches(conn: Connection, incident_id: int) -> list[ApproachRecord]:
    """The incident's approaches on record, in answer order (``seq``)."""
    rows = conn.execute(
        query("incidents/approaches"),
        {"id": incident_id},
    )
    out = []
    for row in rows:
        values = dict(row._mapping)
        values["stretch"] = json.loads(values["stretch"])
        out.append(ApproachRecord(**values))
    return out


def involved_organizations(conn: Connection, incident_id: int) -> set[int]:
    """The centres an incident involves: owners of the cameras on its record or asked for, the
    regional centres its requests are routed through, and every centre above those owners."""
    rows = conn.execute(
        query("incidents/involved_organizations"),
        {"id": incident_id},
    )
    return {int(r[0]) for r in rows}


def close_incident(
    conn: Connection, incident_id: int, *, actor: str, organization_id: int, reason: str = ""
) -> Incident:
    """Close an open incident now; audited as ``incident.closed``.

    Raises
    ------
    NotFound
    Conflict
        it is closed already.
    """
    closed = conn.execute(
        query("incidents/close"),
        {"id": incident_id},
    ).first()
    if closed is None:
        current = get_incident(conn, incident_id)
        raise Conflict(
            f"incident {incident_id} is closed already (at {current.closed_at})",
            details={"id": incident_id, "status": current.status},
        )
    audit.append(
        conn,
        actor=actor,
        organization_id=organization_id,
        action="incident.closed",
        subject_type="incident",
        subject_id=incident_id,
        details={"reason": reason},
    )
    return get_incident(conn, incident_id)


@dataclass(frozen=True)
class IncidentSummary:
    """An incident in a list: the incident, and how many approaches (blind ones) it has."""

    incident: Incident
    approach_count: int
    blind_count: int


def list_visible(
    conn: Connection,
    *,
    everyone: bool,
    requester_id: int | None,
    centre_id: int | None,
    state: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[IncidentSummary]:
    """Incidents in id order after ``after_id`` that a caller may read: all when ``everyone``;
    else those ``requester_id`` raised and those involving the centre ``centre_id`` or one
    below it (the rule of :func:`involved_organizations`, read from the other side)."""
    rows = conn.execute(
        query("incidents/list_visible"),
        {
            "everyone": everyone,
            "requester": requester_id,
            "centre": centre_id,
            "state": state,
            "after": after_id,
            "limit": limit,
        },
    )
    out = []
    for row in rows:
        values = dict(row._mapping)
        approaches, blind = values.pop("approach_count"), values.pop("blind_count")
        out.append(IncidentSummary(Incident(**values), int(approaches), int(blind)))
    return out
