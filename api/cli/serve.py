"""``gilmok serve`` and ``gilmok worker``: the HTTP API through gunicorn, and the expiry and
reconcile loop (:mod:`api.feeds.loop`) as a process of its own.

Both log in as the service and refuse a role that could change the schema or the audit trail.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

import click

from api.cli.common import Context, domain_errors, fail, pass_context, service_engine


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="gunicorn worker processes (default: 2 × CPUs + 1).",
)
@click.option(
    "--threads",
    default=4,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Request threads per worker; each also gets one thread per event stream it may hold"
    " (GILMOK_EVENTS_MAX_STREAMS).",
)
@pass_context
@domain_errors
def serve(ctx: Context, host: str, port: int, workers: int | None, threads: int) -> None:
    """Serve the HTTP API through gunicorn, with the expiry loop (see `gilmok worker`).

    Every gunicorn worker runs the loop in a thread; one of all the workers and serves on the
    database leads it (a PostgreSQL advisory lock), the others stand by to take over.
    """
    from api.serve import serve as run

    service_engine(ctx).dispose()  # fail now, with one line, if the database or role is unusable
    run(ctx.settings, host=host, port=port, workers=workers, threads=threads)


def _tick_line(report: Any) -> str:
    done = report.reconciled
    parts = [f"ended {report.ended}"] + [
        f"{name.replace('_', ' ')} {done.get(name, 0)}"
        for name in ("orphans_destroyed", "reprovisioned", "failed", "provisioned")
    ]
    relay = "relay up" if done.get("relay_up") else "relay DOWN"
    error = f"; error: {report.error}" if report.error else ""
    return f"{', '.join(parts)} ({relay}, {report.seconds * 1000:.0f} ms){error}"


@click.command("worker")
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
    from api.feeds.ledger import make_app_relay
    from api.feeds.loop import Worker

    settings = ctx.settings
    engine = service_engine(ctx)
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
