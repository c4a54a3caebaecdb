"""API keys as the web layer mints and checks them.

A key reads ``gk_<prefix>_<secret>``: the 8-hex-digit prefix names the key in logs and the audit
trail, the secret is 256 random bits. The key is shown once, when issued; the database
(:mod:`geo.store.orgs`) keeps only its prefix and the SHA-256 of the whole key, and looks a
presented key up by the two.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy.engine import Connection

from geo.store import orgs
from geo.store.orgs import ApiKey, Caller

#: The shape of every key gilmok issues; anything else is refused without a query.
KEY_PATTERN = re.compile(r"gk_([0-9a-f]{8})_([A-Za-z0-9_-]{43})")


def hash_api_key(key: str) -> bytes:
    """SHA-256 of the whole key text: what the database stores."""
    return hashlib.sha256(key.encode("utf-8")).digest()


def new_api_key() -> tuple[str, str]:
    """A fresh ``(key, prefix)``."""
    prefix = secrets.token_hex(4)
    return f"gk_{prefix}_{secrets.token_urlsafe(32)}", prefix


def issue_api_key(
    conn: Connection, *, organization: str, role: str, actor: str, label: str = ""
) -> tuple[ApiKey, str]:
    """A new key for ``organization`` with ``role``: ``(its public facts, the key itself)``.

    The key is returned once and stored only as a hash (:func:`geo.store.orgs.create_api_key`,
    which audits it and raises for a role the organization may not hold).
    """
    key, prefix = new_api_key()
    info = orgs.create_api_key(
        conn,
        organization=organization,
        role=role,
        actor=actor,
        label=label,
        prefix=prefix,
        key_hash=hash_api_key(key),
    )
    return info, key


def authenticate(conn: Connection, presented: str) -> Caller | None:
    """The caller behind a presented key, or None for a malformed, unknown or revoked key."""
    match = KEY_PATTERN.fullmatch(presented)
    if match is None:
        return None
    return orgs.authenticate(conn, prefix=match.group(1), key_hash=hash_api_key(presented))
