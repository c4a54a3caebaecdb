"""The collections the OGC API serves, what each holds, and who may read it.

- ``cameras``: every camera not retired (points), any API key.
- ``coverage-detect``, ``coverage-observe``, ``coverage-recognise``, ``coverage-identify``: each
  camera's coverage polygon at one DORI level, any API key. One collection per level rather
  than a ``dori`` filter: QGIS and GDAL show a collection as one layer, with one schema and
  feature ids unique in it, and a client can pass no filter the standard does not define; a
  camera's polygons at two levels are nested shapes that belong on two layers. *observe* is
  stored (the import draws it); the others are drawn on demand
  (:mod:`api.ogc.coverage_levels`): they page forward only, without ``numberMatched``.
- ``roads``: the road segments of every imported network (line strings), any API key.
- ``incidents``: the incidents the caller may read (points), scoped exactly as
  ``GET /v1/incidents/{id}`` is (:func:`api.incidents.may_read`): the requester organization
  its own, the centres those that involve them, admin and auditor all; planners none (403).
- ``incident-{id}-approaches``: the approaches and exits of one incident as their watch
  stretches (line strings; the entry point is in ``entry_lon``/``entry_lat``), for whoever may
  read the incident. Only line strings: ``/v1/approaches`` mixes points, lines and polygons in
  one collection, which a GIS layer cannot hold.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from api.incidents import READERS, may_read
from geo import domain
from geo.errors import Forbidden, NotFound
from geo.store import features
from geo.store import incidents as incident_store
from geo.store.orgs import Caller

_APPROACHES = re.compile(r"incident-([1-9][0-9]{0,9})-approaches")
CENTRE_ROLES = ("regional_centre", "municipal_centre")
#: The DORI level whose coverage polygons the store keeps.
STORED_LEVEL = domain.DEFAULT_DORI_LEVEL


@dataclass(frozen=True)
class Collection:
    """One collection: its id, words for a person, the roles that may read it, and its rows."""

    id: str
    title: str
    description: str
    geometry: str
    roles: tuple[str, ...]
    source: Callable[[Connection, Caller], features.FeatureSource] | None
    #: the DORI level drawn on demand (:mod:`api.ogc.coverage_levels`), for coverage the store
    #: does not keep
    drawn_level: str | None = None


def _incident_scope(conn: Connection, caller: Caller) -> features.IncidentScope:
    if caller.role in ("admin", "auditor"):
        return features.IncidentScope(all=True)
    involved: tuple[int, ...] = ()
    if caller.role in CENTRE_ROLES:
        involved = features.incidents_involving(conn, caller.organization_id)
    return features.IncidentScope(
        all=False, organization_id=caller.organization_id, involved=involved
    )


STATIC: dict[str, Collection] = {
    c.id: c
    for c in (
        Collection(
            "cameras",
            "Cameras",
            "Every camera not retired: owner, kind, status, heading (degrees clockwise from"
            " north, or null when unknown), field of view, resolution. Never a source URL.",
            "Point",
            domain.ROLES,
            lambda _conn, _caller: features.camera_source(),
        ),
        Collection(
            "coverage-observe",
            "Camera coverage, DORI observe",
            "The ground each camera sees at 62.5 px/m or more (IEC 62676-4 observe): a sector,"
            " a disk or a pan-limited sector, metres in EPSG:5179; confidence is low where the"
            " heading is unknown. The feature id is the camera's id.",
            "Polygon",
            domain.ROLES,
            lambda _conn, _caller: features.coverage_source(STORED_LEVEL),
        ),
        *(
            Collection(
                f"coverage-{level}",
                f"Camera coverage, DORI {level}",
                f"The ground each camera sees at {px:g} px/m or more (IEC 62676-4 {level}),"
                " drawn on demand from the cameras' parameters as the import draws observe;"
                " metres in EPSG:5179. The feature id is the camera's id. Pages forward only,"
                " without numberMatched.",
                "Polygon",
                domain.ROLES,
                None,
                drawn_level=level,
            )
            for level, px in domain.DORI_PX_PER_M.items()
            if level != STORED_LEVEL
        ),
        Collection(
            "roads",
            "Road segments",
            "The imported OSM road networks, one feature per segment between two nodes.",
            "LineString",
            domain.ROLES,
            lambda _conn, _caller: features.road_source(),
        ),
        Collection(
            "incidents",
            "Incidents",
            "The incidents this API key's organization may read: its own, and those involving"
            " its cameras or routed through it (a centre); all for admin and auditor.",
            "Point",
            READERS,
            lambda conn, caller: features.incident_source(_incident_scope(conn, caller)),
        ),
    )
}


def approaches_collection(incident_id: int) -> Collection:
    return Collection(
        f"incident-{incident_id}-approaches",
        f"Approaches of incident {incident_id}",
        f"The approaches (and exits) of incident {incident_id}'s cordon as their watch"
        " stretches, 50 m either side of the entry point; blind approaches included"
        " (blind: true). The feature id is the approach's number (A3 is 3).",
        "LineString",
        READERS,
        lambda _conn, _caller: features.approach_source(incident_id),
    )


def allowed(collection: Collection, caller: Caller) -> bool:
    return caller.role in collection.roles


def find_collection(conn: Connection, caller: Caller, collection_id: str) -> Collection:
    """The collection ``collection_id`` as ``caller`` may read it.

    Raises
    ------
    NotFound
        no such collection, or an incident the caller may not read (told apart from nothing).
    Forbidden
        the caller's role may not read this collection.
    """
    collection = STATIC.get(collection_id)
    match = _APPROACHES.fullmatch(collection_id)
    if collection is None and match is not None:
        collection = approaches_collection(int(match.group(1)))
    if collection is None:
        raise NotFound(
            f"there is no collection {collection_id!r}; GET /ogc/collections lists them",
            details={"collection": collection_id},
        )
    if not allowed(collection, caller):
        raise Forbidden(
            f"a {caller.role} key may not read {collection_id}; it needs one of:"
            f" {', '.join(collection.roles)}",
            details={"role": caller.role, "allowed_roles": list(collection.roles)},
        )
    if match is not None:
        may_read(conn, caller, incident_store.get_incident(conn, int(match.group(1))))
    return collection


def listed_collections(conn: Connection, caller: Caller) -> list[Collection]:
    """The collections ``caller`` may read: the static ones its role allows, and the approaches
    of each open incident it may read."""
    out = [c for c in STATIC.values() if allowed(c, caller)]
    if caller.role in READERS:
        open_ids = features.open_incident_ids(conn, _incident_scope(conn, caller))
        out.extend(approaches_collection(i) for i in open_ids)
    return out
