"""The audit anchor: the chain's head, signed with a key the database never sees.

The attack it answers: whoever owns the audit table alters a record and re-hashes every record
after it, so the chain verifies again. An anchor taken before (``gilmok audit head``, kept
elsewhere) still names the old hash, and ``audit verify --head`` finds the rewrite.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from scratch_db import database_env, scratch_database
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection

from api.cli import main
from api.settings import Settings
from geo.errors import InvalidInput
from geo.store import audit, connect

pytestmark = pytest.mark.db

KEY = "anchor-key-for-tests-" + "k" * 24
OTHER_KEY = "another-anchor-key-for-tests-" + "o" * 24


def _chain(conn: Connection, n: int, *, start: int = 0) -> None:
    for i in range(start, start + n):
        audit.append(
            conn,
            actor="test",
            organization_id=None,
            action="probe",
            subject_type="thing",
            subject_id=i,
            details={"i": i},
        )


def _rewrite_and_rehash(conn: Connection, record_id: int, actor: str) -> None:
    """What the owner can do: alter one record, then re-hash it and every record after it."""
    conn.execute(text("ALTER TABLE audit_record DISABLE TRIGGER audit_record_no_update_delete"))
    conn.execute(
        text("UPDATE audit_record SET actor = :actor WHERE id = :id"),
        {"actor": actor, "id": record_id},
    )
    rows = conn.execute(text("SELECT * FROM audit_record ORDER BY id")).all()
    prev_hash = audit.GENESIS_HASH
    for row in rows:
        record_hash = audit.compute_hash(
            prev_hash,
            id=row.id,
            at=row.at,
            actor=row.actor,
            organization_id=row.organization_id,
            action=row.action,
            subject_type=row.subject_type,
            subject_id=row.subject_id,
            legal_basis=row.legal_basis,
            details=row.details,
        )
        conn.execute(
            text("UPDATE audit_record SET prev_hash = :p, record_hash = :h WHERE id = :id"),
            {"p": prev_hash, "h": record_hash, "id": row.id},
        )
        prev_hash = record_hash
    conn.execute(text("ALTER TABLE audit_record ENABLE TRIGGER audit_record_no_update_delete"))


def _anchor(db: Connection, *, key: str = KEY) -> audit.Anchor:
    check, anchor = audit.head_anchor(db)
    assert check.ok, check
    assert anchor is not None
    return audit.read_anchor(audit.sign_anchor(anchor, key=key), key=key)


def test_an_anchor_is_one_signed_json_line_that_reads_back(db: Connection) -> None:
    _chain(db, 3)
    check, anchor = audit.head_anchor(db)
    assert anchor is not None
    line = audit.sign_anchor(anchor, key=KEY)
    assert "\n" not in line
    value = json.loads(line)
    assert (value["anchor"], value["id"], value["hash"], value["records"]) == (
        audit.ANCHOR_KIND,
        3,
        check.head_hash,
        3,
    )
    assert len(value["mac"]) == 64
    assert audit.read_anchor(line, key=KEY) == anchor
    assert audit.check_anchor(db, anchor).ok


def test_an_anchor_still_holds_after_later_appends(db: Connection) -> None:
    _chain(db, 3)
    anchor = _anchor(db)
    _chain(db, 2, start=3)
    check = audit.check_anchor(db, anchor)
    assert check.ok, check
    assert (check.records, check.head_id) == (5, 5)


def test_a_rewritten_and_rehashed_chain_verifies_alone_but_not_against_its_anchor(
    db: Connection,
) -> None:
    _chain(db, 5)
    anchor = _anchor(db)
    _rewrite_and_rehash(db, 2, "someone else")
    assert audit.verify(db).ok  # the rewrite is invisible to the chain alone
    check = audit.check_anchor(db, anchor)
    assert (check.ok, check.first_bad_id) == (False, 5)
    assert check.problem is not None
    assert "rewritten and re-hashed at or before record 5" in check.problem


def test_records_removed_back_past_the_anchor_are_found(db: Connection) -> None:
    _chain(db, 4)
    anchor = _anchor(db)
    db.execute(text("ALTER TABLE audit_record DISABLE TRIGGER audit_record_no_update_delete"))
    db.execute(text("DELETE FROM audit_record WHERE id >= 3"))
    db.execute(text("ALTER TABLE audit_record ENABLE TRIGGER audit_record_no_update_delete"))
    assert audit.verify(db).ok
    check = audit.check_anchor(db, anchor)
    assert not check.ok
    assert check.problem == (
        "record 4 of the anchor is gone: the chain ends at record 2, so records were removed"
        " from its end"
    )


def test_a_forged_or_foreign_anchor_is_refused(db: Connection) -> None:
    _chain(db, 2)
    _, anchor = audit.head_anchor(db)
    assert anchor is not None
    line = audit.sign_anchor(anchor, key=KEY)
    forged = json.loads(line)
    forged["hash"] = "f" * 64
    for bad in (json.dumps(forged), audit.sign_anchor(anchor, key=OTHER_KEY)):
        with pytest.raises(InvalidInput, match="signature does not match"):
            audit.read_anchor(bad, key=KEY)
    for junk in ("", "{}", "not json", json.dumps({**forged, "id": "2"}), "[1]"):
        with pytest.raises(InvalidInput, match="not a gilmok audit anchor"):
            audit.read_anchor(junk, key=KEY)


def test_a_broken_chain_is_never_signed(db: Connection) -> None:
    _chain(db, 3)
    db.execute(text("ALTER TABLE audit_record DISABLE TRIGGER audit_record_no_update_delete"))
    db.execute(text("UPDATE audit_record SET actor = 'x' WHERE id = 2"))
    db.execute(text("ALTER TABLE audit_record ENABLE TRIGGER audit_record_no_update_delete"))
    check, anchor = audit.head_anchor(db)
    assert (check.ok, check.first_bad_id, anchor) == (False, 2, None)


# ---- the commands ----------------------------------------------------------------------------


@pytest.fixture
def scratch_url(base_settings: Settings) -> Iterator[URL]:
    with scratch_database(base_settings.owner_database_url) as url:
        yield url


def _run(env: dict[str, str | None], *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize("args", [["audit", "head"], ["audit", "verify", "--head", "{}"]])
def test_without_a_key_the_anchor_commands_say_so_in_one_line(args: list[str]) -> None:
    code, out, err = _run({"GILMOK_AUDIT_ANCHOR_KEY": None}, *args)
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith("gilmok: error: GILMOK_AUDIT_ANCHOR_KEY is not set"), err


def test_a_short_key_is_refused_in_one_line() -> None:
    code, _, err = _run({"GILMOK_AUDIT_ANCHOR_KEY": "short"}, "audit", "head")
    assert code == 1
    assert err == "gilmok: error: GILMOK_AUDIT_ANCHOR_KEY must be at least 32 characters long\n"


def test_head_then_an_owner_rewrite_passes_verify_but_fails_verify_head(
    scratch_url: URL, base_settings: Settings, tmp_path: Path
) -> None:
    env: dict[str, str | None] = {
        **database_env(scratch_url, base_settings),
        "GILMOK_AUDIT_ANCHOR_KEY": KEY,
    }
    assert _run(env, "audit", "head") == (
        1,
        "",
        "gilmok: error: audit trail is empty: nothing to anchor yet\n",
    )
    owner = connect(scratch_url)
    with owner.begin() as conn:
        _chain(conn, 4)
    code, line, err = _run(env, "audit", "head")
    assert (code, err) == (0, ""), err
    assert line.count("\n") == 1
    anchor_file = tmp_path / "anchors.log"
    anchor_file.write_text("an older line\n" + line + "\n", encoding="utf-8")
    for given in (line.strip(), str(anchor_file)):
        code, out, err = _run(env, "audit", "verify", "--head", given)
        assert (code, err) == (0, ""), err
        assert "audit chain intact: 4 records" in out
        assert "holds anchored record 4 unchanged" in out

    with owner.begin() as conn:
        _rewrite_and_rehash(conn, 1, "someone else")
    owner.dispose()
    code, out, err = _run(env, "audit", "verify")
    assert (code, err) == (0, ""), err  # the chain alone cannot see it
    code, out, err = _run(env, "audit", "verify", "--head", str(anchor_file))
    assert code == 1
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith("gilmok: error: audit chain does not match the anchor of "), err
    assert "record 4 no longer has the anchored hash" in err
    assert "the chain was rewritten and re-hashed at or before record 4" in err

    forged = json.loads(line)
    code, now, _ = _run(env, "audit", "head")
    forged["hash"] = json.loads(now)["hash"]  # the rewritten hash, under the old signature
    code, out, err = _run(env, "audit", "verify", "--head", json.dumps(forged))
    assert code == 1
    assert err.startswith("gilmok: error: the audit anchor's signature does not match"), err
    code, out, err = _run(env, "audit", "verify", "--head", str(tmp_path / "missing"))
    assert code == 1
    assert "neither an anchor line nor a readable file" in err
