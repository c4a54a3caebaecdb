"""``gilmok demo``: the main job end to end on the imported data, through the API
(:func:`api.demo.run_demo`)."""

from __future__ import annotations

import click

from api.cli.common import Context, checked_engine, domain_errors, pass_context


@click.command("demo")
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

    run_demo(ctx.settings, checked_engine(ctx), echo=click.echo, best=best, max_cameras=max_cameras)
