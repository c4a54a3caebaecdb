"""``gilmok orgs``: organizations, their API keys and service areas, and the pilot's seed.

Every change is audited under the name of the person at the terminal
(:func:`api.cli.common.cli_actor`).
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from api.cli.common import Context, checked_engine, cli_actor, domain_errors, pass_context
from geo.domain import LEGAL_BASES, ORGANIZATION_KINDS, ROLES


@click.group()
def orgs() -> None:
    """Organizations and their API keys."""


@orgs.command("create")
@click.argument("name")
@click.option("--kind", required=True, type=click.Choice(ORGANIZATION_KINDS))
@click.option("--parent", help="Name of the parent organization (routing goes through it).")
@click.option(
    "--auto-approve",
    "auto_approve",
    multiple=True,
    type=click.Choice(list(LEGAL_BASES)),
    help="Legal basis whose feed requests this centre approves automatically (repeatable).",
)
@pass_context
@domain_errors
def orgs_create(
    ctx: Context, name: str, kind: str, parent: str | None, auto_approve: tuple[str, ...]
) -> None:
    """Create the organization NAME."""
    from geo.store.orgs import create_organization

    with checked_engine(ctx).begin() as conn:
        org = create_organization(
            conn,
            name=name,
            kind=kind,
            parent=parent,
            auto_approve=auto_approve,
            actor=cli_actor(),
        )
    click.echo(f"organization {org.id}: {org.name} ({org.kind})")


@orgs.command("key")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--label", default="", help="What the key is for (shown in listings).")
@pass_context
@domain_errors
def orgs_key(ctx: Context, name: str, role: str, label: str) -> None:
    """Create an API key for the organization NAME; the key is printed once, never stored."""
    from api.keys import issue_api_key

    with checked_engine(ctx).begin() as conn:
        info, key = issue_api_key(
            conn, organization=name, role=role, label=label, actor=cli_actor()
        )
    click.echo(f"{role} key {info.prefix} for {info.organization_name} (shown only now):", err=True)
    click.echo(key)


@orgs.command("revoke-key")
@click.argument("prefix")
@pass_context
@domain_errors
def orgs_revoke_key(ctx: Context, prefix: str) -> None:
    """Revoke the API key whose prefix is PREFIX (gk_PREFIX_…)."""
    from geo.store.orgs import revoke_api_key

    with checked_engine(ctx).begin() as conn:
        info = revoke_api_key(conn, prefix=prefix, actor=cli_actor())
    click.echo(f"key {info.prefix} ({info.role}, {info.organization_name}) revoked")


@orgs.command("list")
@pass_context
@domain_errors
def orgs_list(ctx: Context) -> None:
    """Every organization: id, kind, parent, active keys, auto-approved legal bases, area."""
    from geo.store.orgs import CENTRE_KINDS, list_organizations

    with checked_engine(ctx).connect() as conn:
        rows = list_organizations(conn)
    for org in rows:
        parent = f" <- {org.parent_name}" if org.parent_name else ""
        auto = (
            f"  auto-approve: {', '.join(org.auto_approve_bases)}" if org.auto_approve_bases else ""
        )
        area = ""
        if org.service_area_km2 is not None:
            area = f"  area {org.service_area_km2:,.1f} km²"
        elif org.kind in CENTRE_KINDS:
            area = "  NO SERVICE AREA"
        click.echo(
            f"{org.id:>5}  {org.kind:16} {org.active_keys} keys  {org.name}{parent}{auto}{area}"
        )
    click.echo(f"{len(rows)} organizations")


@orgs.command("service-area")
@click.argument("name")
@click.option(
    "--sigungu",
    multiple=True,
    metavar="NAME|CODE",
    help="A 시군구 it serves: 종로구, '서울특별시 중구', 용인시 (all its 구), or a code (11110)."
    " Repeat for several.",
)
@click.option(
    "--sido", multiple=True, metavar="NAME|CODE", help="A 시도 it serves (서울특별시, 경기, 41)."
)
@click.option(
    "--geojson",
    "geojson_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A file holding a GeoJSON Polygon or MultiPolygon (lon/lat), or a Feature of one.",
)
@click.option("--camera-hull", is_flag=True, help="The hull of the cameras it owns, 200 m wider.")
@pass_context
@domain_errors
def orgs_service_area(
    ctx: Context,
    name: str,
    sigungu: tuple[str, ...],
    sido: tuple[str, ...],
    geojson_file: Path | None,
    camera_hull: bool,
) -> None:
    """Set the service area of the centre NAME: the only ground it may activate a legal basis for.

    From NGII's administrative boundaries (base date 2023-09-15) by 시군구/시도 name or code,
    from a GeoJSON file, or from the hull of its cameras. Audited.
    """
    from geo.errors import InvalidInput
    from geo.store.orgs import get_organization, set_service_area_from

    geojson = None
    if geojson_file is not None:
        try:
            geojson = json.loads(geojson_file.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InvalidInput(f"{geojson_file} is not a JSON file: {exc}") from None
        if isinstance(geojson, dict) and geojson.get("type") == "Feature":
            geojson = geojson.get("geometry")
    with checked_engine(ctx).begin() as conn:
        org = get_organization(conn, name)
        done = set_service_area_from(
            conn,
            organization_id=org.id,
            sigungu=sigungu,
            sido=sido,
            geojson=geojson,
            camera_hull_of_own=camera_hull,
            country_bounds=ctx.settings.country_bounds,
            actor=cli_actor(),
        )
    click.echo(f"service area of {done.organization_name}: {done.area_km2:,.1f} km²")


@orgs.command("seed-pilot")
@pass_context
@domain_errors
def orgs_seed_pilot(ctx: Context) -> None:
    """Create the 2020 MOLIT–MND pilot's organizations (idempotent).

    The regional integrated centre, the Seoul and Yongin smart-city centres under it, the
    Capital Defense Command and the 52nd, 55th and 56th Divisions; camera owners imported from
    the CCTV data (서울특별시 종로구청, …) are attached to their city's centre.
    """
    from geo.store.orgs import seed_pilot

    with checked_engine(ctx).begin() as conn:
        report = seed_pilot(conn, actor=cli_actor())
    for name in report.created:
        click.echo(f"created  {name}")
    for name in report.present:
        click.echo(f"present  {name}")
    for name, parent in report.linked.items():
        click.echo(f"linked   {name} -> {parent}")
    for name, parent in report.kept.items():
        click.echo(f"kept     {name} -> {parent} (its parent was set before)")
    for name in report.unlinked_owners:
        click.echo(f"unlinked {name}: not a Seoul or Yongin centre; set its parent yourself")
    for name, made_of in report.areas.items():
        click.echo(f"area     {name}: {made_of}")
    for name in report.without_area:
        click.echo(
            f"no area  {name}: set it with `gilmok orgs service-area` before it may activate"
        )
    click.echo(
        f"{len(report.created)} created, {len(report.present)} present,"
        f" {len(report.linked)} linked to a centre"
    )
