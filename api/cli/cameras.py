"""``gilmok cameras``: the camera registry's secrets and derived fields kept from the terminal."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from api.cli.common import Context, checked_engine, cli_actor, domain_errors, fail, pass_context


@click.group()
def cameras() -> None:
    """The camera registry: source URLs (secrets that go to the relay and nowhere else),
    inferred and surveyed headings."""


@cameras.command("set-source")
@click.argument("camera_id", type=click.IntRange(1))
@click.argument("url", required=False)
@click.option("--clear", is_flag=True, help="Remove the camera's source URL.")
@pass_context
@domain_errors
def cameras_set_source(ctx: Context, camera_id: int, url: str | None, clear: bool) -> None:
    """Set camera CAMERA_ID's video source URL (``-`` or nothing: read it from stdin).

    Reading it from stdin keeps a URL with credentials out of the shell history and the
    process list. The URL is never printed, returned by the API or written to the audit trail.
    """
    from geo.store.camera_sources import set_camera_sources

    if clear and url:
        fail("give a URL or --clear, not both")
    if not clear and url in (None, "-"):
        url = sys.stdin.readline().strip()
    with checked_engine(ctx).begin() as conn:
        set_camera_sources(conn, {camera_id: None if clear else url}, actor=cli_actor())
    click.echo(f"camera {camera_id}: source URL {'cleared' if clear else 'set'}")


@cameras.command("infer-headings")
@pass_context
@domain_errors
def cameras_infer_headings(ctx: Context) -> None:
    """Infer fixed cameras' unknown headings from the nearest road (one-way roads only)."""
    from geo.store.headings import infer_registry_headings

    with checked_engine(ctx).begin() as conn:
        report = infer_registry_headings(
            conn, crs=ctx.settings.working_crs, max_range_m=ctx.settings.max_coverage_range_m
        )
    click.echo(
        f"{report.looked_at} fixed cameras of unknown heading: {report.inferred} inferred"
        f" (one-way road, facing the oncoming traffic), {report.both_senses} beside a two-way"
        f" road (axis recorded, heading still unknown), {report.no_road} with no road near"
    )


@cameras.command("survey")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--centre", help="Only this centre's cameras (its name); others are rejected.")
@click.option("--dry-run", is_flag=True, help="Check and report; change nothing.")
@pass_context
@domain_errors
def cameras_survey(ctx: Context, file: Path, centre: str | None, dry_run: bool) -> None:
    """Apply a survey CSV of headings and fields of view (camera_id, heading_deg, fov_deg).

    All or nothing: a file with any bad row changes nothing; each bad row is named by line and
    field. A heading given becomes a surveyed one. UTF-8 (with or without BOM) or CP949.
    """
    from geo.errors import ImportFileError
    from geo.ingest.survey import read_survey
    from geo.store.camera_changes import apply_survey
    from geo.store.orgs import get_organization

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ImportFileError(f"{file}: cannot be read ({exc.strerror})") from exc
    rows, report = read_survey(data, file.name)
    with checked_engine(ctx).begin() as conn:
        owner = get_organization(conn, centre).id if centre else None
        apply_survey(
            conn, rows, report, owner_id=owner, organization_id=owner, actor=cli_actor(),
            via="cli", max_range_m=ctx.settings.max_coverage_range_m, dry_run=dry_run,
        )  # fmt: skip
    click.echo(report.summary())
    for rejection in report.rejections:
        click.echo(f"  {rejection}")
    if report.rejected:
        sys.exit(1)
