"""The migrated schema is the models' schema, spatially indexed, with an append-only audit trail."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from geo.store.migrate import current_revision, head_revision
from geo.store.models import Base

pytestmark = pytest.mark.db


def _include(obj, name, obj_type, reflected, compare_to):  # type: ignore[no-untyped-def]
    # PostGIS / pgRouting tables belong to the extensions, not to gilmok.
    return not (obj_type == "table" and reflected and compare_to is None)


def test_fresh_database_migrates_to_head(engine: Engine) -> None:
    assert current_revision(engine) == head_revision()


def test_models_and_migrated_schema_do_not_differ(db: Connection) -> None:
    context = MigrationContext.configure(
        db, opts={"include_object": _include, "compare_type": True}
    )
    assert compare_metadata(context, Base.metadata) == []


def test_every_geometry_column_has_a_gist_index(db: Connection) -> None:
    rows = db.execute(
        text("SELECT f_table_name, f_geometry_column, srid FROM geometry_columns")
    ).all()
    assert len(rows) >= 9
    inspector = inspect(db)
    for table, column, srid in rows:
        assert srid == 5179, (table, column)
        gist = [
            ix
            for ix in inspector.get_indexes(table)
            if ix["column_names"] == [column]
            and ix.get("dialect_options", {}).get("postgresql_using") == "gist"
        ]
        assert gist, f"{table}.{column} has no GiST index"


def _audit_row(db: Connection) -> int:
    return db.execute(
        text(
            "INSERT INTO audit_record (actor, action, subject_type, subject_id, prev_hash, record_hash)"
            " VALUES ('test', 'probe', 'none', '0', repeat('0', 64), md5(random()::text)) RETURNING id"
        )
    ).scalar_one()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_record SET actor = 'someone else' WHERE id = :id",
        "DELETE FROM audit_record WHERE id = :id",
        "TRUNCATE audit_record",
    ],
)
def test_audit_records_cannot_be_changed_or_removed(db: Connection, statement: str) -> None:
    row_id = _audit_row(db)
    with pytest.raises(DBAPIError, match="append-only"), db.begin_nested():
        db.execute(text(statement), {"id": row_id})
    assert (
        db.execute(
            text("SELECT actor FROM audit_record WHERE id = :id"), {"id": row_id}
        ).scalar_one()
        == "test"
    )
