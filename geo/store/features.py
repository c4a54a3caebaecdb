"""Feature pages for OGC API – Features: cameras, coverage, roads, incidents and approaches.

Reads only (it keeps no table of its own). Each collection is a :class:`FeatureSource`: a
table, its id column (the paging key), its geometry column, the columns a feature carries as
properties, and the rows it always leaves out. :func:`feature_page` pages one by keyset on the
id — the next page starts after the last id returned, the previous ends before the first — so
that no row present throughout is returned twice or skipped, whatever is added or removed
between requests. Statements are built with SQLAlchemy Core (a bounding box, a cursor and the
incident scope are optional), every value bound; the geometry leaves as GeoJSON text in the
requested SRID, its axes swapped when that CRS's first axis is northing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import shapely
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    FromClause,
    Select,
    and_,
    bindparam,
    cast,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONPATH
from sqlalchemy.engine import Connection
from sqlalchemy.types import JSON, Text

from geo.store.models import (
    WORKING_SRID,
    Approach,
    Camera,
    Coverage,
    Incident,
    Organization,
    RoadSegment,
)
from geo.store.queries import bigint, query

camera = Camera.__table__
coverage = Coverage.__table__
road = RoadSegment.__table__
incident = Incident.__table__
approach = Approach.__table__
organization = Organization.__table__


@dataclass(frozen=True)
class FeatureSource:
    """One collection's rows: ``table`` (a join), its ``id`` and ``geometry`` columns, the
    ``properties`` (name → column) and the ``where`` clauses every row must meet."""

    table: FromClause
    id: ColumnElement[Any]
    geometry: ColumnElement[Any]
    properties: dict[str, ColumnElement[Any]]
    where: tuple[ColumnElement[bool], ...] = ()


def _not_retired() -> ColumnElement[bool]:
    return camera.c.status != "retired"


def camera_source() -> FeatureSource:
    """Non-retired cameras (points); never the source URL."""
    c = camera.c
    return FeatureSource(
        table=camera.join(organization, organization.c.id == c.owner_id),
        id=c.id,
        geometry=c.position,
        properties={
            "owner_id": c.owner_id,
            "owner_name": organization.c.name,
            "kind": c.kind,
            "status": c.status,
            "heading_deg": c.heading_deg,
            "heading_source": c.heading_source,
            "fov_deg": c.fov_deg,
            "pan_min_deg": c.pan_min_deg,
            "pan_max_deg": c.pan_max_deg,
            "resolution_px_h": c.resolution_px_h,
            "megapixels": c.megapixels,
            "mount_height_m": c.mount_height_m,
            "purpose": c.purpose,
            "address": c.address,
            "direction_text": c.direction_text,
            "source": c.source,
        },
        where=(_not_retired(),),
    )


def coverage_source(level: str) -> FeatureSource:
    """Stored coverage polygons at one DORI ``level`` of non-retired cameras, one per camera
    (the feature id is the camera's id)."""
    v, c = coverage.c, camera.c
    return FeatureSource(
        table=coverage.join(camera, c.id == v.camera_id),
        id=v.camera_id,
        geometry=v.geom,
        properties={
            "camera_id": v.camera_id,
            "level": v.level,
            "range_m": v.range_m,
            "confidence": v.confidence,
            "kind": c.kind,
            "status": c.status,
            "heading_deg": c.heading_deg,
            "owner_id": c.owner_id,
        },
        where=(v.level == bindparam("level", level), _not_retired()),
    )


def road_source() -> FeatureSource:
    """Road segments (line strings) of every imported network."""
    r = road.c
    return FeatureSource(
        table=road,
        id=r.id,
        geometry=r.geom,
        properties={
            "network_id": r.network_id,
            "osm_way_id": r.osm_way_id,
            "highway": r.highway,
            "name": r.name,
            "ref": r.ref,
            "oneway": r.oneway,
            "bridge": r.bridge,
            "tunnel": r.tunnel,
            "length_m": r.length_m,
            "maxspeed_kmh": r.maxspeed_kmh,
            "lanes": r.lanes,
        },
    )


def incident_source(visible: IncidentScope) -> FeatureSource:
    """The incidents ``visible`` lets the caller see (points)."""
    i = incident.c
    return FeatureSource(
        table=incident.join(organization, organization.c.id == i.requester_id),
        id=i.id,
        geometry=i.location,
        properties={
            "requester_id": i.requester_id,
            "requester_name": organization.c.name,
            "status": i.status,
            "radius_m": i.radius_m,
            "mode": i.mode,
            "direction": i.direction,
            "travel": i.travel,
            "level": i.level,
            "note": i.note,
            "incomplete": i.incomplete,
            "created_at": i.created_at,
            "closed_at": i.closed_at,
        },
        where=(visible.clause(i.id, i.requester_id),),
    )


def approach_source(incident_id: int) -> FeatureSource:
    """The approaches (and exits) of one incident as their watch stretches (line strings);
    the feature id is the approach's number (A1 is 1)."""
    a = approach.c
    return FeatureSource(
        table=approach,
        id=a.seq,
        geometry=a.watch_stretch,
        properties={
            "label": func.concat("A", a.seq),
            "incident_id": a.incident_id,
            "direction": a.direction,
            "road_name": a.road_name,
            "highway": a.highway,
            "main": a.is_main,
            "bearing_deg": a.bearing_deg,
            "blind": a.blind,
            "entry_lon": func.ST_X(func.ST_Transform(a.entry_point, 4326)),
            "entry_lat": func.ST_Y(func.ST_Transform(a.entry_point, 4326)),
            "camera_ids": func.jsonb_path_query_array(
                a.cameras, cast(literal("$[*].camera_id"), JSONPATH)
            ),
            "cameras": a.cameras,
        },
        where=(a.incident_id == bigint(incident_id),),
    )


@dataclass(frozen=True)
class IncidentScope:
    """Which incidents a caller sees: all of them, or those its organization raised and those
    listed in ``involved`` (the centres' view, from :func:`incidents_involving`)."""

    all: bool
    organization_id: int | None = None
    involved: tuple[int, ...] = ()

    def clause(self, id_col: Any, requester_col: Any) -> ColumnElement[bool]:
        if self.all:
            return true()
        own = requester_col == self.organization_id if self.organization_id else false()
        if not self.involved:
            return own
        ids = bindparam("involved", list(self.involved), type_=ARRAY(BigInteger))
        return or_(own, id_col == func.any(ids))


def incidents_involving(conn: Connection, organization_id: int) -> tuple[int, ...]:
    """Ids of the incidents that involve centre ``organization_id``: its cameras (or those of
    the centres under it) are on the record or asked for, or requests are routed through it —
    the set :func:`geo.store.incidents.involved_organizations` answers for one incident."""
    rows = conn.execute(query("features/incidents_involving"), {"org": organization_id})
    return tuple(int(r[0]) for r in rows)


@dataclass(frozen=True)
class Box:
    """A search box in the working CRS: its outline (WKB) and a rectangle inside it (or None)."""

    outline: shapely.Polygon
    inner: tuple[float, float, float, float] | None


@dataclass(frozen=True)
class Output:
    """How geometries leave: the SRID, whether x and y are swapped, and decimals kept."""

    srid: int = 4326
    flip: bool = False
    digits: int = 7


@dataclass
class Page:
    """One page of features as GeoJSON Feature texts, with the ids that bound it."""

    features: list[str]
    ids: list[int]
    number_matched: int | None
    more_after: bool
    more_before: bool


def _filters(source: FeatureSource, box: Box | None) -> list[ColumnElement[bool]]:
    clauses = list(source.where)
    if box is not None:
        outline = select(
            func.ST_GeomFromWKB(bindparam("outline", shapely.to_wkb(box.outline)), WORKING_SRID)
        ).scalar_subquery()
        clauses.append(source.geometry.op("&&")(outline))
        exact: ColumnElement[bool] = func.ST_Intersects(source.geometry, outline)
        if box.inner is not None:
            x0, y0, x1, y1 = box.inner
            rect = select(
                func.ST_MakeEnvelope(
                    bindparam("ix0", x0),
                    bindparam("iy0", y0),
                    bindparam("ix1", x1),
                    bindparam("iy1", y1),
                    WORKING_SRID,
                )
            ).scalar_subquery()
            exact = or_(source.geometry.op("@")(rect), exact)
        clauses.append(exact)
    return clauses


def _geometry_json(source: FeatureSource, out: Output) -> ColumnElement[Any]:
    geom: ColumnElement[Any] = source.geometry
    if out.srid != WORKING_SRID:
        geom = func.ST_Transform(geom, out.srid)
    if out.flip:
        geom = func.ST_FlipCoordinates(geom)
    return func.ST_AsGeoJSON(geom, out.digits)


def _feature_json(source: FeatureSource, out: Output) -> ColumnElement[Any]:
    props: list[Any] = []
    for name, col in source.properties.items():
        props.extend([literal(name), col])
    return cast(
        func.json_build_object(
            "type",
            "Feature",
            "id",
            source.id,
            "geometry",
            cast(_geometry_json(source, out), JSON),
            "properties",
            func.json_build_object(*props),
        ),
        Text,
    )


def feature_page(
    conn: Connection,
    source: FeatureSource,
    *,
    box: Box | None = None,
    after: int | None = None,
    before: int | None = None,
    limit: int = 100,
    out: Output = Output(),
    count: bool = True,
) -> Page:
    """Up to ``limit`` features of ``source`` meeting ``box``, in id order.

    ``after``: the features with a greater id (the next page); ``before``: the last ``limit``
    with a smaller id (the previous page); neither: the first page. ``number_matched`` counts
    every feature meeting ``box`` (None when ``count`` is false).
    """
    clauses = _filters(source, box)
    keyed = list(clauses)
    backwards = before is not None
    if after is not None:
        keyed.append(source.id > bigint(after))
    if before is not None:
        keyed.append(source.id < bigint(before))
    order = source.id.desc() if backwards else source.id.asc()
    ids = (
        select(source.id.label("fid"))
        .select_from(source.table)
        .where(and_(true(), *keyed))
        .order_by(order)
        .limit(limit + 1)
        .cte("page")
        .prefix_with("MATERIALIZED")
    )
    statement: Select[Any] = (
        select(source.id, _feature_json(source, out))
        .select_from(source.table.join(ids, ids.c.fid == source.id))
        .where(and_(true(), *source.where))
        .order_by(order)
    )
    rows = list(conn.execute(statement).all())
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
    number = None
    if count:
        counted = select(func.count()).select_from(source.table).where(and_(true(), *clauses))
        number = int(conn.execute(counted).scalar_one())
    return Page(
        features=[r[1] for r in rows],
        ids=[int(r[0]) for r in rows],
        number_matched=number,
        more_after=more if not backwards else bool(rows),
        more_before=(after is not None) if not backwards else more,
    )


def feature_by_id(
    conn: Connection,
    source: FeatureSource,
    feature_id: int,
    *,
    out: Output = Output(),
) -> str | None:
    """One feature of ``source`` as GeoJSON text, or None when it has no such id."""
    statement = (
        select(_feature_json(source, out))
        .select_from(source.table)
        .where(and_(source.id == bigint(feature_id), *source.where))
    )
    return conn.execute(statement).scalar_one_or_none()


#: Most incidents whose approaches ``/collections`` lists (newest first).
MAX_LISTED_INCIDENTS = 500


def open_incident_ids(conn: Connection, visible: IncidentScope) -> list[int]:
    """Ids of the open incidents ``visible`` lets the caller see, newest first."""
    i = incident.c
    statement = (
        select(i.id)
        .where(i.status == "open", visible.clause(i.id, i.requester_id))
        .order_by(i.id.desc())
        .limit(MAX_LISTED_INCIDENTS)
    )
    return [int(r[0]) for r in conn.execute(statement)]


def camera_parameters(
    conn: Connection,
    *,
    box: Box | None = None,
    reach_m: float = 0.0,
    after: int | None = None,
    limit: int = 1000,
    camera_id: int | None = None,
) -> list[dict[str, Any]]:
    """What coverage at any DORI level is drawn from, for the cameras not retired within
    ``reach_m`` metres of ``box`` (all without one), in id order after ``after``; or the one
    camera ``camera_id``. Positions in lon/lat, headings in compass degrees."""
    c = camera.c
    position = func.ST_Transform(c.position, 4326)
    statement = (
        select(
            c.id,
            func.ST_X(position).label("lon"),
            func.ST_Y(position).label("lat"),
            c.kind,
            c.heading_deg,
            c.heading_source,
            c.fov_deg,
            c.pan_min_deg,
            c.pan_max_deg,
            c.resolution_px_h,
            c.status,
            c.owner_id,
        )
        .where(_not_retired())
        .order_by(c.id)
        .limit(limit)
    )
    if camera_id is not None:
        statement = statement.where(c.id == bigint(camera_id))
    if after is not None:
        statement = statement.where(c.id > bigint(after))
    if box is not None:
        outline = select(
            func.ST_GeomFromWKB(bindparam("outline", shapely.to_wkb(box.outline)), WORKING_SRID)
        ).scalar_subquery()
        statement = statement.where(func.ST_DWithin(c.position, outline, reach_m))
    return [dict(r._mapping) for r in conn.execute(statement)]
