"""``GET /healthz``: whether the database answers at the code's schema, and the relay's state.

The database is required: when it does not answer, or is at another schema revision, the
answer is 503 (in the one error shape, with the checks in ``details``). The relay is reported
as it is: ``not_configured`` while no relay adapter is wired into the app, ``ok`` or ``down``
once one is; the overall ``status`` is ``ok`` only when every check is.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import marshmallow as ma
from flask.views import MethodView

from api.context import app_state, transaction
from api.errors import public_message
from api.schemas import Blueprint
from geo.errors import GilmokError, SchemaOutOfDate
from geo.store.app_role import schema_revision
from geo.store.migrate import head_revision

log = logging.getLogger("gilmok.api")

blp = Blueprint("health", __name__, description="Liveness and readiness of the service")


class CheckSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"enum": ["ok", "down", "not_configured"]})
    detail = ma.fields.String(required=True)


class HealthSchema(ma.Schema):
    status = ma.fields.String(required=True, metadata={"enum": ["ok", "degraded"]})
    checks = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Nested(CheckSchema), required=True
    )


def _database() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with transaction() as conn:
            current = schema_revision(conn)
    except GilmokError as exc:
        log.warning("health check: %s", exc.message)
        return {"status": "down", "detail": public_message(exc), "error": exc}
    head = head_revision()
    ms = (time.perf_counter() - started) * 1000
    if current != head:
        return {
            "status": "down",
            "detail": f"schema revision {current or 'none'}; this server needs {head}",
            "error": SchemaOutOfDate(f"the database is at schema revision {current}, not {head}"),
        }
    return {"status": "ok", "detail": f"schema revision {current}, answered in {ms:.1f} ms"}


def _relay() -> dict[str, Any]:
    relay = app_state().relay
    if relay is None:
        return {"status": "not_configured", "detail": "no stream relay is wired into the app yet"}
    try:
        health = relay.health()
    except GilmokError as exc:
        return {"status": "down", "detail": exc.message}
    return {"status": "ok" if health.up else "down", "detail": f"{health.backend}: {health.detail}"}


@blp.route("/healthz")
class Health(MethodView):
    @blp.response(200, HealthSchema)
    @blp.alt_response(503, response="SERVICE_UNAVAILABLE")
    def get(self) -> dict[str, Any]:
        """Database and relay state (no authentication)"""
        database, relay = _database(), _relay()
        error = database.pop("error", None)
        checks = {"database": database, "relay": relay}
        if error is not None:
            raise type(error)(database["detail"], details={"checks": checks})
        ok = all(c["status"] == "ok" for c in checks.values())
        return {"status": "ok" if ok else "degraded", "checks": checks}
