"""The web app's transactions, run as the ``gilmok_app`` role (append-only on the audit trail).

Migration 0002 grants ``gilmok_app`` the working tables and only SELECT and INSERT on
``audit_record``. Every transaction the app runs starts with ``SET LOCAL ROLE gilmok_app``, so
whatever login role the database URL names (the owner ``gilmok`` in development, a dedicated
login role in production), the app's statements run with the app's privileges and no more.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, ProgrammingError

from geo.errors import DatabaseUnavailable, SchemaOutOfDate
from geo.store.db import database_errors

APP_ROLE = "gilmok_app"


def _drop_to_app_role(conn: Connection) -> None:
    try:
        conn.execute(text(f"SET LOCAL ROLE {APP_ROLE}"))
    except DBAPIError as exc:
        raise DatabaseUnavailable(
            f"the database role {APP_ROLE} is missing or not granted to"
            f" {conn.engine.url.username!r}: run scripts/setup.sh (or, as a superuser,"
            f" GRANT {APP_ROLE} TO <login role>) and `gilmok db upgrade`"
        ) from exc


@contextlib.contextmanager
def app_transaction(bind: Engine | Connection) -> Iterator[Connection]:
    """One transaction as ``gilmok_app``: committed when the block ends, rolled back on error.

    ``bind`` is an engine (each call checks out a connection) or a connection already in a
    transaction (tests): then the block is a savepoint, and the connection's role is restored
    after it.

    Raises
    ------
    DatabaseUnavailable
        when the database cannot be reached or the app role is not usable.
    """
    with database_errors(bind.engine.url):
        if isinstance(bind, Engine):
            with bind.begin() as conn:
                _drop_to_app_role(conn)
                yield conn
            return
        before = bind.execute(text("SELECT current_user")).scalar_one()
        with bind.begin_nested():
            _drop_to_app_role(bind)
            yield bind
        bind.execute(text("SELECT set_config('role', :role, true)"), {"role": before})


def schema_revision(conn: Connection) -> str | None:
    """The schema revision the database is at, as the app role sees it, within 2 seconds.

    Raises
    ------
    SchemaOutOfDate
        the app role cannot read it: a database not migrated to 0002 (or not at all).
    """
    conn.execute(text("SET LOCAL statement_timeout = '2s'"))
    try:
        with conn.begin_nested():
            revision: str | None = conn.execute(
                text("SELECT version_num FROM alembic_version")
            ).scalar()
    except ProgrammingError as exc:
        raise SchemaOutOfDate(
            f"the app role {APP_ROLE} cannot read the schema revision: run `gilmok db upgrade`"
        ) from exc
    return revision
