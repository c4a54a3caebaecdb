"""API keys and roles (api/auth.py, api/keys.py): who may call what.

The app runs on the test's rolled-back connection (``create_app(engine=db)``): every request
is a savepoint as the ``gilmok_app`` role, and nothing is left behind.
"""

from __future__ import annotations

import json

import pytest
from api_world import (
    ACTOR,
    Keys,
    activation_body,
    assert_error,
    create_activation,
)
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Connection

import geo.errors as ge
from api.auth import KEY_TTL_S, verified_keys
from api.keys import authenticate, hash_api_key, issue_api_key
from geo import domain
from geo.store import orgs

pytestmark = pytest.mark.db


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
    assert_error(response, 401, "unauthenticated")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_x_api_key_header_works_and_must_agree_with_bearer(client: FlaskClient, keys: Keys) -> None:
    key = keys.by_role["requester"]
    assert client.get("/v1/activations", headers={"X-API-Key": key}).status_code == 200
    both = {"X-API-Key": key, "Authorization": f"Bearer {keys.by_role['admin']}"}
    assert_error(client.get("/v1/activations", headers=both), 401, "unauthenticated")


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
    assert_error(client.get("/v1/audit", headers={"X-API-Key": key}), 401, "unauthenticated")


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
    created = client.post("/v1/activations", json=activation_body(), headers=headers)
    if role in CAN_ISSUE:
        assert created.status_code == 201, created.json
        activation_id = created.json["id"]
        assert created.headers["Location"].endswith(f"/v1/activations/{activation_id}")
    else:
        assert_error(created, 403, "forbidden")
        activation_id = create_activation(client, keys, "admin")["id"]

    listing = client.get("/v1/activations", headers=headers)
    one = client.get(f"/v1/activations/{activation_id}", headers=headers)
    if role in CAN_READ_ACTIVATIONS:
        assert listing.status_code == 200
        assert one.status_code == 200
    else:
        assert_error(listing, 403, "forbidden")
        assert_error(one, 403, "forbidden")

    ended = client.post(f"/v1/activations/{activation_id}/end", headers=headers)
    if role in CAN_ISSUE:
        assert ended.status_code == 200, ended.json
        assert ended.json["state"] == "ended"
    else:
        assert_error(ended, 403, "forbidden")

    for path in ("/v1/audit", "/v1/audit/verify"):
        response = client.get(path, headers=headers)
        if role in CAN_READ_AUDIT:
            assert response.status_code == 200, response.json
        else:
            body = assert_error(response, 403, "forbidden")
            assert body["details"]["role"] == role


def test_a_regional_centre_ends_only_its_own_activations(client: FlaskClient, keys: Keys) -> None:
    activation_id = create_activation(client, keys)["id"]
    other = {"X-API-Key": keys.other_regional}
    body = assert_error(
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
    assert client.post(
        "/v1/activations", json=activation_body(), headers=keys.headers("regional_centre")
    )
    busan = {
        "type": "Polygon",
        "coordinates": [
            [[129.0, 35.1], [129.1, 35.1], [129.1, 35.2], [129.0, 35.2], [129.0, 35.1]]
        ],
    }
    response = client.post(
        "/v1/activations", json=activation_body(area=busan), headers=keys.headers("regional_centre")
    )
    assert_error(response, 403, "forbidden")
