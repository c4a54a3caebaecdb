"""The ``gilmok`` command: database, imports, queries and the server, from one entry point.

Every command reads the settings once, and every :class:`geo.errors.GilmokError` ends the
command with one line on stderr naming the problem (exit status 1), never a traceback.

Two database roles: ``db upgrade`` and the imports (which drop and rebuild constraints and
indexes and refresh statistics) log in as the schema's owner (``GILMOK_OWNER_DATABASE_URL``);
every other command, the API and the worker as the service (``GILMOK_DATABASE_URL``), which
can read and write rows but not change the schema or the audit trail.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial, wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from geo.cordon import CordonOptions
from geo.domain import (
    CORDON_MODES,
    DEFAULT_DORI_LEVEL,
    DIRECTIONS,
    DORI_PX_PER_M,
    LEGAL_BASES,
    ORGANIZATION_KINDS,
    ROLES,
    TRAVEL_MODES,
)
from geo.errors import GilmokError
from geo.settings import Settings, load_settings

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str) -> None:
    """Print one error line and exit with status 1."""
    click.echo(f"gilmok: error: {message}", err=True)
    sys.exit(1)


def domain_errors(func: F) -> F:
    """Report gilmok's own errors as one line instead of a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except GilmokError as exc:
            fail(exc.message)
        return None

    return wrapper  # type: ignore[return-value]


class Context:
    """Settings, read lazily so that ``--help`` works with a broken environment."""

    def __init__(self) -> None:
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings()
        return self._settings


pass_context = click.make_pass_decorator(Context, ensure=True)

_CORDON_FLAGS = (
    click.option("--radius", "radius_m", type=float, help="Cordon radius, metres (default 500)."),
    click.option("--minutes", type=float, help="Time-based cordon: minutes of travel ..."),
    click.option("--speed-kmh", type=float, help="... at this speed, km/h."),
    click.option("--mode", type=click.Choice(CORDON_MODES), default=CORDON_MODES[0]),
    click.option("--direction", type=click.Choice(DIRECTIONS), default=DIRECTIONS[0]),
    click.option("--travel", type=click.Choice(TRAVEL_MODES), default=TRAVEL_MODES[0]),
)

#: ``--level``: the DORI level cameras are ranked at.
level_option = click.option(
    "--level",
    type=click.Choice(tuple(DORI_PX_PER_M)),
    default=DEFAULT_DORI_LEVEL,
    show_default=True,
    help="DORI level (IEC 62676-4) the cameras must reach on the watch stretch.",
)


def cordon_options(func: F) -> F:
    """The cordon's six options as flags (their choices from :mod:`geo.domain`), given to the
    command as one checked :class:`geo.cordon.CordonOptions` named ``cordon``. Put it below
    :func:`domain_errors`, which reports a bad combination (a radius and minutes) as one line."""

    @wraps(func)
    def wrapper(
        *args: Any,
        radius_m: float | None,
        minutes: float | None,
        speed_kmh: float | None,
        mode: str,
        direction: str,
        travel: str,
        **kwargs: Any,
    ) -> Any:
        cordon = CordonOptions(
            radius_m=radius_m, minutes=minutes, speed_kmh=speed_kmh,
            mode=mode, direction=direction, travel=travel,
        )  # fmt: skip
        return func(*args, cordon=cordon, **kwargs)

    decorated: Any = wrapper
    for flag in reversed(_CORDON_FLAGS):
        decorated = flag(decorated)
    return decorated


@click.group()
@click.version_option(package_name="gilmok")
def main() -> None:
    """gilmok: which cameras watch the approaches to an incident."""


@main.group()
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


def _engine(ctx: Context, *, owner: bool = False) -> Any:
    """A checked engine on a database at the code's schema revision: as the service, or with
    ``owner`` as the schema's owner (imports)."""
    from geo.store import connect
    from geo.store.migrate import require_current

    settings = ctx.settings
    engine = connect(settings.owner_database_url if owner else settings.database_url)
    require_current(engine)
    return engine


def _service_engine(ctx: Context) -> Any:
    """:func:`_engine`, refusing a login role that could change the schema or the audit trail
    (the long-running service: ``serve``, ``worker``)."""
    from geo.store.app_role import require_service_role
    from geo.store.db import database_errors

    engine = _engine(ctx)
    with database_errors(engine.url), engine.connect() as conn:
        require_service_role(conn)
    return engine


