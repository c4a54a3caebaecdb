"""Engines and the translation of driver errors into gilmok's domain errors."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from sqlalchemy import create_engine
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from geo.errors import DatabaseUnavailable, StatementTimeout
from geo.store.queries import query

#: SQLSTATE of a statement cancelled by ``statement_timeout`` (or by an operator's cancel).
QUERY_CANCELED = "57014"

_PASSWORD_IN_DSN = re.compile(r"(password=)\S+|(://[^:/@\s]+:)[^@\s]+(@)", re.IGNORECASE)


def _scrub(message: str) -> str:
    return _PASSWORD_IN_DSN.sub(
        lambda m: (m.group(1) or m.group(2)) + "***" + (m.group(3) or ""), message
    )


def describe_database_error(exc: BaseException, url: URL) -> str:
    """One line naming why the database at ``url`` cannot be used, password hidden."""
    where = url.render_as_string(hide_password=True)
    orig = getattr(exc, "orig", exc)
    first = _scrub(str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__)
    lowered = first.lower()
    if "password authentication failed" in lowered:
        why = f"password authentication failed for user {url.username!r}"
    elif "connection refused" in lowered or "could not connect" in lowered:
        why = f"no server is answering at {url.host}:{url.port or 5432} (is PostgreSQL running?)"
    elif "does not exist" in lowered and "database" in lowered:
        why = f"database {url.database!r} does not exist"
    elif "role" in lowered and "does not exist" in lowered:
        why = f"role {url.username!r} does not exist"
    elif "name or service not known" in lowered or "could not translate host name" in lowered:
        why = f"host {url.host!r} is unknown"
    else:
        why = first
    return f"cannot use the database {where}: {why}"


def connect(url: URL, *, check: bool = True, **engine_options: object) -> Engine:
    """An engine for ``url``; with ``check``, one round trip proves the server answers.

    Raises
    ------
    DatabaseUnavailable
        when the server is down, unknown, or refuses the credentials.
    """
    options: dict[str, object] = {"pool_pre_ping": True, "connect_args": {"connect_timeout": 5}}
    options.update(engine_options)
    engine = create_engine(url, **options)
    if check:
        with database_errors(url), engine.connect() as conn:
            conn.execute(query("db/ping"))
    return engine


@contextlib.contextmanager
def database_errors(url: URL) -> Iterator[None]:
    """Turn connection-level driver errors inside the block into :class:`DatabaseUnavailable`,
    and a statement cancelled for its time into :class:`StatementTimeout`."""
    try:
        yield
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) == QUERY_CANCELED:
            timeout = getattr(getattr(exc.orig, "diag", None), "message_primary", None)
            raise StatementTimeout(
                "the database did not finish this request's work in time; nothing was changed."
                " Retry shortly, or ask for less (a smaller box, a lower limit)",
                details={"database_message": timeout or "statement cancelled"},
            ) from None
        raise DatabaseUnavailable(describe_database_error(exc, url)) from None
    except DBAPIError as exc:
        if exc.connection_invalidated:
            raise DatabaseUnavailable(describe_database_error(exc, url)) from None
        raise
