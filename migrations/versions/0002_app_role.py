"""The web app's database role: full use of the working tables, append-only on the audit trail.

The schema owner (the role that runs migrations, ``gilmok`` by default) keeps ownership. The web
app works as ``gilmok_app``, a NOLOGIN role: it may read and write every gilmok table except
``audit_record``, where it may only SELECT and INSERT, and it may not change the schema or the
migration revision. The app drops to it with ``SET LOCAL ROLE gilmok_app`` at the start of
every transaction (``geo.store.app_role``), so a login role only needs membership of it. The
service logs in as ``gilmok_service``, a member of ``gilmok_app`` with nothing of its own and
neither the owner nor a member of it (scripts/setup.sh creates it; ``gilmok serve`` and
``gilmok worker`` refuse a login that owns the schema). It gets no grants here or in later
migrations: the default privileges below give each later table's working privileges to
``gilmok_app``, and a later append-only table revokes what it must in its own migration.

Roles are cluster-wide: this migration creates ``gilmok_app`` only when it is missing and the
migrating role may create roles; otherwise a superuser provisions it (scripts/setup.sh does).
Downgrading revokes the grants but keeps the role, which other databases may use.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 16:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APP_ROLE = "gilmok_app"


def upgrade() -> None:
    op.execute(
        f"""
        DO $$
        DECLARE
            t record;
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                IF NOT (SELECT rolcreaterole OR rolsuper FROM pg_roles
                        WHERE rolname = current_user) THEN
                    RAISE EXCEPTION 'role {APP_ROLE} does not exist and % may not create it: '
                        'run scripts/setup.sh, or as a superuser: CREATE ROLE {APP_ROLE} NOLOGIN; '
                        'GRANT {APP_ROLE} TO <the app''s login role>', current_user;
                END IF;
                CREATE ROLE {APP_ROLE} NOLOGIN;
            END IF;
            EXECUTE 'GRANT USAGE ON SCHEMA public TO {APP_ROLE}';
            FOR t IN SELECT tablename FROM pg_tables
                     WHERE schemaname = 'public' AND tableowner = current_user
            LOOP
                EXECUTE format('REVOKE ALL ON TABLE %I FROM {APP_ROLE}', t.tablename);
                IF t.tablename = 'alembic_version' THEN
                    EXECUTE format('GRANT SELECT ON TABLE %I TO {APP_ROLE}', t.tablename);
                ELSIF t.tablename = 'audit_record' THEN
                    EXECUTE format('GRANT SELECT, INSERT ON TABLE %I TO {APP_ROLE}', t.tablename);
                ELSE
                    EXECUTE format(
                        'GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE %I TO {APP_ROLE}',
                        t.tablename);
                END IF;
            END LOOP;
        END $$;
        """
    )
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")
    # Tables of later migrations get the same working privileges; an append-only one must revoke.
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public"
        f" GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE}"
    )


def downgrade() -> None:
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public"
        f" REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {APP_ROLE}"
    )
    op.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public"
        f" REVOKE USAGE, SELECT ON SEQUENCES FROM {APP_ROLE}"
    )
    op.execute(
        f"""
        DO $$
        DECLARE
            t record;
        BEGIN
            FOR t IN SELECT tablename FROM pg_tables
                     WHERE schemaname = 'public' AND tableowner = current_user
            LOOP
                EXECUTE format('REVOKE ALL ON TABLE %I FROM {APP_ROLE}', t.tablename);
            END LOOP;
        END $$;
        """
    )
    op.execute(f"REVOKE USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public FROM {APP_ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {APP_ROLE}")