def _print_summary(summary: Any, *, show_rejected: int, as_json: bool) -> None:
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


@main.group()
def data() -> None:
    """The real data files (GILMOK_DATA_DIR) and their manifest."""


@data.command("check")
@pass_context
@domain_errors
def data_check(ctx: Context) -> None:
    """Verify the data folder against data/manifest.toml (presence, size, sha256)."""
    from geo.ingest.manifest import check_data_dir, load_manifest

    files = load_manifest()
    problems = check_data_dir(ctx.settings.data_dir, files)
    for entry in files:
        click.echo(f"{entry.name:40} {entry.importer:12} {entry.licence}: {entry.attribution}")
    if problems:
        fail("; ".join(problems))
    click.echo(f"{len(files)} files in {ctx.settings.data_dir} match the manifest")


@main.group("import")
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

    engine = _engine(ctx, owner=True)
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

    files = [f for f in load_manifest() if f.import_all]
    problems = check_data_dir(ctx.settings.data_dir, files)
    if problems:
        fail("; ".join(problems))
    assert ctx.settings.data_dir is not None
    commands = {"roads": import_roads, "cctv": import_cctv, "enforcement": import_enforcement}
    click_ctx = click.get_current_context()
    for entry in files:
        click_ctx.invoke(
            commands[entry.importer],
            file=ctx.settings.data_dir / entry.name,
            show_rejected=show_rejected,
            as_json=False,
        )
    # Roads and cameras are both in now: fixed cameras of unknown heading look along a road.
    click_ctx.invoke(cameras_infer_headings)


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

    engine = _engine(ctx, owner=True)
    read = read_road_network(file)
    with engine.begin() as conn:
        summary = import_road_network(conn, read, path=file, name=name)
    _print_summary(summary, show_rejected=show_rejected, as_json=as_json)


@main.group()
def relay() -> None:
    """The stream relay (Janus, on loopback): start, stop, status."""


@relay.command("start")
@click.option("--timeout", default=5.0, show_default=True, help="Seconds to wait for it to answer.")
@pass_context
@domain_errors
def relay_start(ctx: Context, timeout: float) -> None:
    """Write the relay's configuration and start it in the background."""
    from api.relay.janus_process import JanusProcess

    settings = ctx.settings.relay
    proc = JanusProcess(settings)
    already = proc.pid()
    pid = proc.start(timeout_s=timeout, detach=True)
    state = "already running" if already else "started"
    click.echo(
        f"relay {state}: Janus pid {pid} on {settings.host}:{settings.port}, "
        f"log {proc.paths.log_file}"
    )


@relay.command("stop")
@pass_context
@domain_errors
def relay_stop(ctx: Context) -> None:
    """Stop the relay started by `gilmok relay start` (every relayed stream ends)."""
    from api.relay.janus_process import JanusProcess

    stopped = JanusProcess(ctx.settings.relay).stop()
    click.echo("relay stopped" if stopped else "relay was not running")


@relay.command("status")
@pass_context
@domain_errors
def relay_status(ctx: Context) -> None:
    """Whether the relay answers gilmok's credentials (exit status 1 when it does not)."""
    from api.relay import make_relay

    settings = ctx.settings.relay
    adapter = make_relay(settings.backend, settings)
    health = adapter.health()
    adapter.close()
    if not health.up:
        fail(health.detail)
    click.echo(f"relay up: {health.detail}")


@main.group()
def camsim() -> None:
    """The camera simulator: H.264 test video at rtsp://127.0.0.1:PORT/cam1..camN."""


def _camsim_options(func: F) -> F:
    return click.option(
        "--cameras", default=16, show_default=True, help="Number of simulated cameras."
    )(func)


@camsim.command("run")
@_camsim_options
@pass_context
@domain_errors
def camsim_run(ctx: Context, cameras: int) -> None:
    """Serve the simulated cameras in the foreground until Ctrl-C (port: GILMOK_CAMSIM_PORT)."""
    import subprocess

    from api.relay.camsim import SERVER_SCRIPT, SYSTEM_PYTHON

    port = ctx.settings.relay.camsim_port
    click.echo(f"camera simulator: rtsp://127.0.0.1:{port}/cam1 .. /cam{cameras} (Ctrl-C stops)")
    command = [SYSTEM_PYTHON, str(SERVER_SCRIPT), "--cameras", str(cameras), "--port", str(port)]
    try:
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    except KeyboardInterrupt:
        pass
    except (OSError, subprocess.CalledProcessError) as exc:
        fail(f"the camera simulator failed ({exc}); run scripts/setup.sh --with-relay")


