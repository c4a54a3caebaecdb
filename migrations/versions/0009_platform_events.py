"""Smart-city integrated platform linkage: platforms, subscriptions, policies, events, the
event log and the outbox of events out.

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-03 12:40:00
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

from geo import domain

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

APP_ROLE = "gilmok_app"
TABLES = (
    "platform",
    "platform_subscription",
    "platform_policy",
    "platform_event",
    "platform_event_incident",
    "platform_message",
    "platform_outbox",
)


def _in(column: str, values: Iterable[str]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "platform",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("key_prefix", sa.String(length=12), nullable=False),
        sa.Column("key_hash", sa.LargeBinary(), nullable=False),
        sa.Column("callback_url", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform")),
        sa.UniqueConstraint("code", name=op.f("uq_platform_code")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_platform_key_hash")),
        sa.UniqueConstraint("key_prefix", name=op.f("uq_platform_key_prefix")),
    )
    op.create_table(
        "platform_subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("radius_m", sa.Float(), server_default="500", nullable=False),
        sa.Column("mode", sa.Text(), server_default="network", nullable=False),
        sa.Column("direction", sa.Text(), server_default="inbound", nullable=False),
        sa.Column("travel", sa.Text(), server_default="drive", nullable=False),
        sa.Column("level", sa.Text(), server_default=domain.DEFAULT_DORI_LEVEL, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.CheckConstraint(
            _in("mode", domain.CORDON_MODES), name=op.f("ck_platform_subscription_mode")
        ),
        sa.CheckConstraint(
            _in("direction", domain.DIRECTIONS), name=op.f("ck_platform_subscription_direction")
        ),
        sa.CheckConstraint(
            _in("travel", domain.TRAVEL_MODES), name=op.f("ck_platform_subscription_travel")
        ),
        sa.CheckConstraint(
            _in("level", domain.DORI_PX_PER_M), name=op.f("ck_platform_subscription_level")
        ),
        sa.CheckConstraint(
            "radius_m >= 50 AND radius_m <= 5000",
            name=op.f("ck_platform_subscription_radius_range"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_platform_subscription_organization_id_organization"),
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["platform.id"],
            name=op.f("fk_platform_subscription_platform_id_platform"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_subscription")),
        sa.UniqueConstraint(
            "platform_id",
            "event_type",
            "organization_id",
            name=op.f("uq_platform_subscription_platform_id_event_type_organization_id"),
        ),
    )
    op.create_table(
        "platform_policy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("area", sa.Text(), server_default="radius", nullable=False),
        sa.Column("radius_m", sa.Float(), server_default="1000", nullable=False),
        sa.Column("max_hours", sa.Float(), server_default="24", nullable=False),
        sa.Column("activation", sa.Text(), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.CheckConstraint(_in("basis", domain.LEGAL_BASES), name=op.f("ck_platform_policy_basis")),
        sa.CheckConstraint(
            _in("activation", ("automatic", "regional_centre")),
            name=op.f("ck_platform_policy_activation"),
        ),
        sa.CheckConstraint(
            _in("area", ("radius", "sigungu")), name=op.f("ck_platform_policy_area")
        ),
        sa.CheckConstraint(
            "radius_m >= 50 AND radius_m <= 50000", name=op.f("ck_platform_policy_radius_range")
        ),
        sa.CheckConstraint(
            "max_hours > 0 AND max_hours <= 2160", name=op.f("ck_platform_policy_max_hours_range")
        ),
        sa.ForeignKeyConstraint(
            ["issuer_id"],
            ["organization.id"],
            name=op.f("fk_platform_policy_issuer_id_organization"),
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platform.id"], name=op.f("fk_platform_policy_platform_id_platform")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_policy")),
        sa.UniqueConstraint(
            "platform_id", "event_type", name=op.f("uq_platform_policy_platform_id_event_type")
        ),
    )
    op.create_table(
        "platform_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("ocr_nbr", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("event_name", sa.Text(), server_default="", nullable=False),
        sa.Column("grade", sa.Text(), server_default="", nullable=False),
        sa.Column("place", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "location",
            Geometry("POINT", srid=5179, spatial_index=False),
            nullable=True,
        ),
        sa.Column("status_code", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), server_default="open", nullable=False),
        sa.Column("callback_url", sa.Text(), server_default="", nullable=False),
        sa.Column("policy_id", sa.Integer(), nullable=True),
        sa.Column("activation_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(_in("state", ("open", "closed")), name=op.f("ck_platform_event_state")),
        sa.ForeignKeyConstraint(
            ["activation_id"],
            ["activation.id"],
            name=op.f("fk_platform_event_activation_id_activation"),
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platform.id"], name=op.f("fk_platform_event_platform_id_platform")
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["platform_policy.id"],
            name=op.f("fk_platform_event_policy_id_platform_policy"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_event")),
        sa.UniqueConstraint(
            "platform_id", "ocr_nbr", name=op.f("uq_platform_event_platform_id_ocr_nbr")
        ),
    )
    op.create_index(
        "ix_platform_event_location",
        "platform_event",
        ["location"],
        unique=False,
        postgresql_using="gist",
    )
    op.create_table(
        "platform_event_incident",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["platform_event.id"],
            name=op.f("fk_platform_event_incident_event_id_platform_event"),
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"],
            ["incident.id"],
            name=op.f("fk_platform_event_incident_incident_id_incident"),
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["platform_subscription.id"],
            name=op.f("fk_platform_event_incident_subscription_id_platform_subscription"),
        ),
        sa.PrimaryKeyConstraint("event_id", "incident_id", name=op.f("pk_platform_event_incident")),
        sa.UniqueConstraint("incident_id", name=op.f("uq_platform_event_incident_incident_id")),
    )
    op.create_table(
        "platform_message",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("ocr_nbr", sa.Text(), nullable=False),
        sa.Column("status_code", sa.Text(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("raw", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("repeats", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_received_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["platform_event.id"],
            name=op.f("fk_platform_message_event_id_platform_event"),
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platform.id"], name=op.f("fk_platform_message_platform_id_platform")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_message")),
        sa.UniqueConstraint(
            "platform_id",
            "ocr_nbr",
            "status_code",
            name=op.f("uq_platform_message_platform_id_ocr_nbr_status_code"),
        ),
    )
    op.create_index(
        op.f("ix_platform_message_event_id"), "platform_message", ["event_id"], unique=False
    )
    op.create_table(
        "platform_outbox",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("target_url", sa.Text(), nullable=False),
        sa.Column("body", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("state", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "next_attempt_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False
        ),
        sa.Column("last_error", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            _in("state", ("pending", "delivered", "failed")),
            name=op.f("ck_platform_outbox_state"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["platform_event.id"],
            name=op.f("fk_platform_outbox_event_id_platform_event"),
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"], ["platform.id"], name=op.f("fk_platform_outbox_platform_id_platform")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_outbox")),
    )
    op.create_index(
        op.f("ix_platform_outbox_platform_id"), "platform_outbox", ["platform_id"], unique=False
    )
    op.create_index(
        "ix_platform_outbox_due",
        "platform_outbox",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("state = 'pending'"),
    )
    for table in TABLES:
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE {table} TO {APP_ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_table(table)
