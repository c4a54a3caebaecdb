"""The PostGIS schema as SQLAlchemy/GeoAlchemy2 models: what migrations are checked against.

Every geometry is stored in the working CRS (EPSG:5179, metres) with a GiST index; conversion to
EPSG:4326 happens at the API boundary. Vocabulary columns are text with CHECK constraints built
from :mod:`geo.domain`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any, ClassVar

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from geo import domain

#: The schema's SRID (EPSG:5179, Korea 2000 / UTM-K); the store's .sql files write it out as a
#: constant (tests/test_store_queries.py keeps them in step).
WORKING_SRID = 5179

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar = {dict[str, Any]: JSONB}


def _one_of(column: str, values: Iterable[str], name: str | None = None) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=name or column)


def _geom(kind: str) -> Geometry:
    # spatial_index=False: the GiST indexes are declared explicitly so the migration names them.
    return Geometry(kind, srid=WORKING_SRID, spatial_index=False)


def _now() -> Any:
    return func.now()


class Organization(Base):
    """A municipal or regional centre, military unit, police, fire service, planner or admin."""

    __tablename__ = "organization"
    __table_args__ = (
        _one_of("kind", domain.ORGANIZATION_KINDS),
        Index("ix_organization_service_area", "service_area", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    kind: Mapped[str] = mapped_column(Text)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id"))
    service_area: Mapped[Any | None] = mapped_column(_geom("MULTIPOLYGON"))
    #: legal-basis codes whose feed requests this centre approves automatically
    auto_approve_bases: Mapped[list[str]] = mapped_column(JSONB, server_default="[]")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class ApiKey(Base):
    """An API key of an organization, stored as a SHA-256 hash; the prefix identifies it in logs."""

    __tablename__ = "api_key"
    __table_args__ = (_one_of("role", domain.ROLES),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    role: Mapped[str] = mapped_column(Text)
    label: Mapped[str] = mapped_column(Text, server_default="")
    prefix: Mapped[str] = mapped_column(String(12), unique=True)
    key_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class BrowserSession(Base):
    """A console sign-in: an API key exchanged for a cookie; only digests of the cookie's session
    id and of the CSRF token are stored. Ends at ``expires_at``, after ``GILMOK_SESSION_IDLE_S``
    unused, at sign-out (``ended_at``) or when its key is revoked."""

    __tablename__ = "browser_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    api_key_id: Mapped[int] = mapped_column(
        ForeignKey("api_key.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    csrf_hash: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    last_seen_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=_now()
    )
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class ImportBatch(Base):
    """One run of an importer over one file, with its report."""

    __tablename__ = "import_batch"
    __table_args__ = (
        CheckConstraint(
            "rows_read = rows_imported + rows_merged + rows_rejected + rows_already_present",
            name="report_adds_up",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(Text)
    file_name: Mapped[str] = mapped_column(Text)
    file_sha256: Mapped[str] = mapped_column(String(64), index=True)
    rows_read: Mapped[int] = mapped_column(Integer)
    rows_imported: Mapped[int] = mapped_column(Integer)
    rows_merged: Mapped[int] = mapped_column(Integer)
    rows_rejected: Mapped[int] = mapped_column(Integer)
    rows_already_present: Mapped[int] = mapped_column(Integer)
    report: Mapped[dict[str, Any]] = mapped_column(JSONB)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Camera(Base):
    """One camera. A CCTV-standard site with 카메라대수 = n is n cameras sharing ``site_key``."""

    __tablename__ = "camera"
    __table_args__ = (
        UniqueConstraint("source", "source_key"),
        _one_of("source", domain.CAMERA_SOURCES),
        _one_of("kind", domain.CAMERA_KINDS),
        _one_of("heading_source", domain.HEADING_SOURCES),
        _one_of("status", domain.CAMERA_STATUSES),
        CheckConstraint(
            "heading_deg IS NULL OR (heading_deg >= 0 AND heading_deg < 360)", name="heading_range"
        ),
        CheckConstraint("fov_deg IS NULL OR (fov_deg > 0 AND fov_deg <= 360)", name="fov_range"),
        CheckConstraint(
            "(heading_deg IS NULL) = (heading_source = 'unknown')", name="heading_source_matches"
        ),
        Index("ix_camera_position", "position", postgresql_using="gist"),
        # the few retired cameras, for the anti-join that keeps them out of a coverage page
        Index("ix_camera_retired", "id", postgresql_where=text("status = 'retired'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    source_key: Mapped[str] = mapped_column(Text)
    site_key: Mapped[str] = mapped_column(Text, index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    position: Mapped[Any] = mapped_column(_geom("POINT"))
    mount_height_m: Mapped[float | None] = mapped_column(Float)
    kind: Mapped[str] = mapped_column(Text)
    heading_deg: Mapped[float | None] = mapped_column(Float)
    heading_source: Mapped[str] = mapped_column(Text)
    #: half-width of the heading's uncertainty, degrees
    heading_uncertainty_deg: Mapped[float | None] = mapped_column(Float)
    #: free-text hint at the watched direction (e.g. "동수원IC→수지구청"), for heading inference
    heading_hint: Mapped[str] = mapped_column(Text, server_default="")
    fov_deg: Mapped[float | None] = mapped_column(Float)
    pan_min_deg: Mapped[float | None] = mapped_column(Float)
    pan_max_deg: Mapped[float | None] = mapped_column(Float)
    resolution_px_h: Mapped[int | None] = mapped_column(Integer)
    megapixels: Mapped[float | None] = mapped_column(Float)
    purpose: Mapped[str] = mapped_column(Text, server_default="")
    status: Mapped[str] = mapped_column(Text, server_default="online")
    address: Mapped[str] = mapped_column(Text, server_default="")
    direction_text: Mapped[str] = mapped_column(Text, server_default="")
    #: the camera's stream URL: a secret that goes to the relay and never to a requester
    source_url: Mapped[str | None] = mapped_column(Text)
    provenance: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batch.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class Coverage(Base):
    """Ground a camera sees usefully at one DORI level: a sector, a disk or a pan-limited sector."""

    __tablename__ = "coverage"
    __table_args__ = (
        UniqueConstraint("camera_id", "level"),
        _one_of("level", domain.DORI_PX_PER_M),
        _one_of("confidence", domain.COVERAGE_CONFIDENCES),
        Index("ix_coverage_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("camera.id", ondelete="CASCADE"))
    level: Mapped[str] = mapped_column(Text)
    range_m: Mapped[float] = mapped_column(Float)
    confidence: Mapped[str] = mapped_column(Text)
    geom: Mapped[Any] = mapped_column(_geom("POLYGON"))


class RoadNetwork(Base):
    """One imported road network (an OSM extract): its extent bounds what cordons can know."""

    __tablename__ = "road_network"
    __table_args__ = (Index("ix_road_network_extent", "extent", postgresql_using="gist"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    source_format: Mapped[str] = mapped_column(Text)
    extent: Mapped[Any] = mapped_column(_geom("POLYGON"))
    import_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batch.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class RoadNode(Base):
    """A road-graph node: a junction or the end of a way."""

    __tablename__ = "road_node"
    __table_args__ = (
        UniqueConstraint("network_id", "osm_id"),
        Index("ix_road_node_geom", "geom", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("road_network.id", ondelete="CASCADE"))
    osm_id: Mapped[int] = mapped_column(BigInteger)
    geom: Mapped[Any] = mapped_column(_geom("POINT"))


class RoadSegment(Base):
    """A road between two nodes. ``oneway``: traffic may go only from ``source`` to ``target``."""

    __tablename__ = "road_segment"
    __table_args__ = (
        Index("ix_road_segment_geom", "geom", postgresql_using="gist"),
        CheckConstraint("length_m >= 0", name="length_nonnegative"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    network_id: Mapped[int] = mapped_column(
        ForeignKey("road_network.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[int] = mapped_column(ForeignKey("road_node.id", ondelete="CASCADE"), index=True)
    target: Mapped[int] = mapped_column(ForeignKey("road_node.id", ondelete="CASCADE"), index=True)
    osm_way_id: Mapped[int | None] = mapped_column(BigInteger)
    highway: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text, server_default="")
    ref: Mapped[str] = mapped_column(Text, server_default="")
    oneway: Mapped[bool] = mapped_column(Boolean)
    bridge: Mapped[bool] = mapped_column(Boolean, server_default="false")
    tunnel: Mapped[bool] = mapped_column(Boolean, server_default="false")
    length_m: Mapped[float] = mapped_column(Float)
    maxspeed_kmh: Mapped[float | None] = mapped_column(Float)
    lanes: Mapped[float | None] = mapped_column(Float)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    geom: Mapped[Any] = mapped_column(_geom("LINESTRING"))


class Activation(Base):
    """A legal basis in force: one of the nine bases, for an area and a period."""

    __tablename__ = "activation"
    __table_args__ = (
        _one_of("basis", domain.LEGAL_BASES),
        CheckConstraint("ends_at > starts_at", name="period_positive"),
        Index("ix_activation_area", "area", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    basis: Mapped[str] = mapped_column(Text)
    reference: Mapped[str] = mapped_column(Text)
    issuer_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    area: Mapped[Any] = mapped_column(_geom("MULTIPOLYGON"))
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class Incident(Base):
    """A point raised by a requester, with its cordon query's parameters and answer on record."""

    __tablename__ = "incident"
    __table_args__ = (
        _one_of("status", domain.INCIDENT_STATUSES),
        _one_of("mode", domain.CORDON_MODES),
        _one_of("direction", domain.DIRECTIONS),
        _one_of("travel", domain.TRAVEL_MODES),
        _one_of("level", domain.DORI_PX_PER_M),
        CheckConstraint("radius_m >= 50 AND radius_m <= 5000", name="radius_range"),
        Index("ix_incident_location", "location", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    location: Mapped[Any] = mapped_column(_geom("POINT"))
    radius_m: Mapped[float] = mapped_column(Float)
    mode: Mapped[str] = mapped_column(Text)
    direction: Mapped[str] = mapped_column(Text, server_default="inbound")
    travel: Mapped[str] = mapped_column(Text, server_default="drive")
    level: Mapped[str] = mapped_column(Text, server_default=domain.DEFAULT_DORI_LEVEL)
    note: Mapped[str] = mapped_column(Text, server_default="")
    status: Mapped[str] = mapped_column(Text, server_default="open")
    incomplete: Mapped[bool] = mapped_column(Boolean, server_default="false")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Approach(Base):
    """One approach (or exit) of an incident's cordon, as answered when the incident was raised."""

    __tablename__ = "approach"
    __table_args__ = (
        UniqueConstraint("incident_id", "seq"),
        _one_of("direction", ("inbound", "outbound")),
        Index("ix_approach_entry_point", "entry_point", postgresql_using="gist"),
        Index("ix_approach_watch_stretch", "watch_stretch", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    direction: Mapped[str] = mapped_column(Text)
    road_name: Mapped[str] = mapped_column(Text, server_default="")
    highway: Mapped[str] = mapped_column(Text)
    is_main: Mapped[bool] = mapped_column(Boolean)
    bearing_deg: Mapped[float] = mapped_column(Float)
    blind: Mapped[bool] = mapped_column(Boolean)
    entry_point: Mapped[Any] = mapped_column(_geom("POINT"))
    watch_stretch: Mapped[Any] = mapped_column(_geom("LINESTRING"))
    #: ranked watching cameras: [{camera_id, rank, dori_level, faces_traffic, distance_m, online}]
    cameras: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default="[]")


class FeedRequest(Base):
    """One camera's feed asked for one incident, routed requester → regional centre → owner."""

    __tablename__ = "feed_request"
    __table_args__ = (
        _one_of("status", domain.FEED_REQUEST_STATUSES),
        UniqueConstraint("incident_id", "camera_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id"), index=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("camera.id"), index=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    routed_via_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    activation_id: Mapped[int] = mapped_column(ForeignKey("activation.id"), index=True)
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    reason: Mapped[str] = mapped_column(Text, server_default="")
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("api_key.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class FeedSession(Base):
    """One relayed stream of one camera for one requesting organization, with its own credential."""

    __tablename__ = "feed_session"
    __table_args__ = (
        _one_of("status", domain.FEED_SESSION_STATUSES),
        UniqueConstraint("relay_name", "relay_stream_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_request_id: Mapped[int] = mapped_column(ForeignKey("feed_request.id"), index=True)
    relay_name: Mapped[str] = mapped_column(Text)
    relay_stream_id: Mapped[str] = mapped_column(Text)
    credential_hash: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    status: Mapped[str] = mapped_column(Text, server_default="live")
    last_error: Mapped[str] = mapped_column(Text, server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class RelayStream(Base):
    """A stream gilmok provisioned on a relay and has not yet destroyed: the relay's stream ledger.

    Written before the relay is asked to create the stream (``provisioning``), so a crash in
    between leaves a row the reconciler destroys rather than an orphan nobody can find. Holds
    no secret: the adapter derives a stream's management secret from its id.
    """

    __tablename__ = "relay_stream"
    __table_args__ = (_one_of("state", ("provisioning", "live")),)

    relay_stream_id: Mapped[str] = mapped_column(Text, primary_key=True)
    backend: Mapped[str] = mapped_column(Text, index=True)
    #: the provisioner's key (``feed_request:<id>``)
    key: Mapped[str] = mapped_column(Text)
    viewer_org: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    state: Mapped[str] = mapped_column(Text, server_default="provisioning")


class RateLimitCounter(Base):
    """One fixed-window counter of the API's rate limits (:mod:`geo.store.rate_limits`).

    UNLOGGED: a counter is worth nothing after a crash, and a hit then writes no WAL.
    """

    __tablename__ = "rate_limit_counter"
    __table_args__ = ({"prefixes": ["UNLOGGED"]},)

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    hits: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class AuditRecord(Base):
    """Append-only, hash-chained record of every request, decision, provision, view and revocation.

    ``record_hash`` = SHA-256 over ``prev_hash`` and the record's canonical JSON; a trigger refuses
    UPDATE and DELETE, and the application role is granted INSERT and SELECT only.
    """

    __tablename__ = "audit_record"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())
    actor: Mapped[str] = mapped_column(Text)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id"))
    action: Mapped[str] = mapped_column(Text, index=True)
    subject_type: Mapped[str] = mapped_column(Text)
    subject_id: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    record_hash: Mapped[str] = mapped_column(String(64), unique=True)


class Drill(Base):
    """A named drill: camera sets precomputed for many scenario points with one set of options."""

    __tablename__ = "drill"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    #: the cordon query's options (radius_m / minutes+speed_kmh, mode, direction, travel, level)
    options: Mapped[dict[str, Any]] = mapped_column(JSONB)
    source_file: Mapped[str] = mapped_column(Text, server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=_now())


class DrillScenario(Base):
    """One scenario point of a drill and, once computed, its approaches and best cameras."""

    __tablename__ = "drill_scenario"
    __table_args__ = (
        UniqueConstraint("drill_id", "name"),
        _one_of("status", ("pending", "done", "failed")),
        Index("ix_drill_scenario_location", "location", postgresql_using="gist"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    drill_id: Mapped[int] = mapped_column(ForeignKey("drill.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(Text)
    location: Mapped[Any] = mapped_column(_geom("POINT"))
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    approaches: Mapped[int | None] = mapped_column(Integer)
    blind: Mapped[int | None] = mapped_column(Integer)
    incomplete: Mapped[bool | None] = mapped_column(Boolean)
    #: approaches with their best cameras: [{seq, road_name, highway, main, bearing_deg,
    #: blind, lon, lat, cameras: [{camera_id, rank, dori_level, facing, distance_m}]}]
    result: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    error: Mapped[str] = mapped_column(Text, server_default="")
    computed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
