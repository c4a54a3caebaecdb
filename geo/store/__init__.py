"""The PostGIS store: the only place in gilmok that speaks SQL.

One module per group of tables it keeps (``imports``: import batches and what they bring in;
``orgs``: organizations and API keys; ``activations``, ``incidents``, ``drills``, ``audit``,
…). Static statements live in ``sql/<module>/<name>.sql`` and are loaded by
:func:`geo.store.queries.query`; statements whose shape depends on the call are SQLAlchemy Core.
Every value is bound, never spliced into the text.

:func:`connect` makes an engine and checks it can reach the database; driver errors become
:class:`geo.errors.DatabaseUnavailable` with the password stripped.
"""

from __future__ import annotations

from geo.store.db import connect, database_errors, describe_database_error

__all__ = ["connect", "database_errors", "describe_database_error"]
