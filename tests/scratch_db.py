"""A throwaway migrated database, for tests whose transactions must commit (concurrency, CLI).

The shared ``engine`` database is kept clean by rolled-back transactions; a test that needs
several connections to see each other's commits gets its own database, dropped afterwards.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator

from sqlalchemy import text
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import DBAPIError

from api.settings import Settings
from geo.store import connect
from geo.store.migrate import upgrade


def drop_database(admin: Engine, name: str) -> None:
    """Drop a test database, ending our own client sessions on it first (the owner's, and the
    service's, whose role the owner is a member of).

    An autovacuum worker may be in it (it runs as a superuser we may not signal, and busy
    after a bulk load); DROP DATABASE cancels it itself, so a refusal is retried briefly.
    """
    for attempt in range(20):
        try:
            with admin.connect() as conn:
                conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = :name AND pid <> pg_backend_pid()"
                        " AND backend_type = 'client backend'"
                        " AND pg_has_role(current_user, usesysid, 'MEMBER')"
                    ),
                    {"name": name},
                )
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            return
        except DBAPIError:
            if attempt == 19:
                raise
            time.sleep(0.5)


def database_env(owner_url: URL, settings: Settings) -> dict[str, str]:
    """``GILMOK_*`` variables for a command on the database of ``owner_url``: the owner's URL,
    and the service's (``settings``' login role on the same database)."""
    service_url = settings.database_url.set(database=owner_url.database)
    return {
        "GILMOK_OWNER_DATABASE_URL": owner_url.render_as_string(hide_password=False),
        "GILMOK_DATABASE_URL": service_url.render_as_string(hide_password=False),
    }


@contextlib.contextmanager
def scratch_database(base: URL) -> Iterator[URL]:
    """URL of a new database migrated to head; dropped (connections ended) on exit.

    ``base`` (and the URL given) log in as the schema's owner, who may create databases.
    """
    name = f"gilmok_scratch_{uuid.uuid4().hex[:10]}"
    admin = connect(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.set(database=name)
    try:
        upgrade(url)
        yield url
    finally:
        drop_database(admin, name)
        admin.dispose()
