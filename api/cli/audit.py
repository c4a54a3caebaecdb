"""``gilmok audit``: verify the hash-chained audit trail, and sign its head to keep elsewhere.

An anchor (the newest record's id and hash, HMAC-signed with ``GILMOK_AUDIT_ANCHOR_KEY``) kept
outside the database lets ``verify --head`` catch even the table's owner re-hashing the chain.
"""

from __future__ import annotations

from pathlib import Path

import click

from api.cli.common import Context, checked_engine, domain_errors, fail, pass_context


@click.group()
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
    with checked_engine(ctx).connect() as conn:
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
    with checked_engine(ctx).connect() as conn:
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
