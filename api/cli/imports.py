"""``gilmok import``: the real data files into PostGIS, one by one or all of the manifest's.

Every import logs in as the schema's owner (it drops and rebuilds constraints and indexes and
refreshes statistics) and prints one summary per file whose counts add up: rows read =
imported + merged duplicates + rejected + already present.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from api.cli.cameras import cameras_infer_headings
from api.cli.common import Context, F, checked_engine, domain_errors, fail, pass_context


def _print_summary(summary: Any, *, show_rejected: int, as_json: bool) -> None:
    """One import's summary: its counts, rejections by reason, the first rejected rows."""
    if as_json:
        click.echo(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2, default=str))
        return
    created = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in summary.created.items())
    click.echo(
        f"{summary.file_name}: {summary.rows_read} rows read = {summary.rows_imported} imported"
        f" + {summary.rows_merged} merged duplicates + {summary.rows_rejected} rejected"
        f" + {summary.rows_already_present} already present"
        f" ({'adds up' if summary.adds_up else 'DOES NOT ADD UP'}); created {created or 'nothing'};"
        f" import batch {summary.batch_id}, {summary.seconds:.1f} s"
    )
    by_reason: dict[str, int] = {}
    for row in summary.rejected:
        key = f"{row['field']}: {row['reason']}"
        by_reason[key] = by_reason.get(key, 0) + 1
    for reason, count in sorted(by_reason.items(), key=lambda kv: -kv[1]):
        click.echo(f"  rejected {count:>6}  {reason}")
    for row in summary.rejected[:show_rejected]:
        shown = f" ({row['value']!r})" if row["value"] else ""
        click.echo(f"  line {row['line']}: {row['field']}{shown}: {row['reason']}")
    if len(summary.rejected) > show_rejected:
        click.echo(
            f"  … {len(summary.rejected) - show_rejected} more rejected rows"
            " (--show-rejected N, or --json for all)"
        )
    for warning in summary.warnings:
        click.echo(f"  warning: {warning}")


def _import_options(func: F) -> F:
    func = click.option(
        "--show-rejected", default=20, show_default=True, help="Rejected rows to list by line."
    )(func)
    func = click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")(
        func
    )
    return click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))(
        func
    )


@click.group("import")
def import_() -> None:
    """Import real data: CCTV standard data, enforcement cameras, OSM cameras, OSM roads."""


def _import_camera_file(
    ctx: Context,
    reader: Callable[..., Any],
    file: Path,
    *,
    anywhere: bool = False,
    **options: Any,
) -> None:
    from geo.store.imports import import_cameras

    engine = checked_engine(ctx, owner=True)
    bounds = None if anywhere else ctx.settings.country_bounds
    read = reader(file, country_bounds=bounds)
    with engine.begin() as conn:
        summary = import_cameras(
            conn, read, path=file, max_range_m=ctx.settings.max_coverage_range_m
        )
    _print_summary(summary, **options)


@import_.command("cctv")
@_import_options
@pass_context
@domain_errors
def import_cctv(ctx: Context, file: Path, show_rejected: int, as_json: bool) -> None:
    """National CCTV standard data (전국CCTV표준데이터), 13- or 18-column, CP949 or UTF-8."""
    from geo.ingest.cctv import read_cctv

    _import_camera_file(ctx, read_cctv, file, show_rejected=show_rejected, as_json=as_json)


@import_.command("enforcement")
@_import_options
@pass_context
@domain_errors
def import_enforcement(ctx: Context, file: Path, show_rejected: int, as_json: bool) -> None:
    """Unmanned traffic-enforcement camera standard data (전국무인교통단속카메라표준데이터)."""
    from geo.ingest.enforcement import read_enforcement

    _import_camera_file(ctx, read_enforcement, file, show_rejected=show_rejected, as_json=as_json)


@import_.command("osm-cameras")
@_import_options
@click.option(
    "--anywhere",
    is_flag=True,
    help="Keep cameras outside GILMOK_COUNTRY_BOUNDS (by default they are rejected).",
)
@pass_context
@domain_errors
def import_osm_cameras(
    ctx: Context, file: Path, anywhere: bool, show_rejected: int, as_json: bool
) -> None:
    """Overpass JSON of man_made=surveillance nodes."""
    from geo.ingest.osm_cameras import read_osm_cameras

    _import_camera_file(
        ctx,
        read_osm_cameras,
        file,
        anywhere=anywhere,
        show_rejected=show_rejected,
        as_json=as_json,
    )


@import_.command("all")
@click.option("--show-rejected", default=3, show_default=True, help="Rejected rows to list.")
@pass_context
@domain_errors
def import_all(ctx: Context, show_rejected: int) -> None:
    """Every file of data/manifest.toml found in GILMOK_DATA_DIR, roads first; then headings."""
    from geo.ingest.manifest import check_data_dir, load_manifest
    from geo.store.data_files import import_data_files

    settings = ctx.settings
    files = [f for f in load_manifest() if f.import_all]
    problems = check_data_dir(settings.data_dir, files)
    if problems:
        fail("; ".join(problems))
    assert settings.data_dir is not None
    import_data_files(
        checked_engine(ctx, owner=True),
        settings.data_dir,
        files,
        country_bounds=settings.country_bounds,
        max_range_m=settings.max_coverage_range_m,
        on_import=lambda summary: _print_summary(
            summary, show_rejected=show_rejected, as_json=False
        ),
    )
    # Roads and cameras are both in now: fixed cameras of unknown heading look along a road.
    click.get_current_context().invoke(cameras_infer_headings)


@import_.command("roads")
@_import_options
@click.option("--name", help="Name of the network (default: the file's stem).")
@pass_context
@domain_errors
def import_roads(
    ctx: Context, file: Path, name: str | None, show_rejected: int, as_json: bool
) -> None:
    """An OpenStreetMap road network: OSMnx GraphML, .osm XML or .osm.pbf."""
    from geo.ingest.osm import read_road_network
    from geo.store.imports import import_road_network

    engine = checked_engine(ctx, owner=True)
    read = read_road_network(file)
    with engine.begin() as conn:
        summary = import_road_network(conn, read, path=file, name=name)
    _print_summary(summary, show_rejected=show_rejected, as_json=as_json)
