"""Drills: named sets of scenario points with their precomputed approaches and best cameras.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 16:26:18.380550
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drill",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("options", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("source_file", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drill")),
        sa.UniqueConstraint("name", name=op.f("uq_drill_name")),
    )
    op.create_geospatial_table(
        "drill_scenario",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("drill_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
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
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("approaches", sa.Integer(), nullable=True),
        sa.Column("blind", sa.Integer(), nullable=True),
        sa.Column("incomplete", sa.Boolean(), nullable=True),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("error", sa.Text(), server_default="", nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'done', 'failed')", name=op.f("ck_drill_scenario_status")
        ),
        sa.ForeignKeyConstraint(
            ["drill_id"],
            ["drill.id"],
            name=op.f("fk_drill_scenario_drill_id_drill"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_drill_scenario")),
        sa.UniqueConstraint("drill_id", "name", name=op.f("uq_drill_scenario_drill_id_name")),
    )
    op.create_index(
        op.f("ix_drill_scenario_drill_id"), "drill_scenario", ["drill_id"], unique=False
    )
    op.create_geospatial_index(
        "ix_drill_scenario_location",
        "drill_scenario",
        ["location"],
        unique=False,
        postgresql_using="gist",
        postgresql_ops={},
    )


def downgrade() -> None:
    op.drop_geospatial_index(
        "ix_drill_scenario_location",
        table_name="drill_scenario",
        postgresql_using="gist",
        column_name="location",
    )
    op.drop_index(op.f("ix_drill_scenario_drill_id"), table_name="drill_scenario")
    op.drop_geospatial_table("drill_scenario")
    op.drop_table("drill")
