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


@cameras.command("add")
@click.option("--centre", required=True, help="The owning centre (its name).")
@click.option("--key", required=True, help="The centre's own id for the camera (VMS / asset no.).")
@click.option("--lon", required=True, type=click.FloatRange(-180, 180), help="Degrees (EPSG:4326).")
@click.option("--lat", required=True, type=click.FloatRange(-90, 90), help="Degrees (EPSG:4326).")
@click.option("--kind", required=True, type=click.Choice(["fixed", "ptz", "dome"]))
@click.option("--heading", type=click.FloatRange(0, 360, max_open=True),
              help="Surveyed heading, degrees clockwise from north (omit: unknown).")  # fmt: skip
@click.option("--fov", type=click.FloatRange(0, 360, min_open=True),
              help="Horizontal field of view, degrees (omit: the kind's default).")  # fmt: skip
@click.option("--resolution", type=click.IntRange(1, 8640),
              help="Vertical resolution, pixels (omit: the kind's default).")  # fmt: skip
@click.option("--purpose", default="", help="What it is for (방범, 교통, …).")
@click.option("--source-stdin", is_flag=True,
              help="Read the camera's source URL (a secret) from one line of stdin.")  # fmt: skip
@pass_context
@domain_errors
def cameras_add(
    ctx: Context, centre: str, key: str, lon: float, lat: float, kind: str,
    heading: float | None, fov: float | None, resolution: int | None, purpose: str,
    source_stdin: bool,
) -> None:  # fmt: skip
    """Add a camera a centre owns, outside any import; every running server offers it within
    about a second. The source URL is read from stdin, never from the command line."""
    from geo.errors import InvalidInput
    from geo.store.camera_changes import add_camera, centre_source_key
    from geo.store.camera_sources import set_camera_sources
    from geo.store.orgs import get_organization

    x0, y0, x1, y1 = ctx.settings.country_bounds
    if not (x0 <= lon <= x1 and y0 <= lat <= y1):
        raise InvalidInput(f"--lon/--lat ({lon}, {lat}) are outside the country bounds"
                           f" ({x0}, {y0}, {x1}, {y1})")  # fmt: skip
    url = sys.stdin.readline().strip() if source_stdin else ""
    if source_stdin and not url:
        fail("--source-stdin: no URL on stdin")
    with checked_engine(ctx).begin() as conn:
        owner = get_organization(conn, centre).id
        result = add_camera(
            conn, owner_id=owner, lon=lon, lat=lat, kind=kind, heading_deg=heading, fov_deg=fov,
            resolution_px_h=resolution, purpose=purpose, organization_id=owner,
            source_key=centre_source_key(owner, key), actor=cli_actor(), via="cli",
            max_range_m=ctx.settings.max_coverage_range_m,
        )  # fmt: skip
        if url:
            set_camera_sources(conn, {result.camera_id: url}, actor=cli_actor())
    click.echo(
        f"camera {result.camera_id} added for {centre} (key {key}, change {result.seq})"
        + (", source URL set" if url else "")
    )


@cameras.command("remove")
@click.argument("camera_id", type=click.IntRange(1))
@click.option("--reason", required=True, help="Why it is retired (dismantled, replaced, …).")
@click.option("--centre", help="Only if this centre (its name) owns it.")
@pass_context
@domain_errors
def cameras_remove(ctx: Context, camera_id: int, reason: str, centre: str | None) -> None:
    """Retire camera CAMERA_ID (it no longer exists): no longer offered, its live feeds ended
    (their relay streams destroyed now, or by the running loop when the relay is down)."""
    from api.feeds.ledger import make_app_relay
    from api.feeds.revoke import revoke_for
    from geo.errors import NotFound
    from geo.store.camera_changes import remove_camera
    from geo.store.orgs import get_organization

    if not reason.strip():
        fail("--reason: say why the camera is retired")
    with checked_engine(ctx).begin() as conn:
        owner = get_organization(conn, centre).id if centre else None
        result = remove_camera(
            conn, camera_id, owner_id=owner, organization_id=owner, actor=cli_actor(),
            via="cli", reason=reason.strip(),
        )  # fmt: skip
        if result.outcome == "unchanged":
            raise NotFound(f"camera {camera_id} is retired already")
        if result.outcome != "changed":
            raise NotFound(f"no camera{' of ' + centre if centre else ''} has the id {camera_id}")
        ended = revoke_for(
            conn, make_app_relay(ctx.settings, conn), camera_id=camera_id, actor=cli_actor(),
            reason=f"the camera was removed from the registry: {reason.strip()}",
        )  # fmt: skip
    click.echo(f"camera {camera_id} retired (change {result.seq}); {ended} live feed(s) ended")
