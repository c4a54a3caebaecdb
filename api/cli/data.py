"""``gilmok data``: the real data folder (``GILMOK_DATA_DIR``) checked against its manifest."""

from __future__ import annotations

import click

from api.cli.common import Context, domain_errors, fail, pass_context


@click.group()
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
