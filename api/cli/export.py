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
@click.option(
    "--crs",
    default="EPSG:5179",
    show_default=True,
    help="CRS of the geometries: EPSG:5179 (UTM-K), EPSG:5186 (central belt), EPSG:4326, …",
)
@pass_context
@domain_errors
def export_gpkg(ctx: Context, file: Path, crs: str) -> None:
    """Write roads, cameras (no source URLs), coverage at every DORI level, import reports and
    QGIS layer styles to FILE (.gpkg)."""
    from geo.export_files import output_crs
    from geo.store.export import export_geopackage

    target = output_crs(crs)
    with checked_engine(ctx).connect() as conn:
        counts = export_geopackage(
            conn, file, crs=target, max_range_m=ctx.settings.max_coverage_range_m
        )
    layers = ", ".join(f"{n} {name}" for name, n in counts.items())
    click.echo(f"{file}: {layers} ({target}; QGIS styles for camera and coverage)")
