"""The audit trail as the API writes it (api/activations.py, api/keys.py through geo/store/audit.py).

The app runs on the test's rolled-back connection (``create_app(engine=db)``): every request
is a savepoint as the ``gilmok_app`` role, and nothing is left behind.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from api_world import (
    Keys,
    activation_body,
    create_activation,
    now,
)
from flask.testing import FlaskClient
from sqlalchemy.engine import Connection

from geo.store import audit

pytestmark = pytest.mark.db


def test_activations_and_keys_are_audited(client: FlaskClient, keys: Keys) -> None:
    created = create_activation(client, keys)
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
        f"/v1/audit?action=activation.created&since={now().isoformat().replace('+', '%2B')}",
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
        json=activation_body(ends_at=(now() + dt.timedelta(days=200)).isoformat()),
        headers=keys.headers("admin"),
    )
    assert response.status_code == 422
    assert audit.verify(db).records == before
