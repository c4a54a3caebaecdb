"""Browser sessions (api.sessions, api.browser_sessions): sign in with a key, use the cookie,
CSRF on every state change, cross-site requests refused, sign-out, expiry, revoked keys, and
CORS for configured origins — on the Mapo world, through the real app and PostGIS.
"""

from __future__ import annotations

import datetime as dt
from http.cookies import SimpleCookie
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from mapo_world import MAPO_POINT, MapoWorld, mapo_fixtures
from sqlalchemy import text
from sqlalchemy.engine import Connection

from api import create_app
from api.browser_sessions import COOKIE_NAME, digest
from api.settings import Settings
from api.snapshot import snapshot_cache
from geo.store import orgs

pytestmark = pytest.mark.db

ERROR_KEYS = {"code", "message", "details"}
CONSOLE = "https://console.example.org"


world, db = mapo_fixtures()[:2]


def _app(db: Connection, world: MapoWorld, settings: Settings) -> Flask:
    app = create_app(settings, engine=db)
    snapshot_cache(app).install(world.snapshot)
    return app


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return base_settings.with_overrides(session_cookie_secure=False)


@pytest.fixture
def client(db: Connection, world: MapoWorld, settings: Settings) -> FlaskClient:
    return _app(db, world, settings).test_client()


def _sign_in(client: FlaskClient, world: MapoWorld, who: str) -> dict[str, Any]:
    response = client.post("/v1/session", json={"api_key": world.keys[who]})
    assert response.status_code == 200, response.json
    return dict(response.json)


def _set_cookie(response: Any) -> SimpleCookie:
    jar: SimpleCookie = SimpleCookie()
    for header in response.headers.getlist("Set-Cookie"):
        jar.load(header)
    return jar


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    assert set(response.json) == ERROR_KEYS
    assert response.json["code"] == code, response.json
    return dict(response.json)


def _audit(db: Connection, action: str) -> list[Any]:
    return list(
        db.execute(text("SELECT * FROM audit_record WHERE action = :a ORDER BY id"), {"a": action})
    )


# --- sign-in ----------------------------------------------------------------------------------


def test_sign_in_sets_an_httponly_strict_cookie_and_answers_who_and_the_csrf_token(
    client: FlaskClient, world: MapoWorld, db: Connection
) -> None:
    response = client.post("/v1/session", json={"api_key": world.keys["requester"]})
    assert response.status_code == 200
    body = response.json
    assert body["organization"] == {
        "id": world.orgs["requester"],
        "name": "제56보병사단",
        "kind": "military_unit",
    }
    assert body["role"] == "requester"
    assert len(body["csrf_token"]) >= 40
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert dt.timedelta(hours=11) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=12)
    morsel = _set_cookie(response)[COOKIE_NAME]
    raw = response.headers["Set-Cookie"]
    assert morsel["httponly"]
    assert morsel["path"] == "/"
    assert morsel["samesite"] == "Strict"
    assert "Secure" not in raw  # GILMOK_SESSION_COOKIE_SECURE=false: loopback http works
    assert response.headers["Cache-Control"] == "no-store"
    # The database holds only digests: neither the cookie's value nor the CSRF token.
    row = db.execute(text("SELECT * FROM browser_session ORDER BY id DESC LIMIT 1")).one()
    assert bytes(row.token_hash) == digest(morsel.value)
    assert bytes(row.csrf_hash) == digest(body["csrf_token"])
    stored = db.execute(text("SELECT row_to_json(s)::text FROM browser_session s")).scalars()
    assert not any(morsel.value in s or body["csrf_token"] in s for s in stored)
    opened = _audit(db, "session.opened")[-1]
    assert opened.organization_id == world.orgs["requester"]
    assert opened.details["role"] == "requester"
    # GET answers the same, the CSRF token included (a reloaded page gets it back).
    again = client.get("/v1/session")
    assert again.status_code == 200
    assert again.json == body


def test_the_cookie_is_secure_by_default(
    db: Connection, world: MapoWorld, base_settings: Settings
) -> None:
    client = _app(db, world, base_settings).test_client()
    response = client.post("/v1/session", json={"api_key": world.keys["auditor"]})
    assert response.status_code == 200
    assert _set_cookie(response)[COOKIE_NAME]["secure"]


@pytest.mark.parametrize(
    "key",
    [
        "gk_00000000_" + "A" * 43,  # well formed, unknown
        "not-a-key",
    ],
)
def test_a_wrong_key_is_401_in_the_one_error_shape_and_audited(
    client: FlaskClient, db: Connection, key: str
) -> None:
    before = len(_audit(db, "session.refused"))
    response = client.post("/v1/session", json={"api_key": key})
    _error(response, 401, "unauthenticated")
    assert "Set-Cookie" not in response.headers
    assert len(_audit(db, "session.refused")) == before + 1


