"""Database roles: the owner migrates and imports; the service can change rows, never the schema.

The service logs in as ``gilmok_service`` (``GILMOK_DATABASE_URL``), a member of ``gilmok_app``
holding nothing of its own; the schema belongs to ``gilmok`` (``GILMOK_OWNER_DATABASE_URL``).
Every statement below that would let the service hide or rewrite history runs on the service's
own login, so a ``RESET ROLE`` gets it nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from scratch_db import database_env, scratch_database
from sqlalchemy import text
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import DBAPIError

from api import create_app
from api.cli import main
from api.keys import issue_api_key
from api.settings import Settings
from geo.errors import ConfigurationError
from geo.store import audit, connect, orgs
from geo.store.app_role import APP_ROLE, require_service_role

pytestmark = pytest.mark.db

CENTRAL_SEOUL = {
    "type": "Polygon",
    "coordinates": [
        [[126.96, 37.555], [127.0, 37.555], [127.0, 37.58], [126.96, 37.58], [126.96, 37.555]]
    ],
}


def test_the_service_logs_in_as_a_role_other_than_the_owner(
    base_settings: Settings, engine: Engine, service_engine: Engine
) -> None:
    service, owner = base_settings.database_url.username, base_settings.owner_database_url.username
    assert service != owner
    with service_engine.connect() as conn:
        assert conn.execute(text("SELECT session_user")).scalar_one() == service
    with engine.connect() as conn:
        assert conn.execute(text("SELECT session_user")).scalar_one() == owner


def test_the_service_role_holds_only_the_app_roles_privileges(service_engine: Engine) -> None:
    """What the app's transactions run as (``gilmok_app``) is all the service login has, so
    the API tests, which run the app as ``gilmok_app``, test the service's privileges."""
    with service_engine.connect() as conn:
        role = conn.execute(
            text(
                "SELECT rolsuper, rolcreatedb, rolcreaterole, rolbypassrls,"
                " ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g"
                "       ON g.oid = m.roleid WHERE m.member = r.oid ORDER BY 1) AS member_of,"
                " (SELECT count(*) FROM pg_class c WHERE c.relowner = r.oid) AS owns,"
                " (SELECT count(*) FROM information_schema.role_table_grants"
                "  WHERE grantee = r.rolname) AS own_table_grants,"
                " pg_has_role(r.oid, (SELECT relowner FROM pg_class"
                "  WHERE oid = 'audit_record'::regclass), 'MEMBER') AS in_owner"
                " FROM pg_roles r WHERE r.rolname = session_user"
            )
        ).one()
    assert role.member_of == [APP_ROLE]
    assert (role.rolsuper, role.rolcreatedb, role.rolcreaterole, role.rolbypassrls) == (
        False,
        False,
        False,
        False,
    )
    assert (role.owns, role.own_table_grants, role.in_owner) == (0, 0, False)


@pytest.mark.parametrize(
    "statements",
    [
        ["ALTER TABLE audit_record DISABLE TRIGGER audit_record_no_update_delete"],
        ["ALTER TABLE audit_record DISABLE TRIGGER ALL"],
        ["UPDATE audit_record SET actor = 'x'"],
        ["DELETE FROM audit_record"],
        ["TRUNCATE audit_record"],
        ["DROP TABLE audit_record"],
        ["DROP TRIGGER audit_record_no_update_delete ON audit_record"],
        [
            "CREATE OR REPLACE FUNCTION audit_record_is_append_only() RETURNS trigger"
            " LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$"
        ],
        ["ALTER TABLE camera ADD COLUMN spare int"],
        ["TRUNCATE camera"],
        ["DROP TABLE camera CASCADE"],
        ["CREATE TABLE spare (id int)"],
        ["DROP SCHEMA public CASCADE"],
        ["UPDATE alembic_version SET version_num = '0001'"],
        # granting itself more is a no-op with a warning: the statement after it is refused
        ["GRANT UPDATE ON audit_record TO gilmok_app", "UPDATE audit_record SET actor = 'x'"],
        # the login itself has nothing the app role lacks: leaving the role gains nothing
        ["RESET ROLE", "UPDATE audit_record SET actor = 'x'"],
        [f"SET ROLE {APP_ROLE}", "RESET ROLE", "DELETE FROM audit_record"],
    ],
)
def test_the_service_cannot_change_the_schema_or_the_trail(
    service_engine: Engine, statements: list[str]
) -> None:
    *before, refused = statements
    with service_engine.connect() as conn, conn.begin():
        for statement in before:
            conn.execute(text(statement))
        with pytest.raises(DBAPIError) as caught:
            conn.execute(text(refused))
    message = str(caught.value.orig)
    assert "permission denied" in message or "must be owner" in message, message
    # refused by privileges, not merely by the append-only trigger
    assert "append-only" not in message


