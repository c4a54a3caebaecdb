"""``gilmok export``: the registry as files for planners who work with no database."""

from __future__ import annotations

from pathlib import Path

import click

from api.cli.common import Context, checked_engine, domain_errors, pass_context


@click.group("export")
def export_() -> None:
    """Files for planners: the registry as a GeoPackage, to work with no database."""


@export_.command("gpkg")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_context
@domain_errors
def export_gpkg(ctx: Context, file: Path) -> None:
    """Write roads, cameras (no source URLs), coverage and import reports to FILE (.gpkg)."""
    from geo.store.export import export_geopackage

    with checked_engine(ctx).connect() as conn:
        counts = export_geopackage(conn, file)
    layers = ", ".join(f"{n} {name}" for name, n in counts.items())
    click.echo(f"{file}: {layers} (EPSG:5179)")
