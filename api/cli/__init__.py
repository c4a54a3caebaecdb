"""The ``gilmok`` command: database, imports, queries and the server, from one entry point.

One module per command group, each registered on :func:`main` here: :mod:`api.cli.db`,
:mod:`~api.cli.data`, :mod:`~api.cli.imports`, :mod:`~api.cli.cameras`, :mod:`~api.cli.orgs`,
:mod:`~api.cli.audit`, :mod:`~api.cli.approaches`, :mod:`~api.cli.export`,
:mod:`~api.cli.drills`, :mod:`~api.cli.relay` (with the camera simulator), :mod:`~api.cli.platform`,
:mod:`~api.cli.serve` (with the worker) and :mod:`~api.cli.demo`; what they share (settings,
one-line errors, the cordon flags, the engines) is in :mod:`api.cli.common`. The commands parse
flags and print; the work is in :mod:`geo` and the rest of :mod:`api`.

Every command reads the settings once, and every :class:`geo.errors.GilmokError` ends the
command with one line on stderr naming the problem (exit status 1), never a traceback.

Two database roles: ``db upgrade`` and the imports (which drop and rebuild constraints and
indexes and refresh statistics) log in as the schema's owner (``GILMOK_OWNER_DATABASE_URL``);
every other command, the API and the worker as the service (``GILMOK_DATABASE_URL``), which
can read and write rows but not change the schema or the audit trail.
"""

from __future__ import annotations

import click

from api.cli import (
    approaches,
    audit,
    cameras,
    data,
    db,
    demo,
    drills,
    export,
    imports,
    orgs,
    platform,
    relay,
    serve,
)


@click.group()
@click.version_option(package_name="gilmok")
def main() -> None:
    """gilmok: which cameras watch the approaches to an incident."""


main.add_command(db.db)
main.add_command(data.data)
main.add_command(imports.import_)
main.add_command(cameras.cameras)
main.add_command(orgs.orgs)
main.add_command(audit.audit)
main.add_command(approaches.approaches)
main.add_command(export.export_)
main.add_command(drills.drills)
main.add_command(relay.relay)
main.add_command(relay.camsim)
main.add_command(serve.serve)
main.add_command(serve.worker)
main.add_command(demo.demo)
main.add_command(platform.platform)
