"""gilmok's HTTP API: the Flask app factory.

``create_app()`` reads the ``GILMOK_*`` settings, makes the database engine (it connects on
first use, so the app starts and ``/healthz`` reports while the database is down), registers the
blueprints and the one error map, and serves the OpenAPI 3 document, generated from the same
marshmallow schemas that validate requests, at ``/openapi.json``. Nothing is built at import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask
    from sqlalchemy.engine import Connection, Engine

    from api.relay.base import Relay
    from api.settings import Settings

#: Largest request body accepted, bytes: an activation's area with 20,000 vertices fits.
MAX_CONTENT_LENGTH = 2 * 1024 * 1024

_DESCRIPTION = """\
Which cameras watch the approaches to an incident, and — only under an active legal basis —
their feeds for an authorised situation room.

Every endpoint under /v1 needs an API key (`Authorization: Bearer gk_…` or `X-API-Key`), or
the cookie of a browser session opened with one (`POST /v1/session`): with the cookie, every
POST, PUT, PATCH and DELETE must also send the session's `X-CSRF-Token` (else 403
`csrf_failed`). Each operation lists the roles that may call it in `x-gilmok-roles`. Every
error has the body `{"code", "message", "details"}`. Coordinates are [longitude, latitude]
(EPSG:4326).
Each key has a request budget, and a smaller one for refused feed requests: past it the answer is
429 `rate_limited` with `Retry-After`. A request whose database work runs too long is cancelled
with nothing written: 503 `statement_timeout`.
"""


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | Connection | None = None,
    relay: Relay | None = None,
) -> Flask:
    """The gilmok WSGI app.

    Parameters
    ----------
    settings
        Defaults to :func:`api.settings.load_settings` (the ``GILMOK_*`` environment).
    engine
        The database to use instead of one made from ``settings.database_url``: an engine, or
        a connection inside a transaction (tests), in which each request runs as a savepoint.
    relay
        The stream relay adapter to use; by default the one ``GILMOK_RELAY_BACKEND`` names
        (registered in the database), or none when it is unset. Built without contacting the
        relay: the app starts while the relay is down and ``/healthz`` says so.
    """
    from flask import Flask
    from flask_smorest import Api

    from api import activations, audit, cors, drills, health, organizations, rate_limits, sessions
    from api.auth import SECURITY_SCHEMES
    from api.context import AppState
    from api.errors import ErrorSchema, handle_http_exception, register_error_handlers
    from api.schemas import SchemaRules, refuse_unstorable_text
    from api.settings import load_settings
    from geo.store import connect

    settings = settings or load_settings()
    bind = engine if engine is not None else connect(settings.database_url, check=False)

    class GilmokApi(Api):
        ERROR_SCHEMA = ErrorSchema

        def handle_http_exception(self, error: Any) -> Any:
            return handle_http_exception(error)

    app = Flask("gilmok")
    app.config.update(
        API_TITLE="gilmok",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH,
        API_SPEC_OPTIONS={"info": {"description": _DESCRIPTION}},
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    if relay is None:
        from api.feeds.ledger import make_app_relay

        relay = make_app_relay(settings, bind)
    app.extensions["gilmok"] = AppState(settings=settings, bind=bind, relay=relay)
    api = GilmokApi(app, spec_kwargs={"extra_plugins": [SchemaRules()]})
    rate_limits.init_app(app)
    cors.init_app(app, settings)
    for name, scheme in SECURITY_SCHEMES.items():
        api.spec.components.security_scheme(name, scheme)
    register_error_handlers(app)
    app.before_request(refuse_unstorable_text)
    from api.live_changes import stamp_response

    app.after_request(stamp_response)
    for module in (health, sessions, activations, audit, drills, organizations):
        api.register_blueprint(module.blp)
    from api import (
        camera_registry,
        cameras,
        control_points,
        events,
        feed_queue,
        feed_requests,
        incidents,
        ogc,
        platform_events,
        snapshot,
        spatial,
        tiles,
    )

    snapshot.init_app(app)
    for module in (
        spatial,
        incidents,
        feed_requests,
        feed_queue,
        control_points,
        cameras,
        camera_registry,
        events,
        tiles,
        ogc,
    ):
        api.register_blueprint(module.blp)
    for name, scheme in platform_events.SECURITY_SCHEMES.items():
        api.spec.components.security_scheme(name, scheme)
    api.register_blueprint(platform_events.blp)
    from api import console

    app.register_blueprint(console.blp)
    return app
