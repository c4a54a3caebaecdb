"""Relay registry: the streams gilmok provisioned on the relay (no secrets), for reconciliation.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 17:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "relay_stream",
        sa.Column("relay_stream_id", sa.Text(), nullable=False),
        sa.Column("backend", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("viewer_org", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.Text(), server_default="provisioning", nullable=False),
        sa.CheckConstraint("state IN ('provisioning', 'live')", name=op.f("ck_relay_stream_state")),
        sa.PrimaryKeyConstraint("relay_stream_id", name=op.f("pk_relay_stream")),
    )
    op.create_index(op.f("ix_relay_stream_backend"), "relay_stream", ["backend"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_relay_stream_backend"), table_name="relay_stream")
    op.drop_table("relay_stream")
