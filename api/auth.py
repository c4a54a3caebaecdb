"""API keys: who is calling, and whether their role may do this.

A key is sent as ``Authorization: Bearer gk_<prefix>_<secret>`` or ``X-API-Key: gk_…``; a
browser instead sends the cookie of a session it opened with a key (:mod:`api.browser_sessions`),
which acts with the key's organization and role. The
caller (key id and prefix, organization id, name and kind, role) is put in ``g.caller`` for the
view. Which role may call which endpoint is decided where the endpoint is declared, with
:func:`requires_roles`, and documented in the OpenAPI document (``x-gilmok-roles``).

A key verified against the database is trusted by this process for :data:`KEY_TTL_S` seconds
(:class:`VerifiedKeys`), so that a request answered from memory — ``/v1/approaches`` on the
registry snapshot — needs no database round trip at all. The price is the revocation bound:
**a key revoked elsewhere (``gilmok orgs revoke-key``, another worker) keeps working for at most
KEY_TTL_S seconds in a process that verified it just before**; :meth:`VerifiedKeys.forget` drops
it at once in this process. Failed verifications are never kept: every unknown, malformed or
revoked key goes to the database each time it is presented.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from copy import deepcopy
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, current_app, g, request

from api import browser_sessions
from api.context import transaction
from api.errors import Unauthenticated
from api.keys import authenticate, hash_api_key
from geo import domain
from geo.errors import Forbidden
from geo.store.orgs import Caller

F = TypeVar("F", bound=Callable[..., Any])

#: OpenAPI security requirement: either header works.
SECURITY: list[dict[str, list[str]]] = [
    {"bearerAuth": []},
    {"apiKeyHeader": []},
    {"sessionCookie": []},
]
SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "gk_<prefix>_<secret>"},
    "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "sessionCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": browser_sessions.COOKIE_NAME,
        "description": "A browser session from POST /v1/session; a state change must also"
        " send its CSRF token in X-CSRF-Token",
    },
}


#: Seconds a verified key is trusted without the database: the longest a revoked key keeps working.
KEY_TTL_S = 5.0
#: Verified keys kept at most; past it the expired ones go, then all of them.
MAX_KEYS = 10_000
EXTENSION = "gilmok.keys"
_INIT_LOCK = threading.Lock()


class VerifiedKeys:
    """The keys this process verified in the last ``ttl_s`` seconds: SHA-256 of the key → caller.

    Keyed by the digest the database stores, never by the key itself. Only successes are put
    here, so a guessed key always costs a database lookup.
    """

    def __init__(
        self,
        *,
        ttl_s: float = KEY_TTL_S,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_keys = max_keys
        self.clock = clock
        self._lock = threading.Lock()
        self._keys: dict[bytes, tuple[float, Caller]] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, digest: bytes) -> Caller | None:
        """The caller verified for ``digest`` less than ``ttl_s`` seconds ago, or None."""
        found = self._keys.get(digest)
        if found is None:
            return None
        verified_at, caller = found
        if self.clock() - verified_at < self.ttl_s:
            return caller
        with self._lock:
            if self._keys.get(digest) is found:
                del self._keys[digest]
        return None

    def put(self, digest: bytes, caller: Caller) -> None:
        """Remember that the database accepted ``digest`` for ``caller`` just now."""
        now = self.clock()
        with self._lock:
            if len(self._keys) >= self.max_keys:
                self._keys = {d: (t, c) for d, (t, c) in self._keys.items() if now - t < self.ttl_s}
                if len(self._keys) >= self.max_keys:
                    self._keys.clear()
            self._keys[digest] = (now, caller)

    def forget(self, prefix: str) -> None:
        """Drop the key ``gk_<prefix>_…`` now (it was revoked in this process)."""
        with self._lock:
            self._keys = {d: (t, c) for d, (t, c) in self._keys.items() if c.key_prefix != prefix}

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()


def verified_keys(app: Flask | None = None) -> VerifiedKeys:
    """The verified-key cache of ``app`` (default: the current app), created on first use."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    keys: VerifiedKeys | None = app.extensions.get(EXTENSION)
    if keys is None:
        with _INIT_LOCK:
            keys = app.extensions.setdefault(EXTENSION, VerifiedKeys())
    return keys