def test_refused_sign_ins_are_rate_limited_per_address(
    db: Connection, world: MapoWorld, settings: Settings
) -> None:
    client = _app(db, world, settings.with_overrides(rate_limit_refused_logins="3/minute"))
    c = client.test_client()
    for _ in range(3):
        _error(
            c.post("/v1/session", json={"api_key": "gk_00000000_" + "B" * 43}),
            401,
            "unauthenticated",
        )
    limited = c.post("/v1/session", json={"api_key": "gk_00000000_" + "B" * 43})
    _error(limited, 429, "rate_limited")
    assert int(limited.headers["Retry-After"]) >= 1
    # The address is held back, even with a right key, until the window ends.
    _error(c.post("/v1/session", json={"api_key": world.keys["requester"]}), 429, "rate_limited")


def test_another_site_cannot_sign_a_browser_in(client: FlaskClient, world: MapoWorld) -> None:
    response = client.post(
        "/v1/session",
        json={"api_key": world.keys["requester"]},
        headers={"Origin": "https://evil.example"},
    )
    _error(response, 403, "csrf_failed")
    assert "Set-Cookie" not in response.headers
    same = client.post(
        "/v1/session",
        json={"api_key": world.keys["requester"]},
        headers={"Origin": "http://localhost"},
    )
    assert same.status_code == 200


def test_no_cookie_is_401(client: FlaskClient) -> None:
    _error(client.get("/v1/session"), 401, "unauthenticated")
    _error(client.get("/v1/incidents"), 401, "unauthenticated")


# --- the cookie as the key --------------------------------------------------------------------


def _incident_body() -> dict[str, Any]:
    lon, lat = MAPO_POINT
    return {"lon": lon, "lat": lat, "radius_m": 300}


def test_a_session_reads_and_writes_as_its_key_with_the_csrf_token(
    client: FlaskClient, world: MapoWorld
) -> None:
    csrf = _sign_in(client, world, "requester")["csrf_token"]
    assert client.get("/v1/incidents").status_code == 200
    refused = client.post("/v1/incidents", json=_incident_body())
    error = _error(refused, 403, "csrf_failed")
    assert error["details"] == {"header": "X-CSRF-Token"}
    _error(
        client.post("/v1/incidents", json=_incident_body(), headers={"X-CSRF-Token": "x" * 43}),
        403,
        "csrf_failed",
    )
    made = client.post("/v1/incidents", json=_incident_body(), headers={"X-CSRF-Token": csrf})
    assert made.status_code == 201, made.json
    listed = client.get("/v1/incidents").json["items"]
    assert made.json["id"] in [i["id"] for i in listed]


def test_an_api_key_request_needs_no_csrf_token(client: FlaskClient, world: MapoWorld) -> None:
    _sign_in(client, world, "requester")  # a cookie is present too; the key header wins
    made = client.post("/v1/incidents", json=_incident_body(), headers=world.headers("requester"))
    assert made.status_code == 201, made.json


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://localhost:8080"])
def test_a_cross_origin_state_change_is_refused_even_with_the_token(
    client: FlaskClient, world: MapoWorld, origin: str
) -> None:
    csrf = _sign_in(client, world, "requester")["csrf_token"]
    response = client.post(
        "/v1/incidents",
        json=_incident_body(),
        headers={"X-CSRF-Token": csrf, "Origin": origin},
    )
    error = _error(response, 403, "csrf_failed")
    assert error["details"] == {"origin": origin}


def test_a_cross_site_fetch_without_origin_is_refused(
    client: FlaskClient, world: MapoWorld
) -> None:
    csrf = _sign_in(client, world, "requester")["csrf_token"]
    response = client.post(
        "/v1/incidents",
        json=_incident_body(),
        headers={"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"},
    )
    _error(response, 403, "csrf_failed")


def test_the_servers_own_origin_may_change_state(client: FlaskClient, world: MapoWorld) -> None:
    csrf = _sign_in(client, world, "requester")["csrf_token"]
    response = client.post(
        "/v1/incidents",
        json=_incident_body(),
        headers={
            "X-CSRF-Token": csrf,
            "Origin": "http://localhost",
            "Sec-Fetch-Site": "same-origin",
        },
    )
    assert response.status_code == 201, response.json


def test_a_requester_session_cannot_call_an_approver_endpoint(
    client: FlaskClient, world: MapoWorld
) -> None:
    csrf = _sign_in(client, world, "requester")["csrf_token"]
    response = client.post("/v1/feed-requests/1/approve", json={}, headers={"X-CSRF-Token": csrf})
    error = _error(response, 403, "forbidden")
    assert error["details"]["role"] == "requester"
    assert error["details"]["allowed_roles"] == ["municipal_centre"]


# --- the end of a session ---------------------------------------------------------------------


