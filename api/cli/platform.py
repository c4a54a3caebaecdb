"""``gilmok platform``: smart-city integrated platforms, their subscriptions and policies.

An admin registers a platform (its key is printed once), subscribes situation rooms to its
event types, and sets which event types are a legal basis (:mod:`geo.store.platforms`). Every
change is audited under the name of the person at the terminal.
"""

from __future__ import annotations

import json

import click

from api.cli.common import Context, checked_engine, cli_actor, domain_errors, pass_context
from geo import domain


@click.group()
def platform() -> None:
    """Smart-city integrated platforms linked to gilmok (events in and out)."""


@platform.command("register")
@click.argument("code")
@click.option(
    "--name", required=True, help="The platform's name (e.g. 시흥시 스마트시티 통합플랫폼)."
)
@click.option(
    "--callback-url",
    default="",
    help="Where events out go (a message's callBack.targetUrl may name another path there).",
)
@pass_context
@domain_errors
def platform_register(ctx: Context, code: str, name: str, callback_url: str) -> None:
    """Register the platform whose messages carry sendCd CODE; its key is printed once."""
    from api.keys import hash_api_key
    from api.platform_auth import new_platform_key
    from geo.store.platforms import register_platform

    key, prefix = new_platform_key()
    with checked_engine(ctx).begin() as conn:
        registered = register_platform(
            conn,
            code=code,
            name=name,
            key_prefix=prefix,
            key_hash=hash_api_key(key),
            callback_url=callback_url,
            actor=cli_actor(),
        )
    click.echo(f"platform {registered.code} ({registered.name}), key (shown only now):", err=True)
    click.echo(key)


@platform.command("subscribe")
@click.argument("code")
@click.option("--event-type", required=True, help="The evtId, or * for every type.")
@click.option("--org", "organization", required=True, help="The situation room's name.")
@click.option("--radius-m", type=float, default=500.0, show_default=True)
@click.option("--mode", type=click.Choice(domain.CORDON_MODES), default="network")
@click.option("--direction", type=click.Choice(domain.DIRECTIONS), default="inbound")
@click.option("--travel", type=click.Choice(domain.TRAVEL_MODES), default="drive")
@click.option("--level", type=click.Choice(list(domain.DORI_PX_PER_M)), default="observe")
@pass_context
@domain_errors
def platform_subscribe(
    ctx: Context,
    code: str,
    event_type: str,
    organization: str,
    radius_m: float,
    mode: str,
    direction: str,
    travel: str,
    level: str,
) -> None:
    """Raise an incident for the situation room --org on each event of --event-type of CODE."""
    from geo.cordon import CordonOptions
    from geo.store.platforms import subscribe

    cordon = CordonOptions(radius_m=radius_m, mode=mode, direction=direction, travel=travel)
    with checked_engine(ctx).begin() as conn:
        subscription_id = subscribe(
            conn,
            platform_code=code,
            event_type=event_type,
            organization=organization,
            cordon=cordon,
            level=level,
            actor=cli_actor(),
        )
    click.echo(f"subscription {subscription_id}: {organization} ← {code} {event_type}")


@platform.command("policy")
@click.argument("code")
@click.option("--event-type", required=True, help="The evtId that is itself a legal basis.")
@click.option("--basis", required=True, type=click.Choice(list(domain.LEGAL_BASES)))
@click.option(
    "--activation",
    required=True,
    type=click.Choice(["automatic", "regional_centre"]),
    help="automatic: in force at once; regional_centre: once a regional centre confirms it.",
)
@click.option("--issuer", help="The admin organization or regional centre it is issued by.")
@click.option("--area", type=click.Choice(["radius", "sigungu"]), default="radius")
@click.option("--radius-m", type=float, default=1000.0, show_default=True)
@click.option("--max-hours", type=float, default=24.0, show_default=True)
@pass_context
@domain_errors
def platform_policy(
    ctx: Context,
    code: str,
    event_type: str,
    basis: str,
    activation: str,
    issuer: str | None,
    area: str,
    radius_m: float,
    max_hours: float,
) -> None:
    """Make CODE's events of --event-type a legal basis over their area and lifetime."""
    from geo.store.platforms import set_policy

    with checked_engine(ctx).begin() as conn:
        policy = set_policy(
            conn,
            platform_code=code,
            event_type=event_type,
            basis=basis,
            activation=activation,
            issuer=issuer,
            area=area,
            radius_m=radius_m,
            max_hours=max_hours,
            actor=cli_actor(),
        )
    click.echo(
        f"policy {policy.id}: {code} {event_type} → {basis} ({activation}, {area}"
        f" {radius_m:g} m, at most {max_hours:g} h)"
    )


@platform.command("list")
@pass_context
@domain_errors
def platform_list(ctx: Context) -> None:
    """The registered platforms."""
    from geo.store.platforms import list_platforms

    with checked_engine(ctx).begin() as conn:
        for p in list_platforms(conn):
            state = "disabled" if p.disabled_at else "enabled"
            click.echo(f"{p.code}\t{p.name}\tgp_{p.key_prefix}_…\t{state}\t{p.callback_url}")


@platform.command("disable")
@click.argument("code")
@pass_context
@domain_errors
def platform_disable(ctx: Context, code: str) -> None:
    """Refuse CODE's key from now on."""
    from geo.store.platforms import disable_platform

    with checked_engine(ctx).begin() as conn:
        disable_platform(conn, code, actor=cli_actor())
    click.echo(f"platform {code} disabled")


@platform.command("outbox")
@click.option("--state", type=click.Choice(["pending", "delivered", "failed"]))
@click.option("--limit", type=int, default=50, show_default=True)
@pass_context
@domain_errors
def platform_outbox(ctx: Context, state: str | None, limit: int) -> None:
    """Events out to the platforms and their delivery state, one JSON line each."""
    from geo.store.platform_outbox import list_outbox

    with checked_engine(ctx).begin() as conn:
        for item in list_outbox(conn, state=state, limit=limit):
            click.echo(json.dumps(item, default=str, ensure_ascii=False))