def _presented_key() -> str | None:
    """The API key of the request's headers, or None when it sends neither header."""
    authorization = request.headers.get("Authorization")
    header_key = request.headers.get("X-API-Key")
    bearer = None
    if authorization is not None:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthenticated(
                "the Authorization header must read 'Bearer gk_…' (an API key)",
                details={"header": "Authorization"},
            )
        bearer = value.strip()
    if bearer and header_key and bearer != header_key.strip():
        raise Unauthenticated("the Authorization and X-API-Key headers carry different keys")
    key = bearer or (header_key or "").strip()
    return key or None


def authenticate_key(key: str) -> Caller:
    """The caller behind an API key.

    From :func:`verified_keys` when the key was verified less than its TTL ago, else from the
    database (and then remembered).

    Raises
    ------
    Unauthenticated
        an unknown, malformed or revoked key (the same answer for each).
    """
    keys = verified_keys()
    digest = hash_api_key(key)
    caller = keys.get(digest)
    if caller is not None:
        return caller
    with transaction() as conn:
        caller = authenticate(conn, key)
    if caller is None:
        raise Unauthenticated("the API key is not valid: unknown, revoked or malformed")
    keys.put(digest, caller)
    return caller


def authenticate_request() -> Caller:
    """The caller behind the request's API key or, without one, its browser session cookie.

    A key in the headers wins over a cookie. A request authenticated by the cookie that changes
    state must carry the session's CSRF token and come from this server's pages
    (:func:`api.browser_sessions.check_state_change`); its session is put in
    ``g.browser_session``.

    Raises
    ------
    Unauthenticated
        neither a key nor a cookie; an unknown, malformed or revoked key; a session that ended.
    CsrfFailed
    """
    key = _presented_key()
    if key is not None:
        return authenticate_key(key)
    token = browser_sessions.presented_token()
    if token is None:
        raise Unauthenticated(
            "this endpoint needs an API key: send 'Authorization: Bearer gk_…' or 'X-API-Key'"
            " (or sign in with POST /v1/session and send its cookie)"
        )
    session = browser_sessions.authenticate_session(token)
    browser_sessions.check_state_change(session)
    g.browser_session = session
    return session.caller


def current_caller() -> Caller:
    """The authenticated caller of this request (set by :func:`requires_roles`)."""
    caller: Caller = g.caller
    return caller


def requires_roles(*roles: str) -> Callable[[F], F]:
    """Let only keys with one of ``roles`` call the view; others get 401 or 403.

    Put it above flask-smorest's ``arguments``/``response`` decorators so that the caller is
    authenticated before the request is validated.
    """
    unknown = set(roles) - set(domain.ROLES)
    if unknown or not roles:
        raise ValueError(f"unknown roles {sorted(unknown)}; roles are {domain.ROLES}")

    def decorator(func: F) -> F:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            caller = authenticate_request()
            if caller.role not in roles:
                raise Forbidden(
                    f"a {caller.role} key may not do this; it needs one of: {', '.join(roles)}",
                    details={"role": caller.role, "allowed_roles": list(roles)},
                )
            g.caller = caller
            return func(*args, **kwargs)

        apidoc = deepcopy(getattr(func, "_apidoc", {}))
        manual = apidoc.setdefault("manual_doc", {})
        manual["security"] = SECURITY
        manual["x-gilmok-roles"] = list(roles)
        responses = apidoc.setdefault("response", {}).setdefault("responses", {})
        responses.setdefault(401, []).append("UNAUTHORIZED")
        responses.setdefault(403, []).append("FORBIDDEN")
        # Any key may be held back for calling too often (Retry-After says for how long).
        responses.setdefault(429, []).append("TOO_MANY_REQUESTS")
        wrapper._apidoc = apidoc  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator
