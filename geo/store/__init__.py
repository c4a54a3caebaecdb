"""The PostGIS store: the only place in gilmok that speaks SQL.

:func:`connect` makes an engine and checks it can reach the database; driver errors become
:class:`geo.errors.DatabaseUnavailable` with the password stripped.
"""

from __future__ import annotations

from geo.store.db import connect, database_errors, describe_database_error

__all__ = ["connect", "database_errors", "describe_database_error"]
