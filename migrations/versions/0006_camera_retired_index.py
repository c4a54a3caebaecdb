"""The retired cameras, indexed: a coverage page leaves them out by an anti-join on this small
partial index instead of reading every candidate's camera row (issue 12: a 0.5 degree box over
Seoul, 46,000 coverage candidates, 78 -> 43 ms median in one run).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 11:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_camera_retired", "camera", ["id"], postgresql_where=sa.text("status = 'retired'")
    )


def downgrade() -> None:
    op.drop_index("ix_camera_retired", table_name="camera")
