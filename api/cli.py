"""The ``gilmok`` command: database, imports, queries and the server, from one entry point.

Every command reads the settings once, and every :class:`geo.errors.GilmokError` ends the
command with one line on stderr naming the problem (exit status 1), never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from geo.errors import GilmokError
from geo.settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str) -> None:
    """Print one error line and exit with status 1."""
    click.echo(f"gilmok: error: {message}", err=True)
    sys.exit(1)


def domain_errors(func: F) -> F:
    """Report gilmok's own errors as one line instead of a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except GilmokError as exc:
            fail(exc.message)
        return None

    return wrapper  # type: ignore[return-value]


class Context:
    """Settings, read lazily so that ``--help`` works with a broken environment."""

    def __init__(self) -> None:
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings


pass_context = click.make_pass_decorator(Context, ensure=True)


@click.group()
@click.version_option(package_name="gilmok")
def main() -> None:
    """gilmok: which cameras watch the approaches to an incident."""


@main.group()
def db() -> None:
    """The PostGIS database: migrate and inspect."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target schema revision.")
@pass_context
@domain_errors
def db_upgrade(ctx: Context, revision: str) -> None:
    """Migrate the database to the newest schema (or to REVISION)."""
    from geo.store import connect
    from geo.store.migrate import current_revision, upgrade

    settings = ctx.settings
    engine = connect(settings.database_url)
    before = current_revision(engine)
    upgrade(settings.database_url, revision)
    after = current_revision(engine)
    where = settings.safe_database_url
    if before == after:
        click.echo(f"{where}: already at schema revision {after}")
    else:
        click.echo(f"{where}: schema revision {before or 'none'} -> {after}")


@db.command("current")
@pass_context
@domain_errors
def db_current(ctx: Context) -> None:
    """Print the database's schema revision and whether it is the newest."""
    from geo.store import connect
    from geo.store.migrate import current_revision, head_revision

    engine = connect(ctx.settings.database_url)
    current, head = current_revision(engine), head_revision()
    state = "up to date" if current == head else f"behind: the code needs {head}"
    click.echo(f"{ctx.settings.safe_database_url}: revision {current or 'none'} ({state})")


if __name__ == "__main__":  # pragma: no cover
    main()
