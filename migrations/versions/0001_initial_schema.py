"""Initial schema: organizations, keys, cameras, coverage, roads, activations, incidents, feeds.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 15:26:16.733371
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "import_batch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("rows_imported", sa.Integer(), nullable=False),
        sa.Column("rows_merged", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("rows_already_present", sa.Integer(), nullable=False),
        sa.Column("report", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "rows_read = rows_imported + rows_merged + rows_rejected + rows_already_present",
            name=op.f("ck_import_batch_report_adds_up"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_batch")),
    )
    op.create_index(
        op.f("ix_import_batch_file_sha256"), "import_batch", ["file_sha256"], unique=False
    )
    op.create_geospatial_table(
        "organization",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column(
            "service_area",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=5179,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=True,
        ),
        sa.Column(
            "auto_approve_bases",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="[]",
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('municipal_centre', 'regional_centre', 'military_unit', 'police', 'fire', 'planner', 'admin')",
            name=op.f("ck_organization_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["organization.id"], name=op.f("fk_organization_parent_id_organization")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organization")),
        sa.UniqueConstraint("name", name=op.f("uq_organization_name")),
    )
    op.create_geospatial_index(
        "ix_organization_service_area",
        "organization",
        ["service_area"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "activation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=False),
        sa.Column(
            "area",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=5179,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "basis IN ('integrated_defence_situation', 'alert_level_2', 'integrated_defence_drill', 'government_exercise', 'rok_us_combined_exercise', 'terrorism', 'natural_disaster', 'social_disaster', 'emergency_rescue')",
            name=op.f("ck_activation_basis"),
        ),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_activation_period_positive")),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["organization.id"], name=op.f("fk_activation_issuer_id_organization")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activation")),
    )
    op.create_geospatial_index(
        "ix_activation_area",
        "activation",
        ["area"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_table(
        "api_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), server_default="", nullable=False),
        sa.Column("prefix", sa.String(length=12), nullable=False),
        sa.Column("key_hash", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "role IN ('requester', 'regional_centre', 'municipal_centre', 'planner', 'auditor', 'admin')",
            name=op.f("ck_api_key_role"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_api_key_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_key")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_key_key_hash")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_key_prefix")),
    )
    op.create_index(
        op.f("ix_api_key_organization_id"), "api_key", ["organization_id"], unique=False
    )
    op.create_table(
        "audit_record",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("subject_type", sa.Text(), nullable=False),
        sa.Column("subject_id", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=True),
        sa.Column(
            "details", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_audit_record_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_record")),
        sa.UniqueConstraint("record_hash", name=op.f("uq_audit_record_record_hash")),
    )
    op.create_index(op.f("ix_audit_record_action"), "audit_record", ["action"], unique=False)
    op.create_geospatial_table(
        "camera",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_key", sa.Text(), nullable=False),
        sa.Column("site_key", sa.Text(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column(
            "position",
            Geometry(
                geometry_type="POINT",
                srid=5179,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("mount_height_m", sa.Float(), nullable=True),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("heading_deg", sa.Float(), nullable=True),
        sa.Column("heading_source", sa.Text(), nullable=False),
        sa.Column("heading_uncertainty_deg", sa.Float(), nullable=True),
        sa.Column("heading_hint", sa.Text(), server_default="", nullable=False),
        sa.Column("fov_deg", sa.Float(), nullable=True),
        sa.Column("pan_min_deg", sa.Float(), nullable=True),
        sa.Column("pan_max_deg", sa.Float(), nullable=True),
        sa.Column("resolution_px_h", sa.Integer(), nullable=True),
        sa.Column("megapixels", sa.Float(), nullable=True),
        sa.Column("purpose", sa.Text(), server_default="", nullable=False),
        sa.Column("status", sa.Text(), server_default="online", nullable=False),
        sa.Column("address", sa.Text(), server_default="", nullable=False),
        sa.Column("direction_text", sa.Text(), server_default="", nullable=False),
        sa.Column("source_url", sa.Text(), nullable=True),
        sa.Column(
            "provenance",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("import_batch_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(heading_deg IS NULL) = (heading_source = 'unknown')",
            name=op.f("ck_camera_heading_source_matches"),
        ),
        sa.CheckConstraint(
            "heading_source IN ('surveyed', 'osm_tag', 'inferred', 'unknown')",
            name=op.f("ck_camera_heading_source"),
        ),
        sa.CheckConstraint("kind IN ('fixed', 'ptz', 'dome')", name=op.f("ck_camera_kind")),
        sa.CheckConstraint(
            "source IN ('cctv_standard', 'enforcement', 'osm', 'manual')",
            name=op.f("ck_camera_source"),
        ),
        sa.CheckConstraint(
            "status IN ('online', 'offline', 'retired')", name=op.f("ck_camera_status")
        ),
        sa.CheckConstraint(
            "fov_deg IS NULL OR (fov_deg > 0 AND fov_deg <= 360)", name=op.f("ck_camera_fov_range")
        ),
        sa.CheckConstraint(
            "heading_deg IS NULL OR (heading_deg >= 0 AND heading_deg < 360)",
            name=op.f("ck_camera_heading_range"),
        ),
        sa.ForeignKeyConstraint(
            ["import_batch_id"],
            ["import_batch.id"],
            name=op.f("fk_camera_import_batch_id_import_batch"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["organization.id"], name=op.f("fk_camera_owner_id_organization")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_camera")),
        sa.UniqueConstraint("source", "source_key", name=op.f("uq_camera_source_source_key")),
    )
    op.create_index(op.f("ix_camera_import_batch_id"), "camera", ["import_batch_id"], unique=False)
    op.create_index(op.f("ix_camera_owner_id"), "camera", ["owner_id"], unique=False)
    op.create_geospatial_index(
        "ix_camera_position",
        "camera",
        ["position"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_camera_site_key"), "camera", ["site_key"], unique=False)
    op.create_geospatial_table(
        "incident",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column(
            "location",
            Geometry(
                geometry_type="POINT",
                srid=5179,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("radius_m", sa.Float(), nullable=False),
        sa.Column("mode", sa.Text(), nullable=False),
        sa.Column("direction", sa.Text(), server_default="inbound", nullable=False),
        sa.Column("travel", sa.Text(), server_default="drive", nullable=False),
        sa.Column("level", sa.Text(), server_default="observe", nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("status", sa.Text(), server_default="open", nullable=False),
        sa.Column("incomplete", sa.Boolean(), server_default="false", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "direction IN ('inbound', 'outbound', 'both')", name=op.f("ck_incident_direction")
        ),
        sa.CheckConstraint(
            "level IN ('detect', 'observe', 'recognise', 'identify')",
            name=op.f("ck_incident_level"),
        ),
        sa.CheckConstraint("mode IN ('network', 'euclidean')", name=op.f("ck_incident_mode")),
        sa.CheckConstraint("status IN ('open', 'closed')", name=op.f("ck_incident_status")),
        sa.CheckConstraint("travel IN ('drive', 'foot')", name=op.f("ck_incident_travel")),
        sa.CheckConstraint(
            "radius_m >= 50 AND radius_m <= 5000", name=op.f("ck_incident_radius_range")
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["organization.id"],
            name=op.f("fk_incident_requester_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident")),
    )
    op.create_geospatial_index(
        "ix_incident_location",
        "incident",
        ["location"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("ix_incident_requester_id"), "incident", ["requester_id"], unique=False)
    op.create_geospatial_table(
        "road_network",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("source_format", sa.Text(), nullable=False),
        sa.Column(
            "extent",
            Geometry(
                geometry_type="POLYGON",
                srid=5179,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("import_batch_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["import_batch_id"],
            ["import_batch.id"],
            name=op.f("fk_road_network_import_batch_id_import_batch"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_road_network")),
        sa.UniqueConstraint("name", name=op.f("uq_road_network_name")),
    )
    op.create_geospatial_index(
        "ix_road_network_extent",
        "road_network",
        ["extent"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "approach",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("direction", sa.Text(), nullable=False),
        sa.Column("road_name", sa.Text(), server_default="", nullable=False),
        sa.Column("highway", sa.Text(), nullable=False),
        sa.Column("is_main", sa.Boolean(), nullable=False),
        sa.Column("bearing_deg", sa.Float(), nullable=False),
        sa.Column("blind", sa.Boolean(), nullable=False),
        sa.Column(
            "entry_point",
            Geometry(
                geometry_type="POINT",
                srid=5179,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "watch_stretch",
            Geometry(
                geometry_type="LINESTRING",
                srid=5179,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column(
            "cameras", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.CheckConstraint(
            "direction IN ('inbound', 'outbound')", name=op.f("ck_approach_direction")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_approach_incident_id_incident"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approach")),
        sa.UniqueConstraint("incident_id", "seq", name=op.f("uq_approach_incident_id_seq")),
    )
    op.create_geospatial_index(
        "ix_approach_entry_point",
        "approach",
        ["entry_point"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_index(
        "ix_approach_watch_stretch",
        "approach",
        ["watch_stretch"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_geospatial_table(
        "coverage",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("camera_id", sa.BigInteger(), nullable=False),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("range_m", sa.Float(), nullable=False),
        sa.Column("confidence", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POLYGON",
                srid=5179,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint("confidence IN ('high', 'low')", name=op.f("ck_coverage_confidence")),
        sa.CheckConstraint(
            "level IN ('detect', 'observe', 'recognise', 'identify')",
            name=op.f("ck_coverage_level"),
        ),
        sa.ForeignKeyConstraint(
            ["camera_id"],
            ["camera.id"],
            name=op.f("fk_coverage_camera_id_camera"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coverage")),
        sa.UniqueConstraint("camera_id", "level", name=op.f("uq_coverage_camera_id_level")),
    )
    op.create_geospatial_index(
        "ix_coverage_geom",
        "coverage",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_table(
        "feed_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("camera_id", sa.BigInteger(), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column("routed_via_id", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("activation_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'denied', 'provisioned', 'failed', 'revoked', 'expired')",
            name=op.f("ck_feed_request_status"),
        ),
        sa.ForeignKeyConstraint(
            ["activation_id"],
            ["activation.id"],
            name=op.f("fk_feed_request_activation_id_activation"),
        ),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["camera.id"], name=op.f("fk_feed_request_camera_id_camera")
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["api_key.id"], name=op.f("fk_feed_request_decided_by_api_key")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incident.id"], name=op.f("fk_feed_request_incident_id_incident")
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["organization.id"], name=op.f("fk_feed_request_owner_id_organization")
        ),
        sa.ForeignKeyConstraint(
            ["requester_id"],
            ["organization.id"],
            name=op.f("fk_feed_request_requester_id_organization"),
        ),
        sa.ForeignKeyConstraint(
            ["routed_via_id"],
            ["organization.id"],
            name=op.f("fk_feed_request_routed_via_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_request")),
        sa.UniqueConstraint(
            "incident_id", "camera_id", name=op.f("uq_feed_request_incident_id_camera_id")
        ),
    )
    op.create_index(
        op.f("ix_feed_request_activation_id"), "feed_request", ["activation_id"], unique=False
    )
    op.create_index(op.f("ix_feed_request_camera_id"), "feed_request", ["camera_id"], unique=False)
    op.create_index(
        op.f("ix_feed_request_incident_id"), "feed_request", ["incident_id"], unique=False
    )
    op.create_index(op.f("ix_feed_request_owner_id"), "feed_request", ["owner_id"], unique=False)
    op.create_geospatial_table(
        "road_node",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("osm_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="POINT",
                srid=5179,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["road_network.id"],
            name=op.f("fk_road_node_network_id_road_network"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_road_node")),
        sa.UniqueConstraint("network_id", "osm_id", name=op.f("uq_road_node_network_id_osm_id")),
    )
    op.create_geospatial_index(
        "ix_road_node_geom",
        "road_node",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_table(
        "feed_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feed_request_id", sa.Integer(), nullable=False),
        sa.Column("relay_name", sa.Text(), nullable=False),
        sa.Column("relay_stream_id", sa.Text(), nullable=False),
        sa.Column("credential_hash", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text(), server_default="live", nullable=False),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('live', 'revoked', 'expired', 'failed')",
            name=op.f("ck_feed_session_status"),
        ),
        sa.ForeignKeyConstraint(
            ["feed_request_id"],
            ["feed_request.id"],
            name=op.f("fk_feed_session_feed_request_id_feed_request"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feed_session")),
        sa.UniqueConstraint(
            "relay_name", "relay_stream_id", name=op.f("uq_feed_session_relay_name_relay_stream_id")
        ),
    )
    op.create_index(
        op.f("ix_feed_session_expires_at"), "feed_session", ["expires_at"], unique=False
    )
    op.create_index(
        op.f("ix_feed_session_feed_request_id"), "feed_session", ["feed_request_id"], unique=False
    )
    op.create_geospatial_table(
        "road_segment",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.BigInteger(), nullable=False),
        sa.Column("target", sa.BigInteger(), nullable=False),
        sa.Column("osm_way_id", sa.BigInteger(), nullable=True),
        sa.Column("highway", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), server_default="", nullable=False),
        sa.Column("ref", sa.Text(), server_default="", nullable=False),
        sa.Column("oneway", sa.Boolean(), nullable=False),
        sa.Column("bridge", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("tunnel", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("length_m", sa.Float(), nullable=False),
        sa.Column("maxspeed_kmh", sa.Float(), nullable=True),
        sa.Column("lanes", sa.Float(), nullable=True),
        sa.Column(
            "attributes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="LINESTRING",
                srid=5179,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.CheckConstraint("length_m >= 0", name=op.f("ck_road_segment_length_nonnegative")),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["road_network.id"],
            name=op.f("fk_road_segment_network_id_road_network"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source"],
            ["road_node.id"],
            name=op.f("fk_road_segment_source_road_node"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target"],
            ["road_node.id"],
            name=op.f("fk_road_segment_target_road_node"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_road_segment")),
    )
    op.create_geospatial_index(
        "ix_road_segment_geom",
        "road_segment",
        ["geom"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("ix_road_segment_network_id"), "road_segment", ["network_id"], unique=False
    )
    op.create_index(op.f("ix_road_segment_source"), "road_segment", ["source"], unique=False)
    op.create_index(op.f("ix_road_segment_target"), "road_segment", ["target"], unique=False)

    # The audit trail is append-only for everyone, owner included: rows cannot be changed or removed.
    op.execute(
        """
        CREATE FUNCTION audit_record_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit_record is append-only: % refused', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$;
        CREATE TRIGGER audit_record_no_update_delete BEFORE UPDATE OR DELETE ON audit_record
            FOR EACH ROW EXECUTE FUNCTION audit_record_is_append_only();
        CREATE TRIGGER audit_record_no_truncate BEFORE TRUNCATE ON audit_record
            FOR EACH STATEMENT EXECUTE FUNCTION audit_record_is_append_only();
        """
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_record_no_truncate ON audit_record")
    op.execute("DROP TRIGGER IF EXISTS audit_record_no_update_delete ON audit_record")
    op.execute("DROP FUNCTION IF EXISTS audit_record_is_append_only()")
    op.drop_index(op.f("ix_road_segment_target"), table_name="road_segment")
    op.drop_index(op.f("ix_road_segment_source"), table_name="road_segment")
    op.drop_index(op.f("ix_road_segment_network_id"), table_name="road_segment")
    op.drop_geospatial_index(
        "ix_road_segment_geom",
        table_name="road_segment",
        postgresql_using="gist",
        column_name="geom",
    )
    op.drop_geospatial_table("road_segment")
    op.drop_index(op.f("ix_feed_session_feed_request_id"), table_name="feed_session")
    op.drop_index(op.f("ix_feed_session_expires_at"), table_name="feed_session")
    op.drop_table("feed_session")
    op.drop_geospatial_index(
        "ix_road_node_geom", table_name="road_node", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("road_node")
    op.drop_index(op.f("ix_feed_request_owner_id"), table_name="feed_request")
    op.drop_index(op.f("ix_feed_request_incident_id"), table_name="feed_request")
    op.drop_index(op.f("ix_feed_request_camera_id"), table_name="feed_request")
    op.drop_index(op.f("ix_feed_request_activation_id"), table_name="feed_request")
    op.drop_table("feed_request")
    op.drop_geospatial_index(
        "ix_coverage_geom", table_name="coverage", postgresql_using="gist", column_name="geom"
    )
    op.drop_geospatial_table("coverage")
    op.drop_geospatial_index(
        "ix_approach_watch_stretch",
        table_name="approach",
        postgresql_using="gist",
        column_name="watch_stretch",
    )
    op.drop_geospatial_index(
        "ix_approach_entry_point",
        table_name="approach",
        postgresql_using="gist",
        column_name="entry_point",
    )
    op.drop_geospatial_table("approach")
    op.drop_geospatial_index(
        "ix_road_network_extent",
        table_name="road_network",
        postgresql_using="gist",
        column_name="extent",
    )
    op.drop_geospatial_table("road_network")
    op.drop_index(op.f("ix_incident_requester_id"), table_name="incident")
    op.drop_geospatial_index(
        "ix_incident_location",
        table_name="incident",
        postgresql_using="gist",
        column_name="location",
    )
    op.drop_geospatial_table("incident")
    op.drop_index(op.f("ix_camera_site_key"), table_name="camera")
    op.drop_geospatial_index(
        "ix_camera_position", table_name="camera", postgresql_using="gist", column_name="position"
    )
    op.drop_index(op.f("ix_camera_owner_id"), table_name="camera")
    op.drop_index(op.f("ix_camera_import_batch_id"), table_name="camera")
    op.drop_geospatial_table("camera")
    op.drop_index(op.f("ix_audit_record_action"), table_name="audit_record")
    op.drop_table("audit_record")
    op.drop_index(op.f("ix_api_key_organization_id"), table_name="api_key")
    op.drop_table("api_key")
    op.drop_geospatial_index(
        "ix_activation_area", table_name="activation", postgresql_using="gist", column_name="area"
    )
    op.drop_geospatial_table("activation")
    op.drop_geospatial_index(
        "ix_organization_service_area",
        table_name="organization",
        postgresql_using="gist",
        column_name="service_area",
    )
    op.drop_geospatial_table("organization")
    op.drop_index(op.f("ix_import_batch_file_sha256"), table_name="import_batch")
    op.drop_table("import_batch")
