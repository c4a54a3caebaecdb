"""``gilmok relay`` and ``gilmok camsim``: the stream relay (Janus, on loopback) and the camera
simulator that feeds it test video, started, stopped and checked from the terminal."""

from __future__ import annotations

import click

from api.cli.common import Context, F, domain_errors, fail, pass_context


@click.group()
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


@click.group()
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
