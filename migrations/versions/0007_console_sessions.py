"""Console sessions and event wake-ups: browser sessions signed in with an API key, and a
NOTIFY on every audit record so that each server process's event stream learns of it at once.

``browser_session`` holds only SHA-256 digests of the session id (the cookie) and of its CSRF
token; a session lives until its absolute end, its idle end, its sign-out or its key's
revocation. The trigger sends the new record's id on channel ``gilmok_audit`` when the
transaction that wrote it commits (:mod:`api.event_hub` listens).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 12:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

APP_ROLE = "gilmok_app"


def upgrade() -> None:
    op.create_table(
        "browser_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("api_key_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("csrf_hash", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "last_seen_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.now(),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_key.id"],
            name=op.f("fk_browser_session_api_key_id_api_key"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_browser_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_browser_session_token_hash")),
    )
    op.create_index(
        op.f("ix_browser_session_api_key_id"), "browser_session", ["api_key_id"], unique=False
    )
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE browser_session TO {APP_ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON SEQUENCE browser_session_id_seq TO {APP_ROLE}")
    op.execute(
        """
        CREATE FUNCTION gilmok_notify_audit() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('gilmok_audit', NEW.id::text);
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_record_notify AFTER INSERT ON audit_record"
        " FOR EACH ROW EXECUTE FUNCTION gilmok_notify_audit()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER audit_record_notify ON audit_record")
    op.execute("DROP FUNCTION gilmok_notify_audit()")
    op.drop_index(op.f("ix_browser_session_api_key_id"), table_name="browser_session")
    op.drop_table("browser_session")
