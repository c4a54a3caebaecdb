"""API keys: who is calling, and whether their role may do this.

A key is sent as ``Authorization: Bearer gk_<prefix>_<secret>`` or ``X-API-Key: gk_…``. The
caller (key id and prefix, organization id, name and kind, role) is put in ``g.caller`` for the
view. Which role may call which endpoint is decided where the endpoint is declared, with
:func:`requires_roles`, and documented in the OpenAPI document (``x-gilmok-roles``).
"""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from functools import wraps
from typing import Any, TypeVar

from flask import g, request

from api.context import transaction
from api.errors import Unauthenticated
from geo import domain
from geo.errors import Forbidden
from geo.store.orgs import Caller, authenticate

F = TypeVar("F", bound=Callable[..., Any])

#: OpenAPI security requirement: either header works.
SECURITY: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"apiKeyHeader": []}]
SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "gk_<prefix>_<secret>"},
    "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}


def _presented_key() -> str:
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
    if not key:
        raise Unauthenticated(
            "this endpoint needs an API key: send 'Authorization: Bearer gk_…' or 'X-API-Key'"
        )
    return key


def authenticate_request() -> Caller:
    """The caller behind the request's key.

    Raises
    ------
    Unauthenticated
        no key, or an unknown, malformed or revoked one (the same answer for each).
    """
    key = _presented_key()
    with transaction() as conn:
        caller = authenticate(conn, key)
    if caller is None:
        raise Unauthenticated("the API key is not valid: unknown, revoked or malformed")
    return caller


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
        wrapper._apidoc = apidoc  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator
