"""Live camera changes: a camera's status with its reason and since-time, and the change log.

``camera_change`` is the history of every change made to a camera after its import (status,
position, heading, field of view, kind, added, removed), one row per camera and change; its id is
the registry's monotonic change sequence. A statement-level trigger sends ``NOTIFY
gilmok_camera_change`` with the statement, so every process's listener wakes on commit; the
service role may only read and append it (history is not rewritten).

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-03 12:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

APP_ROLE = "gilmok_app"


def upgrade() -> None:
    op.drop_constraint(op.f("ck_camera_status"), "camera", type_="check")
    op.create_check_constraint(
        op.f("ck_camera_status"),
        "camera",
        "status IN ('online', 'offline', 'maintenance', 'retired')",
    )
    op.add_column(
        "camera", sa.Column("status_reason", sa.Text(), server_default="", nullable=False)
    )
    op.add_column("camera", sa.Column("status_since", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "camera_change",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("camera_id", sa.BigInteger(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("via", sa.Text(), nullable=False),
        sa.Column("change", sa.Text(), nullable=False),
        sa.Column("previous", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("current", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "changed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "via IN ('api', 'vms', 'survey', 'relay', 'cli')", name=op.f("ck_camera_change_via")
        ),
        sa.CheckConstraint(
            "change IN ('status', 'correction', 'added', 'removed')",
            name=op.f("ck_camera_change_change"),
        ),
        sa.ForeignKeyConstraint(
            ["camera_id"], ["camera.id"], name=op.f("fk_camera_change_camera_id_camera")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_camera_change_organization_id_organization"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_camera_change")),
    )
    op.create_index("ix_camera_change_camera_id", "camera_change", ["camera_id"])
    op.execute(
        """
        CREATE FUNCTION camera_change_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('gilmok_camera_change', '');
            RETURN NULL;
        END $$;
        CREATE TRIGGER camera_change_notify AFTER INSERT ON camera_change
            FOR EACH STATEMENT EXECUTE FUNCTION camera_change_notify();
        """
    )
    op.execute(f"REVOKE ALL ON TABLE camera_change FROM {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT ON TABLE camera_change TO {APP_ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON SEQUENCE camera_change_id_seq TO {APP_ROLE}")


def downgrade() -> None:
    op.execute("DROP TRIGGER camera_change_notify ON camera_change")
    op.execute("DROP FUNCTION camera_change_notify()")
    op.drop_index("ix_camera_change_camera_id", table_name="camera_change")
    op.drop_table("camera_change")
    op.drop_column("camera", "status_since")
    op.drop_column("camera", "status_reason")
    op.execute("UPDATE camera SET status = 'offline' WHERE status = 'maintenance'")
    op.drop_constraint(op.f("ck_camera_status"), "camera", type_="check")
    op.create_check_constraint(
        op.f("ck_camera_status"), "camera", "status IN ('online', 'offline', 'retired')"
    )
