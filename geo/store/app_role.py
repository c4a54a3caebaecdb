"""The web app's transactions, run as the ``gilmok_app`` role (append-only on the audit trail).

Migration 0002 grants ``gilmok_app`` the working tables and only SELECT and INSERT on
``audit_record``. Every transaction the app runs starts with ``SET LOCAL ROLE gilmok_app``, so
the app's statements run with the app's privileges and no more.

Dropping to a role is not a boundary on its own: a login role that owns the schema can
``RESET ROLE`` and then disable the audit trigger or rewrite the trail. So the service logs in
as a role that is neither the owner nor a member of it (``gilmok_service``, a member of
``gilmok_app`` and nothing else), and :func:`require_service_role` refuses to serve otherwise.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, ProgrammingError

from geo.errors import ConfigurationError, DatabaseUnavailable, SchemaOutOfDate
from geo.store.db import database_errors
from geo.store.queries import query

APP_ROLE = "gilmok_app"


def _drop_to_app_role(conn: Connection) -> None:
    try:
        conn.execute(query("app_role/set_role"))
    except DBAPIError as exc:
        raise DatabaseUnavailable(
            f"the database role {APP_ROLE} is missing or not granted to"
            f" {conn.engine.url.username!r}: run scripts/setup.sh (or, as a superuser,"
            f" GRANT {APP_ROLE} TO <login role>) and `gilmok db upgrade`"
        ) from exc


def _limit_statements(conn: Connection, timeout_ms: int | None) -> None:
    if timeout_ms is not None:
        conn.execute(query("app_role/statement_timeout"), {"ms": f"{timeout_ms}ms"})


@contextlib.contextmanager
def app_transaction(
    bind: Engine | Connection, *, statement_timeout_ms: int | None = None
) -> Iterator[Connection]:
    """One transaction as ``gilmok_app``: committed when the block ends, rolled back on error.

    ``bind`` is an engine (each call checks out a connection) or a connection already in a
    transaction (tests): then the block is a savepoint, and the connection's role and statement
    timeout are restored after it. With ``statement_timeout_ms``, PostgreSQL cancels any
    statement of the block that runs longer (``SET LOCAL statement_timeout``), and the whole
    block is rolled back.

    Raises
    ------
    DatabaseUnavailable
        when the database cannot be reached or the app role is not usable.
    StatementTimeout
        when a statement ran past ``statement_timeout_ms``.
    """
    with database_errors(bind.engine.url):
        if isinstance(bind, Engine):
            with bind.begin() as conn:
                _drop_to_app_role(conn)
                _limit_statements(conn, statement_timeout_ms)
                yield conn
            return
        before = bind.execute(query("app_role/current")).one()
        with bind.begin_nested():
            _drop_to_app_role(bind)
            _limit_statements(bind, statement_timeout_ms)
            yield bind
        bind.execute(query("app_role/restore"), {"role": before[0], "t": before[1]})


def schema_revision(conn: Connection) -> str | None:
    """The schema revision the database is at, as the app role sees it, within 2 seconds.

    Raises
    ------
    SchemaOutOfDate
        the app role cannot read it: a database not migrated to 0002 (or not at all).
    """
    conn.execute(query("app_role/revision_timeout"))
    try:
        with conn.begin_nested():
            revision: str | None = conn.execute(query("app_role/revision")).scalar()
    except ProgrammingError as exc:
        raise SchemaOutOfDate(
            f"the app role {APP_ROLE} cannot read the schema revision: run `gilmok db upgrade`"
        ) from exc
    return revision


def require_service_role(conn: Connection) -> None:
    """Refuse a login role that could change the schema or rewrite the audit trail.

    The login (``session_user``, whatever role a transaction later sets) must not be a
    superuser nor, directly or through membership, the owner of the audit table, of the
    schema or of the database: each of those can alter or drop the tables and their triggers.

    Raises
    ------
    ConfigurationError
        naming the login role and what it owns.
    """
    row = conn.execute(query("app_role/login_powers")).one_or_none()
    if row is None:
        raise SchemaOutOfDate("the database has no audit trail: run `gilmok db upgrade`")
    owned = [
        name
        for name, held in (
            ("tables", row.owns_tables),
            ("schema", row.owns_schema),
            ("database", row.owns_database),
        )
        if held
    ]
    powers = ["is a superuser"] if row.superuser else []
    if owned:
        names = [f"the {name}" for name in owned]
        listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        powers.append(f"owns {listed}")
    if powers:
        raise ConfigurationError(
            f"the service's database role {row.login!r} {' and '.join(powers)}, so it could"
            " alter the audit trail: set GILMOK_DATABASE_URL to a role that does not"
            " (gilmok_service, which scripts/setup.sh creates); the owner's URL is"
            " GILMOK_OWNER_DATABASE_URL"
        )
