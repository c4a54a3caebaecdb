"""Opaque paging cursors and the links of an OGC API answer.

A cursor names a position, never an offset: ``next`` starts after the last id of the page and
``prev`` ends before its first, so rows added or removed between two requests neither repeat
nor skip the rows that stay. It is the position's text in URL-safe base64, opaque to clients:
they follow the links and never build one.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import request

from geo.errors import InvalidInput

_CURSOR = re.compile(r"([np]):([0-9]{1,19})")


@dataclass(frozen=True)
class Cursor:
    """After ``id`` (``next``) or before it (``prev``)."""

    direction: str
    id: int

    def encode(self) -> str:
        text = f"{'n' if self.direction == 'next' else 'p'}:{self.id}"
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(value: str | None) -> Cursor | None:
    """The cursor a ``cursor`` parameter holds; an altered or foreign one is invalid input."""
    if value is None:
        return None
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    match = _CURSOR.fullmatch(text)
    if match is None or int(match.group(2)) >= 2**63:
        raise InvalidInput(
            "cursor is not one this server gave: follow the next and prev links as they are",
            details={"field": "cursor"},
        )
    return Cursor("next" if match.group(1) == "n" else "prev", int(match.group(2)))


def url_with(path: str, **changes: Any) -> str:
    """The absolute URL of ``path`` with the request's query parameters, ``changes`` applied
    (a None value removes the parameter)."""
    args = {k: v for k, v in request.args.items() if k not in changes}
    args.update({k: v for k, v in changes.items() if v is not None})
    query = f"?{urlencode(args)}" if args else ""
    return f"{request.host_url.rstrip('/')}{path}{query}"


def link(href: str, rel: str, media_type: str, title: str | None = None) -> dict[str, str]:
    out = {"href": href, "rel": rel, "type": media_type}
    if title:
        out["title"] = title
    return out