def test_sign_out_needs_the_token_ends_the_session_and_clears_the_cookie(
    client: FlaskClient, world: MapoWorld, db: Connection
) -> None:
    csrf = _sign_in(client, world, "municipal_centre")["csrf_token"]
    cookie = client.get_cookie(COOKIE_NAME)
    assert cookie is not None
    _error(client.delete("/v1/session"), 403, "csrf_failed")
    out = client.delete("/v1/session", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    assert _set_cookie(out)[COOKIE_NAME].value == ""
    assert client.get_cookie(COOKIE_NAME) is None
    ended = _audit(db, "session.ended")[-1]
    assert ended.organization_id == world.orgs["municipal_centre"]
    assert ended.details["reason"] == "signed out"
    # The old cookie no longer works, even sent again by hand.
    client.set_cookie(COOKIE_NAME, cookie.value)
    _error(client.get("/v1/session"), 401, "unauthenticated")
    _error(client.get("/v1/feed-requests"), 401, "unauthenticated")
    # Signing out is idempotent: an ended session, or none, has nothing left to end.
    assert client.delete("/v1/session").status_code == 204
    client.delete_cookie(COOKIE_NAME)
    assert client.delete("/v1/session").status_code == 204
    assert len(_audit(db, "session.ended")) == 1


@pytest.mark.parametrize(
    "ageing",
    [
        "UPDATE browser_session SET expires_at = now() - interval '1 second'",
        "UPDATE browser_session SET last_seen_at = now() - interval '31 minutes'",
    ],
    ids=["absolute-end", "idle"],
)
def test_a_session_past_its_end_or_idle_too_long_is_401(
    client: FlaskClient, world: MapoWorld, db: Connection, ageing: str
) -> None:
    _sign_in(client, world, "requester")
    assert client.get("/v1/incidents").status_code == 200
    db.execute(text(ageing))
    _error(client.get("/v1/incidents"), 401, "unauthenticated")
    _error(client.get("/v1/session"), 401, "unauthenticated")


def test_use_keeps_a_session_alive(client: FlaskClient, world: MapoWorld, db: Connection) -> None:
    _sign_in(client, world, "requester")
    db.execute(text("UPDATE browser_session SET last_seen_at = now() - interval '29 minutes'"))
    assert client.get("/v1/incidents").status_code == 200
    seen = db.execute(text("SELECT now() - max(last_seen_at) FROM browser_session")).scalar_one()
    assert seen < dt.timedelta(seconds=5)


def test_revoking_the_key_ends_its_sessions(
    client: FlaskClient, world: MapoWorld, db: Connection
) -> None:
    _sign_in(client, world, "other_requester")
    assert client.get("/v1/incidents").status_code == 200
    prefix = world.keys["other_requester"].split("_")[1]
    orgs.revoke_api_key(db, prefix=prefix, actor="test")
    _error(client.get("/v1/incidents"), 401, "unauthenticated")
    _error(client.get("/v1/session"), 401, "unauthenticated")


def test_signing_in_again_ends_the_previous_session(
    client: FlaskClient, world: MapoWorld, db: Connection
) -> None:
    _sign_in(client, world, "requester")
    first = client.get_cookie(COOKIE_NAME)
    assert first is not None
    _sign_in(client, world, "requester")
    assert client.get_cookie(COOKIE_NAME).value != first.value  # type: ignore[union-attr]
    live = db.execute(text("SELECT count(*) FROM browser_session WHERE ended_at IS NULL"))
    assert live.scalar_one() == 1


# --- CORS -------------------------------------------------------------------------------------


def test_cors_is_off_by_default(client: FlaskClient) -> None:
    response = client.options(
        "/v1/session",
        headers={"Origin": CONSOLE, "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in response.headers


def test_a_listed_origin_gets_preflights_and_credentials(
    db: Connection, world: MapoWorld, settings: Settings
) -> None:
    app = _app(db, world, settings.with_overrides(cors_origins=(CONSOLE,)))
    client = app.test_client()
    preflight = client.options(
        "/v1/incidents",
        headers={
            "Origin": CONSOLE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-csrf-token",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == CONSOLE
    assert preflight.headers["Access-Control-Allow-Credentials"] == "true"
    allowed = preflight.headers["Access-Control-Allow-Headers"].lower()
    assert "x-csrf-token" in allowed
    assert "content-type" in allowed
    other = client.options(
        "/v1/incidents",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in other.headers
    # The listed origin's page may sign in and change state with the token.
    signed = client.post(
        "/v1/session", json={"api_key": world.keys["requester"]}, headers={"Origin": CONSOLE}
    )
    assert signed.headers["Access-Control-Allow-Origin"] == CONSOLE
    made = client.post(
        "/v1/incidents",
        json=_incident_body(),
        headers={"Origin": CONSOLE, "X-CSRF-Token": signed.json["csrf_token"]},
    )
    assert made.status_code == 201, made.json
    # An error answer carries the CORS headers too, so that the page can read why.
    refused = client.post("/v1/incidents", json=_incident_body(), headers={"Origin": CONSOLE})
    assert refused.status_code == 403
    assert refused.headers["Access-Control-Allow-Origin"] == CONSOLE


def test_the_openapi_document_names_the_session_cookie(client: FlaskClient) -> None:
    doc = client.get("/openapi.json").json
    schemes = doc["components"]["securitySchemes"]
    assert schemes["sessionCookie"] == {
        "type": "apiKey",
        "in": "cookie",
        "name": COOKIE_NAME,
        "description": schemes["sessionCookie"]["description"],
    }
    sign_in = doc["paths"]["/v1/session"]["post"]
    assert sign_in["security"] == []
    assert {"200", "401", "429"} <= set(sign_in["responses"])
    assert {"sessionCookie": []} in doc["paths"]["/v1/incidents"]["get"]["security"]
