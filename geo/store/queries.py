"""gilmok's static SQL, kept as ``.sql`` files beside the store and loaded by name.

A statement that never changes lives in ``geo/store/sql/<store module>/<name>.sql`` (one
statement a file, bound parameters as ``:name``), where a reader finds it and an editor
highlights it; :func:`query` loads it once, through :mod:`importlib.resources`, as a
SQLAlchemy :func:`~sqlalchemy.text` clause. A statement whose shape depends on the call (an
optional filter, a list of columns) is built with SQLAlchemy Core and bound parameters instead;
no statement is assembled from Python strings.
"""

from __future__ import annotations

import functools
from importlib import resources

from sqlalchemy import BigInteger, BindParameter, TextClause, bindparam, text


@functools.cache
def query(name: str) -> TextClause:
    """The statement ``geo/store/sql/<name>.sql``, e.g. ``query("feed_sessions/live")``.

    Raises FileNotFoundError for a name with no file: a bug, found by the first test that runs
    the statement (and by ``tests/test_store_queries.py`` for every name in the code).
    """
    folder, _, stem = name.rpartition("/")
    root = resources.files("geo.store.sql")
    path = root.joinpath(*folder.split("/"), f"{stem}.sql") if folder else root / f"{stem}.sql"
    return text(path.read_text(encoding="utf-8"))


def bigint(value: int) -> BindParameter[int]:
    """``value`` bound as a 64-bit integer, for a caller's id compared with a column.

    SQLAlchemy binds a value with its column's type, and psycopg then casts it: an id past a
    32-bit column's range (an API caller may send any 64-bit one) would fail the statement with
    "integer out of range". Bound as ``bigint``, the comparison is made in 64 bits and simply
    matches nothing.
    """
    return bindparam(None, value, type_=BigInteger)
