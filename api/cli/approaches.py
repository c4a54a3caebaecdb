"""``gilmok approaches``: the approaches to an incident and the cameras watching them, answered
from the imported data without the API (the same :func:`geo.incident.answer_incident`)."""

from __future__ import annotations

import json

import click

from api.cli.common import (
    Context,
    checked_engine,
    cordon_options,
    domain_errors,
    level_option,
    pass_context,
)
from geo.cordon import CordonOptions


@click.command()
@click.option("--lon", type=float, required=True, help="Incident longitude, degrees (EPSG:4326).")
@click.option("--lat", type=float, required=True, help="Incident latitude, degrees.")
@level_option
@click.option("--format", "fmt", type=click.Choice(["geojson", "table"]), default="geojson")
@pass_context
@domain_errors
@cordon_options
def approaches(
    ctx: Context, lon: float, lat: float, cordon: CordonOptions, level: str, fmt: str
) -> None:
    """The approaches to an incident and the cameras watching them, from the imported data."""
    from geo.incident import answer_incident
    from geo.store.snapshot import load_snapshot

    settings = ctx.settings
    engine = checked_engine(ctx)
    with engine.connect() as conn:
        snapshot = load_snapshot(
            conn, crs=settings.working_crs, max_range_m=settings.max_coverage_range_m
        )
    network = snapshot.network_for(lon, lat)
    answer = answer_incident(network.roads, snapshot.index, (lon, lat), cordon, level=level)
    if fmt == "table":
        click.echo(f"Road network {network.name}; {len(snapshot.cameras)} cameras in the index")
        click.echo(answer.to_table())
    else:
        click.echo(json.dumps(answer.to_geojson(), ensure_ascii=False))
