"""One error shape everywhere (api/errors.py).

The app runs on the test's rolled-back connection (``create_app(engine=db)``): every request
is a savepoint as the ``gilmok_app`` role, and nothing is left behind.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import pytest
from api_world import (
    Keys,
    assert_error,
)
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Connection

import geo.errors as ge
from api import create_app
from api.errors import STATUS, status_of
from api.settings import Settings

pytestmark = pytest.mark.db


@pytest.mark.parametrize(
    "case",
    [
        (
            "post",
            "/v1/activations",
            {"data": "{not json", "content_type": "application/json"},
            400,
            "malformed_json",
        ),
        (
            "post",
            "/v1/activations",
            {"data": "[1, 2", "content_type": "application/json"},
            400,
            "malformed_json",
        ),
        (
            "post",
            "/v1/activations",
            {"data": b"\xff\xfe", "content_type": "application/json"},
            400,
            "malformed_json",
        ),
        (
            "post",
            "/v1/activations",
            {"data": "[" * 50000 + "]" * 50000, "content_type": "application/json"},
            400,
            "malformed_json",
        ),
        (
            "post",
            "/v1/activations",
            {
                "data": '{"area": ' + "[" * 30000 + "]" * 30000 + "}",
                "content_type": "application/json",
            },
            400,
            "malformed_json",
        ),
        ("post", "/v1/activations", {"json": []}, 422, "validation_error"),
        ("post", "/v1/activations", {"json": "text"}, 422, "validation_error"),
        (
            "post",
            "/v1/activations",
            {"data": "basis=x", "content_type": "application/x-www-form-urlencoded"},
            422,
            "validation_error",
        ),
        (
            "post",
            "/v1/activations",
            {"data": "x" * (3 * 1024 * 1024), "content_type": "application/json"},
            413,
            "payload_too_large",
        ),
        ("get", "/v1/activations/999999", {}, 404, "not_found"),
        ("get", "/v1/activations/99999999999999999999", {}, 404, "not_found"),
        ("get", "/v1/activations/-1", {}, 404, "not_found"),
        ("get", "/v1/activations/abc", {}, 404, "not_found"),
        ("get", "/v1/nothing", {}, 404, "not_found"),
        ("delete", "/v1/activations", {}, 405, "method_not_allowed"),
        ("put", "/v1/activations/1", {}, 405, "method_not_allowed"),
        ("get", "/v1/activations?limit=0", {}, 422, "validation_error"),
        ("get", "/v1/activations?limit=abc", {}, 422, "validation_error"),
        ("get", "/v1/activations?state=paused", {}, 422, "validation_error"),
        ("get", "/v1/activations?after_id=99999999999999999999999", {}, 422, "validation_error"),
        ("get", "/v1/activations?at=2026-01-01T00:00:00", {}, 422, "validation_error"),
        ("get", "/v1/activations?bogus=1", {}, 422, "validation_error"),
        ("get", "/v1/audit?since=yesterday", {}, 422, "validation_error"),
        ("get", "/v1/audit?action=%00", {}, 422, "validation_error"),
        ("get", "/v1/audit?organization_id=4294967296", {}, 422, "validation_error"),
        ("post", "/v1/activations/999999/end", {}, 404, "not_found"),
        ("post", "/v1/activations/1/end", {"json": {"reason": 5}}, 422, "validation_error"),
    ],
)
def test_errors_have_one_shape(
    client: FlaskClient, keys: Keys, case: tuple[str, str, dict[str, Any], int, str]
) -> None:
    method, path, kwargs, status, code = case
    response = getattr(client, method)(path, headers=keys.headers("admin"), **kwargs)
    assert_error(response, status, code)


def test_a_real_500_has_the_shape_and_no_internals(db: Connection, base_settings: Settings) -> None:
    app = create_app(base_settings, engine=db)

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("postgresql://gilmok:hunter2@db.internal/gilmok rtsp://cam:pw@10.0.0.9/")

    response = app.test_client().get("/boom")
    body = assert_error(response, 500, "internal_error")
    text = response.get_data(as_text=True)
    for secret in ("hunter2", "db.internal", "rtsp://", "RuntimeError", "Traceback"):
        assert secret not in text
    assert body["details"]["reference"] in body["message"]


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out.extend([sub, *_subclasses(sub)])
    return out


#: Errors never raised inside a request, and why.
NOT_HTTP = {"api.demo.DemoError": "the demo command's own failure, printed by the CLI"}


def test_every_domain_error_has_a_deliberate_status() -> None:
    """A new error class must be placed in api.errors.STATUS, not fall through to 500."""
    import api
    import geo

    # Every module loaded first, so the answer does not depend on what other tests imported.
    for package in (api, geo):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if module.name not in {"api.cli.__main__", "api.relay.camsim_server"}:
                importlib.import_module(module.name)  # camsim_server runs under the system Python
    for cls in _subclasses(ge.GilmokError):
        if f"{cls.__module__}.{cls.__name__}" in NOT_HTTP:
            continue
        assert cls in STATUS, f"{cls.__module__}.{cls.__name__} has no HTTP status in api.errors"
    assert status_of(ge.NoLegalBasis("x")) == 403
    assert status_of(ge.InvalidInput("x")) == 422


def test_domain_errors_map_once(client: FlaskClient, app: Flask) -> None:
    errors = {cls.__name__: cls for cls in _subclasses(ge.GilmokError)}  # the relay's too

    @app.get("/raise/<name>")
    def raise_(name: str) -> str:
        raise errors[name](f"{name} happened", details={"probe": True})

    client = app.test_client()
    for name, status, retry in [
        ("NoLegalBasis", 403, None),
        ("Forbidden", 403, None),
        ("Conflict", 409, None),
        ("NotFound", 404, None),
        ("OutsideCoverageArea", 422, None),
        ("RelayUnavailable", 503, "10"),
        ("DatabaseUnavailable", 503, "5"),
    ]:
        response = client.get(f"/raise/{name}")
        body = assert_error(response, status, errors[name].code)
        assert body["details"] == {"probe": True}
        assert response.headers.get("Retry-After") == retry
    config = client.get("/raise/ConfigurationError")
    body = assert_error(config, 500, "internal_error")
    assert "happened" not in body["message"]