def test_the_service_may_append_and_read_the_trail(service_engine: Engine) -> None:
    with service_engine.connect() as conn, conn.begin() as tx:
        record = audit.append(
            conn,
            actor="test",
            organization_id=None,
            action="probe",
            subject_type="thing",
            subject_id=1,
        )
        assert audit.list_records(conn, after_id=record.id - 1) == [record]
        tx.rollback()


def test_a_service_login_that_could_rewrite_the_trail_is_refused(
    engine: Engine, service_engine: Engine
) -> None:
    with service_engine.connect() as conn:
        require_service_role(conn)
    with engine.connect() as conn, pytest.raises(ConfigurationError) as caught:
        require_service_role(conn)
    message = caught.value.message
    assert "owns the tables, the schema and the database" in message, message
    assert "GILMOK_OWNER_DATABASE_URL" in message, message


@pytest.mark.parametrize("command", [["serve", "--port", "1"], ["worker", "--once"]])
def test_serve_and_worker_refuse_to_log_in_as_the_owner(engine: Engine, command: list[str]) -> None:
    owner_url = engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(
        main,
        command,
        env={"GILMOK_DATABASE_URL": owner_url, "GILMOK_RELAY_BACKEND": "janus"},
    )
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "role 'gilmok' owns the tables" in lines[0], lines[0]


@pytest.fixture
def scratch(base_settings: Settings) -> Iterator[URL]:
    with scratch_database(base_settings.owner_database_url) as url:
        yield url


def test_migrations_and_the_api_each_run_as_their_own_role(
    scratch: URL, base_settings: Settings
) -> None:
    """``db upgrade`` as the owner; the API, on an engine that logs in as the service itself,
    creates an activation, lists it and shows the audit trail it wrote; the CLI's verify (the
    service too) finds that trail intact."""
    env = database_env(scratch, base_settings)
    runner = CliRunner()
    upgraded = runner.invoke(main, ["db", "upgrade"], env=env)
    assert upgraded.exit_code == 0, upgraded.output
    assert f"gilmok:***@127.0.0.1:5432/{scratch.database}: already at" in upgraded.output
    owner = connect(scratch)
    with owner.begin() as conn:
        centre = orgs.create_organization(
            conn, name=orgs.REGIONAL_CENTRE, kind="regional_centre", actor="t"
        )
        orgs.set_service_area_from(  # a centre activates only inside its service area
            conn, organization_id=centre.id, sido=["서울특별시"],
            country_bounds=base_settings.country_bounds, actor="t",
        )  # fmt: skip
        orgs.create_organization(conn, name="감사관실", kind="admin", actor="t")
        regional = issue_api_key(
            conn, organization=orgs.REGIONAL_CENTRE, role="regional_centre", actor="t"
        )[1]
        auditor = issue_api_key(conn, organization="감사관실", role="auditor", actor="t")[1]
    owner.dispose()
    service = connect(base_settings.database_url.set(database=scratch.database))
    try:
        client = create_app(base_settings, engine=service).test_client()
        now = dt.datetime.now(dt.UTC)
        created = client.post(
            "/v1/activations",
            json={
                "basis": "alert_level_2",
                "reference": "수방사 경계태세 2급 발령 제2026-17호",
                "area": CENTRAL_SEOUL,
                "starts_at": (now - dt.timedelta(hours=1)).isoformat(),
                "ends_at": (now + dt.timedelta(days=1)).isoformat(),
            },
            headers={"Authorization": f"Bearer {regional}"},
        )
        assert created.status_code == 201, created.get_json()
        listed = client.get("/v1/activations", headers={"Authorization": f"Bearer {regional}"})
        assert listed.status_code == 200, listed.get_json()
        trail = client.get("/v1/audit", headers={"Authorization": f"Bearer {auditor}"})
        assert trail.status_code == 200, trail.get_json()
        assert "activation.created" in {r["action"] for r in trail.get_json()["items"]}
        with service.connect() as conn:
            login = conn.execute(text("SELECT session_user")).scalar_one()
        assert login == base_settings.database_url.username
    finally:
        service.dispose()
    verified = runner.invoke(main, ["audit", "verify"], env=env)
    assert verified.exit_code == 0, verified.output
    assert "audit chain intact" in verified.output
