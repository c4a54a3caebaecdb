"""The audit trail: one hash chain, verified record by record; tampering is found and named.

Tampering is done the way it could really happen: the app's role is refused outright; the
schema owner (who can disable the append-only trigger) or a forger with INSERT can change the
table, and :func:`verify` then names the first record altered or removed (an owner who re-hashes
the rest of the chain too is caught by an anchor: tests/test_audit_anchor.py).
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from scratch_db import database_env, scratch_database
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import DBAPIError

from api.cli import main
from api.settings import Settings
from geo.store import audit, connect
from geo.store.app_role import APP_ROLE, app_transaction

pytestmark = pytest.mark.db


def _chain(db: Connection, n: int) -> list[audit.AuditRecord]:
    return [
        audit.append(
            db,
            actor="test",
            organization_id=None,
            action="probe",
            subject_type="thing",
            subject_id=i,
            legal_basis="alert_level_2" if i % 2 else None,
            details={"i": i, "name": "가나다", "big": 1e20, "nested": {"b": [1, 2.5], "a": None}},
        )
        for i in range(n)
    ]


def _as_owner_without_trigger(db: Connection, statement: str, **params: object) -> None:
    """What the schema owner can do: switch the append-only trigger off for one statement."""
    db.execute(text("ALTER TABLE audit_record DISABLE TRIGGER audit_record_no_update_delete"))
    db.execute(text(statement), params)
    db.execute(text("ALTER TABLE audit_record ENABLE TRIGGER audit_record_no_update_delete"))


def _as_app(db: Connection, *statements: str) -> None:
    with app_transaction(db) as conn:
        for statement in statements:
            conn.execute(text(statement))


def test_appends_form_one_chain_that_verifies(db: Connection) -> None:
    records = _chain(db, 5)
    assert [r.id for r in records] == [1, 2, 3, 4, 5]
    assert records[0].prev_hash == audit.GENESIS_HASH
    for before, after in itertools.pairwise(records):
        assert after.prev_hash == before.record_hash
    check = audit.verify(db)
    assert check.ok, check
    assert (check.records, check.head_id, check.head_hash) == (5, 5, records[-1].record_hash)


def test_empty_trail_verifies(db: Connection) -> None:
    check = audit.verify(db)
    assert check.ok
    assert (check.records, check.head_id, check.head_hash) == (0, None, None)


def test_an_altered_record_is_named(db: Connection) -> None:
    _chain(db, 5)
    _as_owner_without_trigger(
        db, "UPDATE audit_record SET details = details || '{\"i\": 99}' WHERE id = 3"
    )
    check = audit.verify(db)
    assert not check.ok
    assert check.first_bad_id == 3
    assert "altered" in (check.problem or "")


def test_an_altered_and_rehashed_record_is_named(db: Connection) -> None:
    _chain(db, 5)
    row = db.execute(text("SELECT * FROM audit_record WHERE id = 2")).one()
    forged_hash = audit.compute_hash(
        row.prev_hash,
        id=2,
        at=row.at,
        actor="someone else",
        organization_id=row.organization_id,
        action=row.action,
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        legal_basis=row.legal_basis,
        details=row.details,
    )
    _as_owner_without_trigger(
        db,
        "UPDATE audit_record SET actor = 'someone else', record_hash = :h WHERE id = 2",
        h=forged_hash,
    )
    check = audit.verify(db)
    assert (check.ok, check.first_bad_id) == (False, 2)
    assert "re-hashed" in (check.problem or "")


@pytest.mark.parametrize(("removed", "first_bad"), [([3], 3), ([2, 3], 2), ([1], 1)])
def test_a_removed_record_is_named(db: Connection, removed: list[int], first_bad: int) -> None:
    _chain(db, 5)
    _as_owner_without_trigger(db, "DELETE FROM audit_record WHERE id = ANY(:ids)", ids=removed)
    check = audit.verify(db)
    assert (check.ok, check.first_bad_id) == (False, first_bad)
    assert "removed" in (check.problem or "")


def test_a_record_forged_by_the_app_role_is_named(db: Connection) -> None:
    """The app role may INSERT: a record not made by append() breaks the chain where it sits."""
    _chain(db, 3)
    with app_transaction(db) as conn:
        conn.execute(
            text(
                "INSERT INTO audit_record (id, actor, action, subject_type, subject_id,"
                " prev_hash, record_hash) VALUES (4, 'x', 'forged', 't', '1', repeat('0', 64),"
                " repeat('f', 64))"
            )
        )
    check = audit.verify(db)
    assert (check.ok, check.first_bad_id) == (False, 4)


@pytest.mark.parametrize(
    "statements",
    [
        ["UPDATE audit_record SET actor = 'x'"],
        ["DELETE FROM audit_record"],
        ["TRUNCATE audit_record"],
        ["ALTER TABLE audit_record DISABLE TRIGGER audit_record_no_update_delete"],
        # Granting itself more is a no-op with a warning: the UPDATE after it is still refused.
        [f"GRANT UPDATE ON audit_record TO {APP_ROLE}", "UPDATE audit_record SET actor = 'x'"],
    ],
)
def test_the_app_role_cannot_change_the_trail(db: Connection, statements: list[str]) -> None:
    _chain(db, 2)
    with pytest.raises(DBAPIError) as caught:
        _as_app(db, *statements)
    message = str(caught.value.orig)
    assert "permission denied" in message or "must be owner" in message, message
    assert "append-only" not in message  # refused by privileges, before the trigger
    assert audit.verify(db).ok


def test_an_owner_login_escaping_the_app_role_still_meets_the_trigger(db: Connection) -> None:
    """The limit of dropping to the app role on an owner's login (the tests' ``db``): code that
    runs RESET ROLE gets the owner's privileges back, and only the trigger still refuses. So
    the service never logs in as the owner (tests/test_db_roles.py: its RESET ROLE gains
    nothing), and the chain is anchored outside the database (tests/test_audit_anchor.py)."""
    _chain(db, 2)
    with pytest.raises(DBAPIError, match="append-only"):
        _as_app(db, "RESET ROLE", "UPDATE audit_record SET actor = 'x'")


def test_the_app_role_can_append_and_read(db: Connection) -> None:
    with app_transaction(db) as conn:
        record = _chain(conn, 1)[0]
        assert audit.list_records(conn) == [record]
    assert db.execute(text("SELECT current_user")).scalar_one() != APP_ROLE


def test_list_records_filters_and_pages(db: Connection) -> None:
    _chain(db, 6)
    assert [r.id for r in audit.list_records(db, limit=2)] == [1, 2]
    assert [r.id for r in audit.list_records(db, after_id=4)] == [5, 6]
    assert [r.id for r in audit.list_records(db, subject_id="3")] == [4]
    assert audit.list_records(db, action="nothing") == []


@pytest.fixture
def scratch_url(base_settings: Settings) -> Iterator[URL]:
    with scratch_database(base_settings.owner_database_url) as url:
        yield url


class _RolledBack(Exception):
    pass


@pytest.mark.slow
def test_concurrent_appends_keep_one_chain(scratch_url: URL) -> None:
    """Eight writers on their own connections; every fifth transaction rolls back."""
    engine = connect(scratch_url, pool_size=8)
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def writer(worker: int) -> None:
        try:
            start.wait()
            for i in range(25):
                with contextlib.suppress(_RolledBack), app_transaction(engine) as conn:
                    audit.append(
                        conn,
                        actor=f"worker-{worker}",
                        organization_id=None,
                        action="probe",
                        subject_type="thing",
                        subject_id=f"{worker}-{i}",
                    )
                    if i % 5 == 4:
                        raise _RolledBack
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with engine.connect() as conn:
        check = audit.verify(conn)
        ids = conn.execute(text("SELECT array_agg(id ORDER BY id) FROM audit_record")).scalar()
    engine.dispose()
    assert check.ok, check
    assert check.records == 8 * 20
    assert ids == list(range(1, 161))


def test_cli_verify_passes_then_names_the_tampered_record(
    scratch_url: URL, base_settings: Settings
) -> None:
    engine = connect(scratch_url)
    with engine.begin() as conn:
        _chain(conn, 4)
    runner = CliRunner()
    env = database_env(scratch_url, base_settings)
    ok = runner.invoke(main, ["audit", "verify"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "intact: 4 records" in ok.output
    with engine.begin() as conn:
        _as_owner_without_trigger(conn, "DELETE FROM audit_record WHERE id = 2")
    engine.dispose()
    bad = runner.invoke(main, ["audit", "verify"], env=env)
    assert bad.exit_code == 1
    assert "record 2 removed" in bad.output
