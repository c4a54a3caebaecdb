"""Schema migrations (Alembic, in the project's ``migrations/`` folder) driven from code."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Engine

from geo.errors import SchemaOutOfDate
from geo.store.db import database_errors

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "migrations"


def alembic_config(url: URL) -> Config:
    """An Alembic config pointing at ``migrations/`` and the database ``url``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation: a literal % in a password must be doubled.
    cfg.set_main_option(
        "sqlalchemy.url", url.render_as_string(hide_password=False).replace("%", "%%")
    )
    return cfg


def upgrade(url: URL, revision: str = "head") -> None:
    """Migrate the database at ``url`` to ``revision`` (default: the newest)."""
    with database_errors(url):
        command.upgrade(alembic_config(url), revision)


@functools.cache
def head_revision() -> str:
    """The newest revision the code knows (read from the scripts once per process)."""
    head = ScriptDirectory.from_config(alembic_config(URL.create("postgresql"))).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an unmigrated database."""
    with database_errors(engine.url), engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def require_current(engine: Engine) -> None:
    """Raise :class:`SchemaOutOfDate` unless the database is at the code's head revision."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise SchemaOutOfDate(
            f"the database is at schema revision {current or 'none (empty)'}, the code needs "
            f"{head}: run `gilmok db upgrade`"
        )
