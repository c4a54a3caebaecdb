"""Request limits: the API's rate-limit counters, shared by every worker and server.

An UNLOGGED table (a counter is worth nothing after a crash; a hit writes no WAL), read and
written by the app role.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

APP_ROLE = "gilmok_app"


def upgrade() -> None:
    op.create_table(
        "rate_limit_counter",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("hits", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limit_counter")),
        prefixes=["UNLOGGED"],
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE rate_limit_counter TO {APP_ROLE}")


def downgrade() -> None:
    op.drop_table("rate_limit_counter")
