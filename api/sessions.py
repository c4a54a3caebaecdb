"""``/v1/session``: a browser signs in with an API key and holds a session cookie instead.

- ``POST /v1/session`` ``{"api_key": "gk_…"}``: opens a session acting as that key (its
  organization and role) and sets the cookie ``gilmok_session`` (HttpOnly, SameSite=Strict,
  Path=/, ``Secure`` per ``GILMOK_SESSION_COOKIE_SECURE``). The answer holds the CSRF token
  every state-changing request of the session must send in ``X-CSRF-Token``. A wrong key is 401,
  and refused sign-ins are limited per client address (``GILMOK_RATE_LIMIT_REFUSED_LOGINS``).
- ``GET /v1/session``: the same facts again (a reloaded page gets its CSRF token back; the
  console's page at ``/`` carries them already, :func:`signed_in`).
- ``DELETE /v1/session``: signs out (needs the CSRF token); the cookie is cleared. Idempotent:
  without a live session it answers 204 too.

Opening, refusing and ending a session are audited. The mechanics (digests, CSRF, origin) are
:mod:`api.browser_sessions`'s; the rows :mod:`geo.store.browser_sessions`'s.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, g, jsonify, request
from flask.views import MethodView
from marshmallow import fields

from api import browser_sessions as bs
from api.auth import SECURITY
from api.context import app_state, transaction
from api.errors import Unauthenticated
from api.keys import KEY_PATTERN
from api.keys import authenticate as authenticate_key
from api.rate_limits import limit_refused_logins
from api.schemas import Blueprint, Text
from geo import domain
from geo.store import audit
from geo.store import browser_sessions as store
from geo.store.browser_sessions import LiveSession

blp = Blueprint(
    "sessions",
    __name__,
    url_prefix="/v1",
    description="Browser sessions: sign in with an API key once, then use the session cookie"
    " (and its CSRF token for every state change)",
)


class SignInIn(ma.Schema):
    api_key = Text(
        required=True,
        min_length=1,
        max_length=200,
        metadata={"description": "The organization's API key, gk_<prefix>_<secret>"},
    )


class OrganizationOut(ma.Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True)


class SessionOut(ma.Schema):
    organization = fields.Nested(OrganizationOut, required=True)
    role = fields.String(required=True, metadata={"enum": list(domain.ROLES)})
    csrf_token = fields.String(
        required=True,
        metadata={"description": "Send it in X-CSRF-Token with every POST, PUT, PATCH, DELETE"},
    )
    expires_at = fields.AwareDateTime(
        required=True, metadata={"description": "The session's absolute end"}
    )
    idle_timeout_s = fields.Float(
        required=True, metadata={"description": "The session ends after this long unused"}
    )


def _out(session: LiveSession, token: str) -> dict[str, Any]:
    caller = session.caller
    return {
        "organization": {
            "id": caller.organization_id,
            "name": caller.organization_name,
            "kind": caller.organization_kind,
        },
        "role": caller.role,
        "csrf_token": bs.csrf_token_for(token),
        "expires_at": session.expires_at,
        "idle_timeout_s": app_state().settings.session_idle_s,
    }


def _set_cookie(response: Response, token: str) -> None:
    response.set_cookie(
        bs.COOKIE_NAME,
        token,
        httponly=True,
        samesite="Strict",
        path="/",
        secure=app_state().settings.session_cookie_secure,
    )


def _clear_cookie(response: Response) -> None:
    response.delete_cookie(
        bs.COOKIE_NAME,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=app_state().settings.session_cookie_secure,
    )


def signed_in() -> dict[str, Any] | None:
    """What ``GET /v1/session`` answers for this request's cookie (JSON-ready), or None when it
    carries no live session: the console's page carries it, so the page needs no round trip to
    learn who is signed in (:mod:`api.console`)."""
    token = bs.presented_token()
    if token is None:
        return None
    try:
        session = bs.authenticate_session(token)
    except Unauthenticated:
        return None
    return dict(SessionOut().dump(_out(session, token)))


def _current() -> tuple[LiveSession, str]:
    token = bs.presented_token()
    if token is None:
        raise Unauthenticated("not signed in: no session cookie (sign in with POST /v1/session)")
    return bs.authenticate_session(token), token


_DOC = {
    "security": SECURITY[2:],
    "responses": {"401": {"description": "No session, or it ended"}},
}


@blp.route("/session")
class Session(MethodView):
    @limit_refused_logins
    @blp.arguments(SignInIn)
    @blp.response(200, SessionOut)
    @blp.alt_response(401, response="UNAUTHORIZED")
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.alt_response(429, response="TOO_MANY_REQUESTS")
    @blp.doc(security=[], **{"x-gilmok-roles": list(domain.ROLES)})
    def post(self, body: dict[str, Any]) -> Response:
        """Sign in: exchange an API key for a browser session (cookie + CSRF token)

        Any role's key may open a session; the session acts with that key's organization and
        role, and ends when the key is revoked.
        """
        bs.check_origin()  # no other site may sign a browser in (to an account of its choosing)
        settings = app_state().settings
        key = body["api_key"]
        match = KEY_PATTERN.fullmatch(key)
        with transaction() as conn:
            caller = authenticate_key(conn, key)
            if caller is None:
                audit.append(
                    conn,
                    actor="anonymous",
                    organization_id=None,
                    action="session.refused",
                    subject_type="api_key",
                    subject_id=match.group(1) if match else "",
                    details={"address": request.remote_addr, "reason": "unknown key"},
                )
        if caller is None:
            raise Unauthenticated("the API key is not valid: unknown, revoked or malformed")
        previous = bs.presented_token()
        token = bs.new_session_token()
        with transaction() as conn:
            if previous is not None:
                old = store.live_session(conn, bs.digest(previous), idle_s=settings.session_idle_s)
                if old is not None:
                    store.end_session(conn, old, reason="signed in again")
            session = store.open_session(
                conn,
                caller,
                token_hash=bs.digest(token),
                csrf_hash=bs.digest(bs.csrf_token_for(token)),
                max_s=settings.session_max_s,
                address=request.remote_addr,
            )
        response = jsonify(SessionOut().dump(_out(session, token)))
        _set_cookie(response, token)
        response.headers["Cache-Control"] = "no-store"
        return response

    @blp.response(200, SessionOut)
    @blp.alt_response(401, response="UNAUTHORIZED")
    @blp.doc(**_DOC, **{"x-gilmok-roles": list(domain.ROLES)})
    def get(self) -> Response:
        """The signed-in session: organization, role, CSRF token, end"""
        session, token = _current()
        response = jsonify(SessionOut().dump(_out(session, token)))
        response.headers["Cache-Control"] = "no-store"
        return response

    @blp.response(204)
    @blp.alt_response(403, response="FORBIDDEN")
    @blp.doc(security=[], **{"x-gilmok-roles": list(domain.ROLES)})
    def delete(self) -> Response:
        """Sign out: the session ends and its cookie is cleared (needs X-CSRF-Token)

        Signing out is idempotent: without a live session (no cookie, or one whose session has
        ended) there is nothing to end, and the answer is 204 as well. A live session's cookie
        must come with its CSRF token from this server's pages, else 403 ``csrf_failed``.
        """
        token = bs.presented_token()
        idle_s = app_state().settings.session_idle_s
        session = None
        if token is not None:
            with transaction() as conn:
                session = store.live_session(conn, bs.digest(token), idle_s=idle_s)
        if session is not None:
            bs.check_state_change(session)
            g.browser_session = session
            with transaction() as conn:
                store.end_session(conn, session, reason="signed out")
        response = Response(status=204)
        _clear_cookie(response)
        return response