@camsim.command("start")
@_camsim_options
@pass_context
@domain_errors
def camsim_start(ctx: Context, cameras: int) -> None:
    """Start the camera simulator in the background."""
    from api.relay.camsim import running_pid, start_background

    settings = ctx.settings.relay
    if (pid := running_pid(settings)) is not None:
        click.echo(f"camera simulator already running: pid {pid} (`gilmok camsim stop` first)")
        return
    pid = start_background(settings, cameras=cameras)
    url = f"rtsp://127.0.0.1:{settings.camsim_port}"
    click.echo(f"camera simulator pid {pid}: {url}/cam1 .. {url}/cam{cameras}")


@camsim.command("stop")
@pass_context
@domain_errors
def camsim_stop(ctx: Context) -> None:
    """Stop the background camera simulator."""
    from api.relay.camsim import stop_background

    stopped = stop_background(ctx.settings.relay)
    click.echo("camera simulator stopped" if stopped else "camera simulator was not running")


def _cli_actor() -> str:
    """How the audit trail names a person at the terminal."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


@main.group()
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

    with _engine(ctx).begin() as conn:
        org = create_organization(
            conn,
            name=name,
            kind=kind,
            parent=parent,
            auto_approve=auto_approve,
            actor=_cli_actor(),
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
    from geo.store.orgs import create_api_key

    with _engine(ctx).begin() as conn:
        info, key = create_api_key(
            conn, organization=name, role=role, label=label, actor=_cli_actor()
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

    with _engine(ctx).begin() as conn:
        info = revoke_api_key(conn, prefix=prefix, actor=_cli_actor())
    click.echo(f"key {info.prefix} ({info.role}, {info.organization_name}) revoked")


@orgs.command("list")
@pass_context
@domain_errors
def orgs_list(ctx: Context) -> None:
    """Every organization: id, kind, parent, active keys, auto-approved legal bases, area."""
    from geo.store.orgs import CENTRE_KINDS, list_organizations

    with _engine(ctx).connect() as conn:
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
    with _engine(ctx).begin() as conn:
        org = get_organization(conn, name)
        done = set_service_area_from(
            conn,
            organization_id=org.id,
            sigungu=sigungu,
            sido=sido,
            geojson=geojson,
            camera_hull_of_own=camera_hull,
            country_bounds=ctx.settings.country_bounds,
            actor=_cli_actor(),
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

    with _engine(ctx).begin() as conn:
        report = seed_pilot(conn, actor=_cli_actor())
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


@main.group()
def audit() -> None:
    """The hash-chained audit trail."""


def _anchor_key(ctx: Context) -> str:
    key = ctx.settings.audit_anchor_key
    if key is None:
        fail(
            "GILMOK_AUDIT_ANCHOR_KEY is not set: audit anchors are signed with it"
            " (a secret of at least 32 characters, kept away from the database's owner)"
        )
    assert key is not None
    return key


def _read_anchor_argument(value: str) -> str:
    """The anchor line itself, or the last non-empty line of the file it names."""
    if value.lstrip().startswith("{"):
        return value.strip()
    lines: list[str] = []
    try:
        text = Path(value).read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"--head {value}: neither an anchor line nor a readable file ({exc.strerror})")
    except UnicodeDecodeError:
        fail(f"--head {value}: the file is not UTF-8 text")
    else:
        lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        fail(f"--head {value}: the file holds no anchor")
    return lines[-1]


@audit.command("verify")
@click.option(
    "--head",
    "anchor",
    metavar="ANCHOR",
    help="An anchor `gilmok audit head` printed (the line, or a file whose last line it is):"
    " the chain must still hold that record with that hash.",
)
@pass_context
@domain_errors
def audit_verify(ctx: Context, anchor: str | None) -> None:
    """Recompute the chain; exit 1 naming the first record altered or removed.

    Alone, this cannot catch whoever owns the table rewriting a record and re-hashing every
    record after it; with --head and an anchor kept outside the database, it does.
    """
    from geo.store.audit import check_anchor, read_anchor, verify

    signed = None
    if anchor is not None:
        key = _anchor_key(ctx)
        signed = read_anchor(_read_anchor_argument(anchor), key=key)
    with _engine(ctx).connect() as conn:
        check = verify(conn) if signed is None else check_anchor(conn, signed)
    if not check.ok:
        if signed is not None and check.first_bad_id == signed.id:
            fail(f"audit chain does not match the anchor of {signed.signed_at}: {check.problem}")
        fail(f"audit chain broken at record {check.first_bad_id}: {check.problem}")
    if check.head_id is None:
        click.echo("audit trail is empty")
        return
    anchored = "" if signed is None else f"; holds anchored record {signed.id} unchanged"
    click.echo(
        f"audit chain intact: {check.records} records; head {check.head_id} {check.head_hash}"
        f"{anchored} (`gilmok audit head` signs the head to keep elsewhere)"
    )


@audit.command("head")
@pass_context
@domain_errors
def audit_head(ctx: Context) -> None:
    """Verify the chain and print its head, signed, as one line to keep outside the database.

    The line (JSON: the newest record's id and hash, HMAC-SHA256-signed with
    GILMOK_AUDIT_ANCHOR_KEY) is what `gilmok audit verify --head` checks the chain against later.
    """
    from geo.store.audit import head_anchor, sign_anchor

    key = _anchor_key(ctx)
    with _engine(ctx).connect() as conn:
        check, anchor = head_anchor(conn)
    if not check.ok:
        fail(
            f"audit chain broken at record {check.first_bad_id}: {check.problem};"
            " a broken chain is not signed"
        )
    if anchor is None:
        fail("audit trail is empty: nothing to anchor yet")
    assert anchor is not None
    click.echo(sign_anchor(anchor, key=key))


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="gunicorn worker processes (default: 2 × CPUs + 1).",
)
@pass_context
@domain_errors
def serve(ctx: Context, host: str, port: int, workers: int | None) -> None:
    """Serve the HTTP API through gunicorn, with the expiry loop (see `gilmok worker`).

    Every gunicorn worker runs the loop in a thread; one of all the workers and serves on the
    database leads it (a PostgreSQL advisory lock), the others stand by to take over.
    """
    from api.serve import serve as run

    _service_engine(ctx).dispose()  # fail now, with one line, if the database or role is unusable
    run(ctx.settings, host=host, port=port, workers=workers)


@main.command()
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
    engine = _engine(ctx)
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


@main.group("export")
def export_() -> None:
    """Files for planners: the registry as a GeoPackage, to work with no database."""


@export_.command("gpkg")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_context
@domain_errors
def export_gpkg(ctx: Context, file: Path) -> None:
    """Write roads, cameras (no source URLs), coverage and import reports to FILE (.gpkg)."""
    from geo.store.export import export_geopackage

    with _engine(ctx).connect() as conn:
        counts = export_geopackage(conn, file)
    layers = ", ".join(f"{n} {name}" for name, n in counts.items())
    click.echo(f"{file}: {layers} (EPSG:5179)")


@main.group()
def drills() -> None:
    """Drills: camera sets precomputed for many scenario points, stored and exported."""


def _drill_summary(info: Any) -> str:
    return (
        f"drill {info.name}: {info.scenarios} scenarios ({info.done} done, {info.failed} failed,"
        f" {info.pending} pending), {info.approaches} approaches, {info.blind} blind,"
        f" {info.cameras} cameras"
    )


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (``kill``, a batch system's time limit) stops like Ctrl-C: the batches running
    are cancelled, Dask shuts down and one line says what is kept. Python's default ends the
    process on the spot, silently, leaving Dask's semaphores to the resource tracker."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers belong to the main thread
        return

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
    from geo.drill_cluster import dask_client, precompute, registry_on_workers
    from geo.drills import DrillOptions, batches
    from geo.gpkg import read_scenario_points
    from geo.store import drills as store

    options = DrillOptions(cordon=cordon, level=level, best=best)
    points = read_scenario_points(scenarios)
    name = name or scenarios.stem
    settings = ctx.settings
    engine = _engine(ctx)
    # Loading the scenario file is an import: as the owner, whose ANALYZE of the new rows the
    # service may not run. Computing and storing the results is the service's.
    owner_engine = _engine(ctx, owner=True)
    with owner_engine.begin() as conn:
        drill_id, created = store.ensure_drill(
            conn, name, options=options.as_dict(), source_file=scenarios.name
        )
        added = store.add_scenarios(conn, drill_id, points["name"], points["lon"], points["lat"])
        if retry_failed:
            store.reset_failed(conn, drill_id)
        pending = store.pending_scenarios(conn, drill_id)
        counts = store.status_counts(conn, drill_id)
    click.echo(
        f"drill {name} ({'new' if created else 'existing'}): {len(points)} scenarios in"
        f" {scenarios.name}, {added} added; {counts['done'] + counts['failed']} already"
        f" computed, skipped; {len(pending)} to compute"
    )
    if len(pending):
        stored = 0
        started = time.perf_counter()
        try:
            with _terminate_as_interrupt():
                todo = batches(pending["id"], pending["lon"], pending["lat"], batch_size)
                # each worker reads the registry from the database itself, all at once
                load = partial(
                    store.load_registry,
                    settings.database_url,
                    crs=settings.working_crs,
                    max_range_m=settings.max_coverage_range_m,
                )
                with (
                    dask_client(scheduler, workers=workers) as client,
                    registry_on_workers(client, load) as registry,
                ):
                    ready = time.perf_counter()
                    with click.progressbar(
                        length=len(pending), label="scenarios", file=sys.stderr
                    ) as bar:

                        def saved(batch: tuple[int, int]) -> None:
                            nonlocal stored
                            scenarios, rows = batch
                            stored += rows
                            bar.update(scenarios)

                        # each worker stores the batches it computes, one transaction each
                        saver = store.BatchSaver(settings.database_url, drill_id)
                        precompute(client, registry, todo, options, on_worker=saver, save=saved)
                    computed = time.perf_counter()
        except KeyboardInterrupt:
            with engine.connect() as conn:
                now = store.status_counts(conn, drill_id)
            # by the rows: batches still running on a worker when the others were cancelled
            # were stored by it, but their counts never came back
            kept = now["done"] + now["failed"]
            fail(
                f"interrupted: {kept} of {sum(now.values())} scenarios stored"
                f" ({kept - counts['done'] - counts['failed']} by this run),"
                f" {now['pending']} pending;"
                f" run the same command to resume {name}"
            )
        click.echo(
            f"this run stored {stored} scenarios in {computed - ready:.1f} s"
            f" (after {ready - started:.1f} s loading the registry onto the Dask workers)"
        )
    with engine.connect() as conn:
        info = store.get_drill(conn, name)
        if out is not None:
            from geo.gpkg import write_drill_file

            write_drill_file(out, *store.export_frames(conn, info.id))
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
    from geo.store import drills as store

    if out.suffix.lower() != ".csv":
        raise InvalidInput(f"{out.name}: scenario sites are written as a .csv (name,lon,lat)")
    with _engine(ctx).connect() as conn:
        sites = store.cctv_sites(
            conn, every=every, limit=limit, inset_m=inset_m, file_name=file_name
        )
    sites.to_csv(out, index=False, float_format="%.7f")
    which = "every site" if every == 1 else f"1 site in {every}"
    source = f" of {file_name}" if file_name else ""
    inside = "inside" if inset_m == 0 else f"{inset_m:g} m or more inside"
    cap = "" if limit is None else f", at most {limit}"
    click.echo(f"{out}: {len(sites)} scenario points ({which}{source} {inside} the road data{cap})")


@drills.command("export")
@click.argument("name")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_context
@domain_errors
def drills_export(ctx: Context, name: str, file: Path) -> None:
    """Export the drill NAME to FILE (.gpkg, .csv or .geojson)."""
    from geo.gpkg import write_drill_file
    from geo.store import drills as store

    with _engine(ctx).connect() as conn:
        info = store.get_drill(conn, name)
        write_drill_file(file, *store.export_frames(conn, info.id))
    click.echo(_drill_summary(info))
    click.echo(f"exported to {file}")


@main.group()
def cameras() -> None:
    """The camera registry's source URLs (secrets that go to the relay and nowhere else)."""


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
    from geo.store.sessions import set_camera_sources

    if clear and url:
        fail("give a URL or --clear, not both")
    if not clear and url in (None, "-"):
        url = sys.stdin.readline().strip()
    with _engine(ctx).begin() as conn:
        set_camera_sources(conn, {camera_id: None if clear else url}, actor=_cli_actor())
    click.echo(f"camera {camera_id}: source URL {'cleared' if clear else 'set'}")


