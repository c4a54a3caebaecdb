"""The API's foundation: app factory, OpenAPI, health, keys and roles, activations, audit, errors.

The app runs on the test's rolled-back connection (``create_app(engine=db)``): every request
is a savepoint as the ``gilmok_app`` role, and nothing is left behind.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from scratch_db import database_env, scratch_database
from sqlalchemy.engine import URL, Connection

import geo.errors as ge
from api import create_app
from api.auth import KEY_TTL_S, verified_keys
from api.cli import main
from api.errors import STATUS, status_of
from api.keys import authenticate, hash_api_key, issue_api_key
from geo import domain
from geo.admin_areas import admin_area
from geo.settings import Settings
from geo.store import activations, audit, orgs

pytestmark = pytest.mark.db

ERROR_KEYS = {"code", "message", "details"}
ACTOR = "test"

# Central Seoul (City Hall, Gwanghwamun, Jongno): an alert-level-2 area.
CENTRAL_SEOUL = {
    "type": "Polygon",
    "coordinates": [
        [[126.96, 37.555], [127.0, 37.555], [127.0, 37.58], [126.96, 37.58], [126.96, 37.555]]
    ],
}
CITY_HALL = (126.9780, 37.5665)
GANGNAM_STATION = (127.0276, 37.4979)


@dataclass
class Keys:
    by_role: dict[str, str]
    other_regional: str
    orgs: dict[str, int]

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.by_role[role]}"}


@pytest.fixture
def app(db: Connection, base_settings: Settings) -> Flask:
    return create_app(base_settings, engine=db)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def keys(db: Connection) -> Keys:
    made = {
        "admin": ("gilmok 운영", "admin"),
        "regional_centre": (orgs.REGIONAL_CENTRE, "regional_centre"),
        "municipal_centre": ("서울특별시 종로구청", "municipal_centre"),
        "requester": ("제56보병사단", "military_unit"),
        "planner": ("서울연구원", "planner"),
        "auditor": ("감사관실", "admin"),
    }
    by_role, ids = {}, {}
    for role, (name, kind) in made.items():
        org = orgs.create_organization(db, name=name, kind=kind, actor=ACTOR)
        ids[role] = org.id
        by_role[role] = issue_api_key(db, organization=name, role=role, actor=ACTOR)[1]
    chungcheong = orgs.create_organization(
        db, name="충청권 광역통합운영센터", kind="regional_centre", actor=ACTOR
    )
    other = issue_api_key(
        db, organization="충청권 광역통합운영센터", role="regional_centre", actor=ACTOR
    )[1]
    # Every centre serves real ground: the capital region's the pilot's, Chungcheong's its 시도.
    for org_id, sido, sigungu in (
        (ids["regional_centre"], ["서울특별시"], ["용인시"]),
        (ids["municipal_centre"], [], ["서울특별시 종로구"]),
        (chungcheong.id, ["대전광역시", "세종특별자치시", "충청북도", "충청남도"], []),
    ):
        made = admin_area(sido=sido, sigungu=sigungu)
        orgs.set_service_area(
            db,
            organization_id=org_id,
            area=made.area,
            source=orgs.admin_area_source(made.codes),
            actor=ACTOR,
        )
    return Keys(by_role, other, ids)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _body(**changes: Any) -> dict[str, Any]:
    body = {
        "basis": "alert_level_2",
        "reference": "수방사 경계태세 2급 발령 제2026-17호",
        "area": CENTRAL_SEOUL,
        "starts_at": (_now() - dt.timedelta(hours=1)).isoformat(),
        "ends_at": (_now() + dt.timedelta(days=2)).isoformat(),
    }
    body.update(changes)
    return body


def _create(client: FlaskClient, keys: Keys, role: str = "regional_centre", **changes: Any) -> Any:
    response = client.post("/v1/activations", json=_body(**changes), headers=keys.headers(role))
    assert response.status_code == 201, response.json
    return response.json


def _assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    body = response.json
    assert set(body) == ERROR_KEYS, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["details"], dict)
    return dict(body)


# --- the app, OpenAPI and health ------------------------------------------------------------


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
    body = _assert_error(response, 503, "database_unavailable")
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
    _assert_error(response, 503, "database_unavailable")
    assert response.headers["Retry-After"] == "5"


# --- keys and roles ---------------------------------------------------------------------------


def test_keys_are_stored_hashed_with_a_public_prefix(db: Connection, keys: Keys) -> None:
    from sqlalchemy import text

    key = keys.by_role["admin"]
    prefix = key.split("_")[1]
    row = db.execute(text("SELECT * FROM api_key WHERE prefix = :p"), {"p": prefix}).one()
    assert bytes(row.key_hash) == hash_api_key(key)
    assert key not in json.dumps([str(v) for v in row])
    caller = authenticate(db, key)
    assert caller is not None
    assert (caller.role, caller.organization_name) == ("admin", "gilmok 운영")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic Z2lsbW9rOmdpbG1vaw=="},
        {"Authorization": "Bearer "},
        {"Authorization": "Bearer gk_nothex00_" + "a" * 43},
        {"Authorization": "Bearer gk_00000000_" + "a" * 43},
        {"X-API-Key": "not-a-key"},
        {"Authorization": "Bearer gk_0000_\u00e9"},
    ],
)
def test_missing_or_invalid_keys_are_401(client: FlaskClient, keys: Keys, headers: dict) -> None:
    response = client.get("/v1/activations", headers=headers)
    _assert_error(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_x_api_key_header_works_and_must_agree_with_bearer(client: FlaskClient, keys: Keys) -> None:
    key = keys.by_role["requester"]
    assert client.get("/v1/activations", headers={"X-API-Key": key}).status_code == 200
    both = {"X-API-Key": key, "Authorization": f"Bearer {keys.by_role['admin']}"}
    _assert_error(client.get("/v1/activations", headers=both), 401, "unauthenticated")


def test_a_revoked_key_is_refused(
    app: Flask, client: FlaskClient, db: Connection, keys: Keys
) -> None:
    # A process trusts a key it verified for KEY_TTL_S seconds (tests/test_api_key_cache.py).
    now = [0.0]
    verified_keys(app).clock = lambda: now[0]
    key = keys.by_role["auditor"]
    assert client.get("/v1/audit", headers={"X-API-Key": key}).status_code == 200
    orgs.revoke_api_key(db, prefix=key.split("_")[1], actor=ACTOR)
    now[0] += KEY_TTL_S
    _assert_error(client.get("/v1/audit", headers={"X-API-Key": key}), 401, "unauthenticated")


@pytest.mark.parametrize(
    ("role", "kind", "ok"),
    [
        ("requester", "military_unit", True),
        ("requester", "municipal_centre", False),
        ("municipal_centre", "military_unit", False),
        ("admin", "police", False),
        ("planner", "municipal_centre", True),
        ("auditor", "regional_centre", True),
    ],
)
def test_roles_fit_organization_kinds(db: Connection, role: str, kind: str, ok: bool) -> None:
    orgs.create_organization(db, name="시험 기관", kind=kind, actor=ACTOR)
    if ok:
        issue_api_key(db, organization="시험 기관", role=role, actor=ACTOR)
    else:
        with pytest.raises(ge.InvalidInput, match="cannot belong"):
            issue_api_key(db, organization="시험 기관", role=role, actor=ACTOR)


# --- what each role may do --------------------------------------------------------------------

CAN_ISSUE = {"admin", "regional_centre"}
CAN_READ_ACTIVATIONS = {"admin", "auditor", "regional_centre", "municipal_centre", "requester"}
CAN_READ_AUDIT = {"admin", "auditor"}


@pytest.mark.parametrize("role", domain.ROLES)
def test_each_role_can_do_exactly_what_it_should(
    client: FlaskClient, keys: Keys, role: str
) -> None:
    headers = keys.headers(role)
    created = client.post("/v1/activations", json=_body(), headers=headers)
    if role in CAN_ISSUE:
        assert created.status_code == 201, created.json
        activation_id = created.json["id"]
        assert created.headers["Location"].endswith(f"/v1/activations/{activation_id}")
    else:
        _assert_error(created, 403, "forbidden")
        activation_id = _create(client, keys, "admin")["id"]

    listing = client.get("/v1/activations", headers=headers)
    one = client.get(f"/v1/activations/{activation_id}", headers=headers)
    if role in CAN_READ_ACTIVATIONS:
        assert listing.status_code == 200
        assert one.status_code == 200
    else:
        _assert_error(listing, 403, "forbidden")
        _assert_error(one, 403, "forbidden")

    ended = client.post(f"/v1/activations/{activation_id}/end", headers=headers)
    if role in CAN_ISSUE:
        assert ended.status_code == 200, ended.json
        assert ended.json["state"] == "ended"
    else:
        _assert_error(ended, 403, "forbidden")

    for path in ("/v1/audit", "/v1/audit/verify"):
        response = client.get(path, headers=headers)
        if role in CAN_READ_AUDIT:
            assert response.status_code == 200, response.json
        else:
            body = _assert_error(response, 403, "forbidden")
            assert body["details"]["role"] == role


def test_a_regional_centre_ends_only_its_own_activations(client: FlaskClient, keys: Keys) -> None:
    activation_id = _create(client, keys)["id"]
    other = {"X-API-Key": keys.other_regional}
    body = _assert_error(
        client.post(f"/v1/activations/{activation_id}/end", headers=other), 403, "forbidden"
    )
    assert body["details"]["issuer_id"] == keys.orgs["regional_centre"]
    by_admin = client.post(
        f"/v1/activations/{activation_id}/end",
        json={"reason": "상황 해제"},
        headers=keys.headers("admin"),
    )
    assert by_admin.status_code == 200
    assert by_admin.json["state"] == "ended"


def test_an_issuer_with_a_service_area_may_not_cover_ground_outside_it(
    client: FlaskClient, db: Connection, keys: Keys
) -> None:
    from sqlalchemy import text

    db.execute(
        text(
            "UPDATE organization SET service_area = ST_Multi(ST_Transform(ST_MakeEnvelope("
            "126.7, 37.4, 127.2, 37.7, 4326), 5179)) WHERE id = :id"
        ),
        {"id": keys.orgs["regional_centre"]},
    )
    assert client.post("/v1/activations", json=_body(), headers=keys.headers("regional_centre"))
    busan = {
        "type": "Polygon",
        "coordinates": [
            [[129.0, 35.1], [129.1, 35.1], [129.1, 35.2], [129.0, 35.2], [129.0, 35.1]]
        ],
    }
    response = client.post(
        "/v1/activations", json=_body(area=busan), headers=keys.headers("regional_centre")
    )
    _assert_error(response, 403, "forbidden")


# --- activations ------------------------------------------------------------------------------


def test_activation_lifecycle(client: FlaskClient, keys: Keys) -> None:
    created = _create(client, keys)
    assert created["basis"] == {
        "code": "alert_level_2",
        "ko": "경계태세 2급 이상",
        "en": "alert posture level 2 or higher",
    }
    assert created["issuer"]["name"] == orgs.REGIONAL_CENTRE
    assert created["state"] == "active"
    assert created["area"]["type"] == "MultiPolygon"
    ring = created["area"]["coordinates"][0][0]
    assert ring[0] == pytest.approx(CENTRAL_SEOUL["coordinates"][0][0], abs=1e-6)

    headers = keys.headers("requester")
    got = client.get(f"/v1/activations/{created['id']}", headers=headers).json
    assert got == created
    active = client.get("/v1/activations?state=active", headers=headers).json
    assert [a["id"] for a in active["items"]] == [created["id"]]

    end = client.post(
        f"/v1/activations/{created['id']}/end",
        json={"reason": "상황 종료"},
        headers=keys.headers("regional_centre"),
    )
    assert end.json["state"] == "ended"
    assert end.json["ended_at"] is not None
    again = client.post(
        f"/v1/activations/{created['id']}/end", headers=keys.headers("regional_centre")
    )
    _assert_error(again, 409, "conflict")
    assert client.get("/v1/activations?state=active", headers=headers).json["items"] == []
    ended = client.get("/v1/activations?state=ended", headers=headers).json["items"]
    assert [a["id"] for a in ended] == [created["id"]]


def test_activation_listing_pages(client: FlaskClient, keys: Keys) -> None:
    ids = [_create(client, keys)["id"] for _ in range(3)]
    headers = keys.headers("admin")
    first = client.get("/v1/activations?limit=2", headers=headers).json
    assert [a["id"] for a in first["items"]] == ids[:2]
    assert first["next_after_id"] == ids[1]
    rest = client.get(f"/v1/activations?limit=2&after_id={ids[1]}", headers=headers).json
    assert [a["id"] for a in rest["items"]] == ids[2:]
    assert rest["next_after_id"] is None


def test_active_activation_covering(client: FlaskClient, db: Connection, keys: Keys) -> None:
    now = _now()
    assert activations.active_activation_covering(db, CITY_HALL) is None
    later = _create(
        client,
        keys,
        starts_at=(now + dt.timedelta(days=1)).isoformat(),
        ends_at=(now + dt.timedelta(days=3)).isoformat(),
        basis="integrated_defence_drill",
    )
    assert later["state"] == "scheduled"
    assert activations.active_activation_covering(db, CITY_HALL) is None
    in_two_days = activations.active_activation_covering(db, CITY_HALL, now + dt.timedelta(days=2))
    assert in_two_days is not None
    assert in_two_days.id == later["id"]

    current = _create(client, keys)
    found = activations.active_activation_covering(db, CITY_HALL)
    assert found is not None
    assert (found.id, found.basis) == (current["id"], "alert_level_2")
    assert activations.active_activation_covering(db, GANGNAM_STATION) is None
    after_end = now + dt.timedelta(days=2, hours=1)
    assert activations.active_activation_covering(db, CITY_HALL, after_end).id == later["id"]

    client.post(f"/v1/activations/{current['id']}/end", headers=keys.headers("admin"))
    assert activations.active_activation_covering(db, CITY_HALL) is None


def test_require_activation_says_why_there_is_no_basis(
    client: FlaskClient, db: Connection, keys: Keys
) -> None:
    with pytest.raises(ge.NoLegalBasis, match="no legal basis is in force") as none:
        activations.require_activation(db, CITY_HALL)
    assert none.value.details["in_force_elsewhere"] == []
    created = _create(client, keys)
    assert activations.require_activation(db, CITY_HALL).id == created["id"]
    with pytest.raises(ge.NoLegalBasis, match="cover other areas") as elsewhere:
        activations.require_activation(db, GANGNAM_STATION)
    assert elsewhere.value.details["in_force_elsewhere"] == [
        {"id": created["id"], "basis": "alert_level_2", "reference": created["reference"]}
    ]


def _square(lon: float, lat: float, size: float) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [
            [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
        ],
    }


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"basis": "peacetime"}, "basis"),
        ({"basis": None}, "basis"),
        ({"reference": ""}, "reference"),
        ({"reference": "   "}, "reference"),
        ({"reference": "a\x00b"}, "reference"),
        ({"reference": "x" * 201}, "reference"),
        ({"reference": "\ud800"}, "reference"),
        ({"starts_at": "2026-01-01T09:00:00"}, "starts_at"),
        ({"starts_at": "tomorrow"}, "starts_at"),
        ({"ends_at": "2020-01-01T00:00:00+09:00"}, "ends_at"),
        ({"area": {"type": "Point", "coordinates": [127.0, 37.5]}}, "area"),
        ({"area": _square(37.5, 127.0, 0.01)}, "area"),  # lat/lon swapped
        ({"area": _square(139.7, 35.6, 0.05)}, "area"),  # Tokyo
        ({"area": _square(126.0, 34.0, 3.0)}, "area"),  # far too large
        ({"area": _square(127.0, 37.5, 0.00001)}, "area"),  # too small
        (
            {
                "area": {
                    "type": "Polygon",
                    "coordinates": [
                        [[127, 37.5], [127.1, 37.6], [127.1, 37.5], [127, 37.6], [127, 37.5]]
                    ],
                }
            },
            "area",
        ),  # bow tie
        (
            {
                "area": {
                    "type": "Polygon",
                    "coordinates": [[[127, 37.5], [127.1, 37.5], [127.1, 37.6]]],
                }
            },
            "area",
        ),
        (
            {
                "area": {
                    "type": "Polygon",
                    "coordinates": [[[127, 37.5], [127.1], [127.1, 37.6], [127, 37.5]]],
                }
            },
            "area",
        ),
        (
            {
                "area": {
                    "type": "Polygon",
                    "coordinates": [[["a", 37.5], [127.1, 37.5], [127.1, 37.6], [127, 37.5]]],
                }
            },
            "area",
        ),
        ({"area": {"type": "MultiPolygon", "coordinates": []}}, "area"),
        ({"area": "POLYGON((127 37.5, 127.1 37.5, 127.1 37.6, 127 37.5))"}, "area"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_invalid_activations_are_422_naming_the_field(
    client: FlaskClient, keys: Keys, changes: dict[str, Any], field: str
) -> None:
    response = client.post(
        "/v1/activations",
        data=json.dumps(_body(**changes)),  # ASCII-escaped: a lone surrogate survives
        content_type="application/json",
        headers=keys.headers("admin"),
    )
    body = _assert_error(response, 422, "validation_error")
    assert field in body["details"]["fields"]["json"], body


def test_nan_coordinates_are_422(client: FlaskClient, keys: Keys) -> None:
    text = json.dumps(_body()).replace("126.96, 37.555]", "NaN, 37.555]", 1)
    assert "NaN" in text
    response = client.post(
        "/v1/activations", data=text, content_type="application/json", headers=keys.headers("admin")
    )
    _assert_error(response, 422, "validation_error")


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"ends_at": (_now() + dt.timedelta(days=120)).isoformat()}, "at most 90 days"),
        (
            {
                "starts_at": (_now() - dt.timedelta(days=3)).isoformat(),
                "ends_at": (_now() - dt.timedelta(days=1)).isoformat(),
            },
            "in the past",
        ),
        (
            {
                "starts_at": (_now() + dt.timedelta(days=400)).isoformat(),
                "ends_at": (_now() + dt.timedelta(days=401)).isoformat(),
            },
            "days ahead",
        ),
    ],
)
def test_implausible_periods_are_422(
    client: FlaskClient, keys: Keys, changes: dict[str, Any], words: str
) -> None:
    response = client.post("/v1/activations", json=_body(**changes), headers=keys.headers("admin"))
    body = _assert_error(response, 422, "invalid_input")
    assert words in body["message"]


def test_end_before_start_is_422(client: FlaskClient, keys: Keys) -> None:
    body = _body()
    body["starts_at"], body["ends_at"] = body["ends_at"], body["starts_at"]
    response = client.post("/v1/activations", json=body, headers=keys.headers("admin"))
    assert (
        "ends_at" in _assert_error(response, 422, "validation_error")["details"]["fields"]["json"]
    )


# --- one error shape everywhere ---------------------------------------------------------------


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
    _assert_error(response, status, code)


def test_a_real_500_has_the_shape_and_no_internals(db: Connection, base_settings: Settings) -> None:
    app = create_app(base_settings, engine=db)

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("postgresql://gilmok:hunter2@db.internal/gilmok rtsp://cam:pw@10.0.0.9/")

    response = app.test_client().get("/boom")
    body = _assert_error(response, 500, "internal_error")
    text = response.get_data(as_text=True)
    for secret in ("hunter2", "db.internal", "rtsp://", "RuntimeError", "Traceback"):
        assert secret not in text
    assert body["details"]["reference"] in body["message"]


def _subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out.extend([sub, *_subclasses(sub)])
    return out


def test_every_domain_error_has_a_deliberate_status() -> None:
    """A new error class must be placed in api.errors.STATUS, not fall through to 500."""
    for cls in _subclasses(ge.GilmokError):
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
        body = _assert_error(response, status, errors[name].code)
        assert body["details"] == {"probe": True}
        assert response.headers.get("Retry-After") == retry
    config = client.get("/raise/ConfigurationError")
    body = _assert_error(config, 500, "internal_error")
    assert "happened" not in body["message"]


# --- audit through the API --------------------------------------------------------------------


def test_activations_and_keys_are_audited(client: FlaskClient, keys: Keys) -> None:
    created = _create(client, keys)
    client.post(
        f"/v1/activations/{created['id']}/end",
        json={"reason": "해제"},
        headers=keys.headers("admin"),
    )
    headers = keys.headers("auditor")
    records = client.get(
        f"/v1/audit?subject_type=activation&subject_id={created['id']}", headers=headers
    ).json["items"]
    assert [r["action"] for r in records] == ["activation.created", "activation.ended"]
    made, ended = records
    assert made["legal_basis"] == "alert_level_2"
    assert made["actor"] == "key:" + keys.by_role["regional_centre"].split("_")[1]
    assert made["organization_id"] == keys.orgs["regional_centre"]
    assert made["details"]["reference"] == created["reference"]
    assert ended["details"]["reason"] == "해제"
    assert ended["prev_hash"] == made["record_hash"]

    key_records = client.get("/v1/audit?action=api_key.created", headers=headers).json["items"]
    assert len(key_records) == 7
    assert all(keys.by_role["admin"] not in json.dumps(r) for r in key_records)
    since = client.get(
        f"/v1/audit?action=activation.created&since={_now().isoformat().replace('+', '%2B')}",
        headers=headers,
    ).json["items"]
    assert since == []

    check = client.get("/v1/audit/verify", headers=headers).json
    assert check["ok"] is True
    assert check["head_id"] == ended["id"]


def test_a_failed_request_leaves_no_audit_record(
    client: FlaskClient, db: Connection, keys: Keys
) -> None:
    before = audit.verify(db).records
    response = client.post(
        "/v1/activations",
        json=_body(ends_at=(_now() + dt.timedelta(days=200)).isoformat()),
        headers=keys.headers("admin"),
    )
    assert response.status_code == 422
    assert audit.verify(db).records == before


# --- organizations and the pilot --------------------------------------------------------------


def test_seed_pilot_creates_the_pilot_and_links_camera_owners(db: Connection) -> None:
    # As the CCTV and enforcement imports name them (municipal centres, no parent).
    for name in (
        "서울특별시 종로구청",
        "서울특별시 중구",
        "관악구청",
        "서울특별시 동대문경찰서",
        "부산광역시 중구",
        "중구청",
        "경기남부지방경찰청",
        "용인시 수지구청",
    ):
        orgs.create_organization(db, name=name, kind="municipal_centre", actor="import")
    first = orgs.seed_pilot(db, actor=ACTOR)
    assert set(first.created) == {name for name, _, _ in orgs.PILOT_ORGANIZATIONS}
    assert first.linked == {
        "서울특별시 종로구청": orgs.SEOUL_CENTRE,
        "서울특별시 중구": orgs.SEOUL_CENTRE,
        "관악구청": orgs.SEOUL_CENTRE,
        "서울특별시 동대문경찰서": orgs.SEOUL_CENTRE,
        "용인시 수지구청": orgs.YONGIN_CENTRE,
    }
    assert sorted(first.unlinked_owners) == sorted(
        ["부산광역시 중구", "중구청", "경기남부지방경찰청"]
    )
    by_name = {o.name: o for o in orgs.list_organizations(db)}
    assert by_name[orgs.SEOUL_CENTRE].parent_name == orgs.REGIONAL_CENTRE
    assert by_name[orgs.YONGIN_CENTRE].parent_name == orgs.REGIONAL_CENTRE
    assert by_name["제52보병사단"].parent_name == orgs.CAPITAL_DEFENSE_COMMAND
    assert by_name[orgs.REGIONAL_CENTRE].kind == "regional_centre"
    count = len(by_name)

    second = orgs.seed_pilot(db, actor=ACTOR)
    assert second.created == []
    assert second.linked == {}
    assert len(orgs.list_organizations(db)) == count
    assert audit.verify(db).ok


@pytest.fixture
def scratch_url(base_settings: Settings) -> Iterator[URL]:
    with scratch_database(base_settings.owner_database_url) as url:
        yield url


def test_orgs_cli(scratch_url: URL, base_settings: Settings) -> None:
    runner = CliRunner()
    env = database_env(scratch_url, base_settings)

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, list(args), env=env)
        assert result.exit_code == code, result.output
        return result.output

    assert "created  수도권 광역통합운영센터" in run("orgs", "seed-pilot")
    assert "7 present" in run("orgs", "seed-pilot")
    run("orgs", "create", "gilmok 운영", "--kind", "admin")
    run(
        "orgs",
        "create",
        "서울특별시 종로구청",
        "--kind",
        "municipal_centre",
        "--parent",
        orgs.SEOUL_CENTRE,
        "--auto-approve",
        "terrorism",
        "--auto-approve",
        "alert_level_2",
    )
    assert "exists already" in run("orgs", "create", "gilmok 운영", "--kind", "admin", code=1)
    assert "no organization" in run(
        "orgs", "create", "x", "--kind", "police", "--parent", "nope", code=1
    )
    key = run("orgs", "key", "제56보병사단", "--role", "requester").strip().splitlines()[-1]
    assert key.startswith("gk_")
    assert "cannot belong" in run("orgs", "key", "제56보병사단", "--role", "admin", code=1)
    listing = run("orgs", "list")
    assert "서울특별시 종로구청 <- 서울특별시 스마트도시통합운영센터" in listing
    assert "auto-approve: terrorism, alert_level_2" in listing
    assert "1 keys  제56보병사단" in listing
    run("orgs", "revoke-key", key.split("_")[1])
    assert "was revoked at" in run("orgs", "revoke-key", key.split("_")[1], code=1)
    assert "audit chain intact" in run("audit", "verify")
