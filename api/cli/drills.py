"""``gilmok drills``: camera sets precomputed for many scenario points, stored and exported.

``precompute`` runs :func:`geo.drill_precompute.plan_drill` and
:func:`~geo.drill_precompute.precompute_drill` (Dask, resumable); ``sites`` writes real CCTV
sites as scenario points; ``export`` writes a stored drill to a file.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from api.cli.common import (
    Context,
    checked_engine,
    cordon_options,
    domain_errors,
    fail,
    level_option,
    pass_context,
)
from geo.cordon import CordonOptions


@click.group()
def drills() -> None:
    """Drills: camera sets precomputed for many scenario points, stored and exported."""


def _drill_summary(info: Any) -> str:
    return (
        f"drill {info.name}: {info.scenarios} scenarios ({info.done} done, {info.failed} failed,"
        f" {info.pending} pending), {info.approaches} approaches, {info.blind} blind,"
        f" {info.cameras} cameras"
    )


@drills.command("precompute")
@click.argument("scenarios", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--name", help="Name of the drill (default: the scenario file's stem).")
@level_option
@click.option("--best", default=3, show_default=True, help="Cameras kept per approach.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also export the drill to FILE (.gpkg, .csv or .geojson).",
)
@click.option("--scheduler", help="Address of a running Dask scheduler (tcp://host:8786).")
@click.option("--workers", default=2, show_default=True, help="Local Dask worker processes.")
@click.option(
    "--batch-size", default=250, show_default=True, help="Scenarios per task (and per commit)."
)
@click.option("--retry-failed", is_flag=True, help="Compute failed scenarios again.")
@pass_context
@domain_errors
@cordon_options
def drills_precompute(
    ctx: Context,
    scenarios: Path,
    name: str | None,
    cordon: CordonOptions,
    level: str,
    best: int,
    out: Path | None,
    scheduler: str | None,
    workers: int,
    batch_size: int,
    retry_failed: bool,
) -> None:
    """Precompute the approaches and best cameras of every point of SCENARIOS (a CSV name,lon,lat,
    a GeoPackage or a GeoJSON of named points), stored under the drill's name.

    Re-running skips the scenarios already done: an interrupted run resumes where it stopped.
    """
    from geo.drill_precompute import DrillInterrupted, plan_drill, precompute_drill
    from geo.drills import DrillOptions
    from geo.gpkg import read_scenario_points
    from geo.store import drills as store

    options = DrillOptions(cordon=cordon, level=level, best=best)
    points = read_scenario_points(scenarios)
    name = name or scenarios.stem
    settings = ctx.settings
    engine = checked_engine(ctx)
    # Loading the scenario file is an import: as the owner, whose ANALYZE of the new rows the
    # service may not run. Computing and storing the results is the service's.
    with checked_engine(ctx, owner=True).begin() as conn:
        plan = plan_drill(
            conn, name, points, options, source_file=scenarios.name, retry_failed=retry_failed
        )
    click.echo(
        f"drill {name} ({'new' if plan.created else 'existing'}): {len(points)} scenarios in"
        f" {scenarios.name}, {plan.added} added; {plan.computed} already"
        f" computed, skipped; {len(plan.pending)} to compute"
    )
    if len(plan.pending):
        try:
            run = precompute_drill(
                engine,
                plan,
                options,
                crs=settings.working_crs,
                max_range_m=settings.max_coverage_range_m,
                snapshot_dir=settings.snapshot_dir,
                scheduler=scheduler,
                workers=workers,
                batch_size=batch_size,
                progress=lambda total: click.progressbar(
                    length=total, label="scenarios", file=sys.stderr
                ),
            )
        except DrillInterrupted as stop:
            fail(
                f"interrupted: {stop.stored} of {stop.total} scenarios stored"
                f" ({stop.by_this_run} by this run), {stop.pending} pending;"
                f" run the same command to resume {name}"
            )
        click.echo(
            f"this run stored {run.stored} scenarios in {run.compute_s:.1f} s"
            f" (after {run.load_s:.1f} s loading the registry onto the Dask workers)"
        )
    with engine.connect() as conn:
        info = store.get_drill(conn, name)
        if out is not None:
            _export(conn, info, out, crs=None, working_crs=settings.working_crs)
    click.echo(_drill_summary(info))
    if out is not None:
        click.echo(f"exported to {out}")


@drills.command("sites")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--every", default=10, show_default=True, help="Take every N-th site (1: all).")
@click.option("--limit", type=click.IntRange(0), help="At most this many points.")
@click.option(
    "--inset",
    "inset_m",
    default=0.0,
    show_default=True,
    help="Metres a site must lie inside the road data's extent.",
)
@click.option("--file", "file_name", help="Only sites imported from this file (its base name).")
@pass_context
@domain_errors
def drills_sites(
    ctx: Context, out: Path, every: int, limit: int | None, inset_m: float, file_name: str | None
) -> None:
    """Write real CCTV sites inside the loaded road data to OUT (a CSV name,lon,lat): the
    scenario points of a drill, the same on every run."""
    from geo.errors import InvalidInput
    from geo.export_files import write_csv
    from geo.store import drills as store

    if out.suffix.lower() != ".csv":
        raise InvalidInput(f"{out.name}: scenario sites are written as a .csv (name,lon,lat)")
    with checked_engine(ctx).connect() as conn:
        sites = store.cctv_sites(
            conn, every=every, limit=limit, inset_m=inset_m, file_name=file_name
        )
    write_csv(sites.round({"lon": 7, "lat": 7}), out)
    which = "every site" if every == 1 else f"1 site in {every}"
    source = f" of {file_name}" if file_name else ""
    inside = "inside" if inset_m == 0 else f"{inset_m:g} m or more inside"
    cap = "" if limit is None else f", at most {limit}"
    click.echo(f"{out}: {len(sites)} scenario points ({which}{source} {inside} the road data{cap})")


@drills.command("export")
@click.argument("name")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--crs",
    help="CRS of a GeoPackage's geometries (default EPSG:4326; e.g. EPSG:5179, EPSG:5186);"
    " GeoJSON is always lon/lat (RFC 7946).",
)
@pass_context
@domain_errors
def drills_export(ctx: Context, name: str, file: Path, crs: str | None) -> None:
    """Export the drill NAME to FILE (.gpkg, .csv or .geojson)."""
    from geo.export_files import output_crs
    from geo.store import drills as store

    target = None if crs is None else output_crs(crs)
    with checked_engine(ctx).connect() as conn:
        info = store.get_drill(conn, name)
        _export(conn, info, file, crs=target, working_crs=ctx.settings.working_crs)
    click.echo(_drill_summary(info))
    click.echo(f"exported to {file}")


def _export(conn: Any, info: Any, file: Path, *, crs: str | None, working_crs: str) -> None:
    """Write the drill to ``file``; a GeoPackage with its cordons and watch stretches drawn
    again on the stored roads (those no longer matching are named)."""
    from geo.drill_export import drill_geometries
    from geo.drills import DrillOptions
    from geo.gpkg import write_drill_file
    from geo.store import drills as store
    from geo.store.snapshot import load_road_networks

    tables = store.export_frames(conn, info.id)
    if file.suffix.lower() == ".gpkg":
        networks = load_road_networks(conn, crs=working_crs)
        options = DrillOptions.from_dict(info.options)
        drill_geometries(tables, networks, options, crs=working_crs)
        if tables.not_drawn:
            shown = ", ".join(tables.not_drawn[:5])
            click.echo(
                f"warning: {len(tables.not_drawn)} scenario(s) not drawn (their roads no longer"
                f" give the stored approaches): {shown}",
                err=True,
            )
    write_drill_file(file, tables, crs=crs)
