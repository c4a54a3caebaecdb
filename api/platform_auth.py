"""Platform keys: minted for a registered platform, presented with each of its messages.

A key reads ``gp_<prefix>_<secret>`` (8 hex digits, 256 random bits), shown once when the
platform is registered and kept only as its SHA-256 (:mod:`geo.store.platforms`), like an API
key but of another kind: a platform key opens the platform's event endpoint and nothing else,
and no API key opens that endpoint. The platform sends it as ``Authorization: Bearer gp_…`` or
in the linkage interface's own header, ``X-Scsns-Secret``.
"""

from __future__ import annotations

import re
import secrets

from flask import request

from api.context import transaction
from api.errors import Unauthenticated
from api.keys import hash_api_key
from geo.store import platforms
from geo.store.platforms import Platform

KEY_PATTERN = re.compile(r"gp_([0-9a-f]{8})_([A-Za-z0-9_-]{43})")
SECRET_HEADER = "X-Scsns-Secret"


def new_platform_key() -> tuple[str, str]:
    """A fresh ``(key, prefix)``."""
    prefix = secrets.token_hex(4)
    return f"gp_{prefix}_{secrets.token_urlsafe(32)}", prefix


def _presented() -> str:
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    bearer = value.strip() if scheme.lower() == "bearer" else ""
    secret = request.headers.get(SECRET_HEADER, "").strip()
    if bearer and secret and bearer != secret:
        raise Unauthenticated(f"the Authorization and {SECRET_HEADER} headers carry different keys")
    key = bearer or secret
    if not key:
        raise Unauthenticated(
            "this endpoint takes a platform's key: send 'Authorization: Bearer gp_…' or"
            f" '{SECRET_HEADER}'"
        )
    return key


def authenticate_platform() -> Platform:
    """The registered, enabled platform behind the request's key.

    Raises
    ------
    Unauthenticated
        no key, or one that is malformed, unknown or of a disabled platform (one answer).
    """
    key = _presented()
    match = KEY_PATTERN.fullmatch(key)
    platform = None
    if match is not None:
        with transaction() as conn:
            platform = platforms.authenticate_platform(
                conn, prefix=match.group(1), key_hash=hash_api_key(key)
            )
    if platform is None:
        raise Unauthenticated("the platform key is not valid: unknown, disabled or malformed")
    return platform