@cameras.command("infer-headings")
@pass_context
@domain_errors
def cameras_infer_headings(ctx: Context) -> None:
    """Infer fixed cameras' unknown headings from the nearest road (one-way roads only)."""
    from geo.store.headings import infer_registry_headings

    with _engine(ctx).begin() as conn:
        report = infer_registry_headings(
            conn, crs=ctx.settings.working_crs, max_range_m=ctx.settings.max_coverage_range_m
        )
    click.echo(
        f"{report.looked_at} fixed cameras of unknown heading: {report.inferred} inferred"
        f" (one-way road, facing the oncoming traffic), {report.both_senses} beside a two-way"
        f" road (axis recorded, heading still unknown), {report.no_road} with no road near"
    )


def _tick_line(report: Any) -> str:
    done = report.reconciled
    parts = [f"ended {report.ended}"] + [
        f"{name.replace('_', ' ')} {done.get(name, 0)}"
        for name in ("orphans_destroyed", "reprovisioned", "failed", "provisioned")
    ]
    relay = "relay up" if done.get("relay_up") else "relay DOWN"
    error = f"; error: {report.error}" if report.error else ""
    return f"{', '.join(parts)} ({relay}, {report.seconds * 1000:.0f} ms){error}"


@main.command("worker")
@click.option(
    "--interval",
    default=0.25,
    show_default=True,
    type=click.FloatRange(0.02, 0.5),
    help="Seconds between two rounds (revocations reach the relay within one round).",
)
@click.option("--once", is_flag=True, help="Run one round and exit.")
@pass_context
@domain_errors
def worker(ctx: Context, interval: float, once: bool) -> None:
    """End feeds on time, keep the relay in step with the database, provision approved feeds.

    Every round: sessions past their expiry, whose activation ended, whose incident closed or
    whose request a centre revoked are destroyed on the relay; streams the relay lost are
    restored and streams no live session holds are destroyed; approved requests that waited
    for the relay are provisioned. Stops cleanly on SIGTERM or Ctrl-C.

    Optional: `gilmok serve` runs the same loop itself. Run this to keep the loop apart from
    the API; whichever process holds the loop's advisory lock leads, the others stand by.
    """
    import signal
    import threading

    from api.provisioning import make_app_relay
    from api.worker import Worker

    settings = ctx.settings
    engine = _service_engine(ctx)
    relay = make_app_relay(settings, engine)
    if relay is None:
        fail("no stream relay is configured: set GILMOK_RELAY_BACKEND (e.g. janus)")
    assert relay is not None
    loop = Worker(engine, relay, settings, interval_s=interval)
    if once:
        click.echo(_tick_line(loop.tick()))
        relay.close()
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    where = f"{settings.relay.host}:{settings.relay.port}"
    click.echo(f"worker started: a round every {interval:g} s; relay {relay.name} at {where}")

    def say(report: Any) -> None:
        if report.busy:
            click.echo(_tick_line(report))

    loop.run(stop, on_tick=say)
    relay.close()
    click.echo(f"worker stopped after {loop.ticks} rounds")


@main.command("demo")
@click.option("--best", default=1, show_default=True, help="Cameras requested per approach.")
@click.option(
    "--max-cameras", default=12, show_default=True, type=click.IntRange(1, 64),
    help="At most this many feeds.",
)  # fmt: skip
@pass_context
@domain_errors
def demo(ctx: Context, best: int, max_cameras: int) -> None:
    """The main job on the imported data (run `gilmok import all` first), through the API.

    Seeds the pilot's organizations, records an alert-level-2 activation over central Seoul,
    raises an incident at Gwanghwamun, prints its approaches and cameras, starts Janus and the
    camera simulator, provisions the best camera of each approach, prints the live relay
    streams with their media age, then closes the incident and shows the feeds revoked.
    """
    from api.demo import run_demo

    run_demo(ctx.settings, _engine(ctx), echo=click.echo, best=best, max_cameras=max_cameras)


if __name__ == "__main__":  # pragma: no cover
    main()
