"""``gilmok db``: migrate the PostGIS database and say which schema revision it is at."""

from __future__ import annotations

import click

from api.cli.common import Context, domain_errors, pass_context


@click.group()
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
    engine = connect(settings.owner_database_url)
    before = current_revision(engine)
    upgrade(settings.owner_database_url, revision)
    after = current_revision(engine)
    where = settings.safe_owner_database_url
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
