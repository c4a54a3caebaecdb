"""Browser sessions as the web layer mints and checks them: the cookie, the CSRF token, the origin.

The console signs in by sending an API key once (``POST /v1/session``, :mod:`api.sessions`);
from then on the browser holds only the cookie :data:`COOKIE_NAME` (HttpOnly, SameSite=Strict,
``Secure`` unless ``GILMOK_SESSION_COOKIE_SECURE=false``), whose value is 256 random bits. The
database keeps the SHA-256 of it and of the session's CSRF token
(:mod:`geo.store.browser_sessions`).

The CSRF token is derived from the cookie's value (HMAC-SHA256 under it), so that a reloaded page
gets it again from ``GET /v1/session`` while the database never holds it: only a page that can
read that same-origin answer learns it. A request authenticated by the cookie that changes
state (POST, PUT, PATCH, DELETE) must carry it in ``X-CSRF-Token``, and must not come from
another site: an ``Origin`` header other than the server's own or a ``GILMOK_CORS_ORIGINS``
one, or ``Sec-Fetch-Site: cross-site``, is refused. Either refusal is 403 ``csrf_failed``.
Requests authenticated by an API key header are not affected: no browser adds those by itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from flask import request

from api.context import app_state, transaction
from api.errors import CsrfFailed, Unauthenticated
from geo.store import browser_sessions as store
from geo.store.browser_sessions import LiveSession

COOKIE_NAME = "gilmok_session"
CSRF_HEADER = "X-CSRF-Token"
#: Methods that change state, and so need the CSRF token when the cookie authenticates them.
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_CSRF_CONTEXT = b"gilmok-csrf-v1"


def digest(value: str) -> bytes:
    """SHA-256 of a session id or CSRF token: what the database stores."""
    return hashlib.sha256(value.encode("utf-8")).digest()


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_token_for(session_token: str) -> str:
    """The CSRF token of the session whose cookie holds ``session_token``."""
    mac = hmac.new(session_token.encode("utf-8"), _CSRF_CONTEXT, "sha256").digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def presented_token() -> str | None:
    """The session cookie's value, when the request carries one."""
    value = request.cookies.get(COOKIE_NAME)
    return value.strip() if value and value.strip() else None


def authenticate_session(token: str) -> LiveSession:
    """The live session behind a cookie value, its use noted.

    Raises
    ------
    Unauthenticated
        unknown, signed out, past its end, idle too long, or its key revoked.
    """
    idle_s = app_state().settings.session_idle_s
    with transaction() as conn:
        session = store.live_session(conn, digest(token), idle_s=idle_s)
    if session is None:
        raise Unauthenticated(
            "the browser session has ended (signed out, expired, idle too long or its key"
            " revoked): sign in again with POST /v1/session"
        )
    return session


def own_origin() -> str:
    """This server's origin as the request reached it (``scheme://host[:port]``)."""
    return request.host_url.rstrip("/").lower()


def allowed_origins() -> set[str]:
    return {own_origin(), *app_state().settings.cors_origins}


def check_origin() -> None:
    """Refuse a browser's request sent by another site's page: an ``Origin`` header that is not
    this server's nor a ``GILMOK_CORS_ORIGINS`` one, or ``Sec-Fetch-Site: cross-site``.

    Raises
    ------
    CsrfFailed
    """
    origin = request.headers.get("Origin")
    if origin is not None and origin.strip().rstrip("/").lower() not in allowed_origins():
        raise CsrfFailed(
            f"a browser may sign in or change state only from this server's pages: the request"
            f" comes from {origin!r}",
            details={"origin": origin},
        )
    if origin is None and request.headers.get("Sec-Fetch-Site") == "cross-site":
        raise CsrfFailed("a browser may sign in or change state only from this server's pages")


def check_state_change(session: LiveSession) -> None:
    """Refuse a cookie-authenticated state change without the session's CSRF token or from
    another site.

    Raises
    ------
    CsrfFailed
    """
    if request.method not in UNSAFE_METHODS:
        return
    check_origin()
    presented = request.headers.get(CSRF_HEADER, "")
    if not presented or not hmac.compare_digest(digest(presented), session.csrf_hash):
        raise CsrfFailed(
            f"this request changes state and is authenticated by the session cookie: it must"
            f" carry the session's CSRF token in {CSRF_HEADER} (from POST or GET /v1/session)",
            details={"header": CSRF_HEADER},
        )
