"""Cross-origin access for the pages of other origins listed in ``GILMOK_CORS_ORIGINS``.

Off by default: a browser then lets no other origin's page read gilmok's answers. For each listed
origin (exact ``scheme://host[:port]``, never a wildcard), the API answers preflights and allows
credentials (the session cookie), the headers gilmok reads (``Authorization``, ``X-API-Key``,
``X-CSRF-Token``, ``Content-Type``, ``Last-Event-ID``) and exposes ``Retry-After`` and
``Location``. An origin not listed gets no CORS header at all. flask-cors does the protocol.
"""

from __future__ import annotations

from flask import Flask
from flask_cors import CORS

from geo.settings import Settings

ALLOWED_HEADERS = ("Authorization", "X-API-Key", "X-CSRF-Token", "Content-Type", "Last-Event-ID")
EXPOSED_HEADERS = ("Retry-After", "Location")
#: Seconds a browser may keep a preflight's answer.
PREFLIGHT_MAX_AGE_S = 600


def init_app(app: Flask, settings: Settings) -> None:
    """Answer cross-origin requests from ``settings.cors_origins`` (nothing when empty)."""
    if not settings.cors_origins:
        return
    CORS(
        app,
        resources={r"/v1/*": {"origins": list(settings.cors_origins)}},
        supports_credentials=True,
        allow_headers=list(ALLOWED_HEADERS),
        expose_headers=list(EXPOSED_HEADERS),
        methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        max_age=PREFLIGHT_MAX_AGE_S,
        vary_header=True,
    )
