"""The app factory (api/__init__.py), its OpenAPI document and the health endpoint (api/health.py).

The app runs on the test's rolled-back connection (``create_app(engine=db)``): every request
is a savepoint as the ``gilmok_app`` role, and nothing is left behind.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from api_world import (
    ERROR_KEYS,
    assert_error,
)
from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from api.settings import Settings
from geo import domain

pytestmark = pytest.mark.db


def test_importing_api_builds_nothing() -> None:
    import api

    assert not hasattr(api, "app")


def test_openapi_document_is_generated_and_consistent(client: FlaskClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    doc = response.json
    assert doc["openapi"] == "3.0.3"
    assert {"/healthz", "/v1/activations", "/v1/activations/{activation_id}", "/v1/audit"} <= set(
        doc["paths"]
    )
    assert set(doc["components"]["securitySchemes"]) == {
        "bearerAuth",
        "apiKeyHeader",
        "sessionCookie",
        "platformKey",
        "platformSecret",
    }
    error = doc["components"]["schemas"]["Error"]
    assert set(error["properties"]) == ERROR_KEYS
    # Every $ref resolves inside the document.
    text = json.dumps(doc)

    def resolve(ref: str) -> Any:
        node = doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return node

    refs = {
        word.strip('"')
        for word in text.replace(",", " ").replace("}", " ").split()
        if word.startswith('"#/')
    }
    assert refs
    for ref in refs:
        resolve(ref)
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert {"200", "201", "204"} & set(operation["responses"]), path
            # Signing in and out take no key (the session's own doc states what they take).
            if path.startswith("/v1/") and path != "/v1/session":
                assert operation["security"], (path, method)
                assert set(operation["x-gilmok-roles"]) <= set(domain.ROLES)
                assert {"401", "403"} <= set(operation["responses"]), (path, method)
    post = doc["paths"]["/v1/activations"]["post"]
    assert post["x-gilmok-roles"] == ["admin", "regional_centre"]
    body = post["requestBody"]["content"]["application/json"]["schema"]
    schema = resolve(body["$ref"]) if "$ref" in body else body
    assert schema["properties"]["basis"]["enum"] == list(domain.LEGAL_BASES)
    assert len(schema["properties"]["area"]["oneOf"]) == 2


def test_health_reports_database_and_an_unconfigured_relay(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["relay"]["status"] == "not_configured"
    assert body["status"] == "degraded"


@pytest.mark.parametrize(("up", "status"), [(True, "ok"), (False, "degraded")])
def test_health_reports_a_wired_relay(app: Flask, up: bool, status: str) -> None:
    @dataclass
    class Health:
        up: bool
        backend: str = "janus"
        detail: str = "Janus 1.1.2"

    class FakeRelay:
        def health(self) -> Health:
            return Health(up)

    app.extensions["gilmok"].relay = FakeRelay()
    body = app.test_client().get("/healthz").json
    assert body["checks"]["relay"]["status"] == ("ok" if up else "down")
    assert body["status"] == status


def test_health_without_a_database_is_503_in_the_error_shape(base_settings: Settings) -> None:
    settings = base_settings.with_overrides(
        database_url=base_settings.database_url.set(port=1, password="s3cret-pw")
    )
    response = create_app(settings).test_client().get("/healthz")
    body = assert_error(response, 503, "database_unavailable")
    assert response.headers["Retry-After"] == "5"
    assert body["details"]["checks"]["database"]["status"] == "down"
    text = response.get_data(as_text=True)
    assert "s3cret-pw" not in text
    assert "127.0.0.1" not in text


def test_every_request_fails_cleanly_without_a_database(base_settings: Settings) -> None:
    settings = base_settings.with_overrides(database_url=base_settings.database_url.set(port=1))
    response = (
        create_app(settings)
        .test_client()
        .get("/v1/activations", headers={"X-API-Key": "gk_00000000_" + "a" * 43})
    )
    assert_error(response, 503, "database_unavailable")
    assert response.headers["Retry-After"] == "5"
