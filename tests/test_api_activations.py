"""The activations endpoints (api/activations.py): lifecycle, listing, the legal basis, validation.

The app runs on the test's rolled-back connection (``create_app(engine=db)``): every request
is a savepoint as the ``gilmok_app`` role, and nothing is left behind.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from api_world import (
    CENTRAL_SEOUL,
    CITY_HALL,
    GANGNAM_STATION,
    Keys,
    activation_body,
    assert_error,
    create_activation,
    now,
)
from flask.testing import FlaskClient
from sqlalchemy.engine import Connection

import geo.errors as ge
from geo.store import activations, orgs

pytestmark = pytest.mark.db


def test_activation_lifecycle(client: FlaskClient, keys: Keys) -> None:
    created = create_activation(client, keys)
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
    assert_error(again, 409, "conflict")
    assert client.get("/v1/activations?state=active", headers=headers).json["items"] == []
    ended = client.get("/v1/activations?state=ended", headers=headers).json["items"]
    assert [a["id"] for a in ended] == [created["id"]]


def test_activation_listing_pages(client: FlaskClient, keys: Keys) -> None:
    ids = [create_activation(client, keys)["id"] for _ in range(3)]
    headers = keys.headers("admin")
    first = client.get("/v1/activations?limit=2", headers=headers).json
    assert [a["id"] for a in first["items"]] == ids[:2]
    assert first["next_after_id"] == ids[1]
    rest = client.get(f"/v1/activations?limit=2&after_id={ids[1]}", headers=headers).json
    assert [a["id"] for a in rest["items"]] == ids[2:]
    assert rest["next_after_id"] is None


def test_active_activation_covering(client: FlaskClient, db: Connection, keys: Keys) -> None:
    at = now()
    assert activations.active_activation_covering(db, CITY_HALL) is None
    later = create_activation(
        client,
        keys,
        starts_at=(at + dt.timedelta(days=1)).isoformat(),
        ends_at=(at + dt.timedelta(days=3)).isoformat(),
        basis="integrated_defence_drill",
    )
    assert later["state"] == "scheduled"
    assert activations.active_activation_covering(db, CITY_HALL) is None
    in_two_days = activations.active_activation_covering(db, CITY_HALL, at + dt.timedelta(days=2))
    assert in_two_days is not None
    assert in_two_days.id == later["id"]

    current = create_activation(client, keys)
    found = activations.active_activation_covering(db, CITY_HALL)
    assert found is not None
    assert (found.id, found.basis) == (current["id"], "alert_level_2")
    assert activations.active_activation_covering(db, GANGNAM_STATION) is None
    after_end = at + dt.timedelta(days=2, hours=1)
    assert activations.active_activation_covering(db, CITY_HALL, after_end).id == later["id"]

    client.post(f"/v1/activations/{current['id']}/end", headers=keys.headers("admin"))
    assert activations.active_activation_covering(db, CITY_HALL) is None


def test_require_activation_says_why_there_is_no_basis(
    client: FlaskClient, db: Connection, keys: Keys
) -> None:
    with pytest.raises(ge.NoLegalBasis, match="no legal basis is in force") as none:
        activations.require_activation(db, CITY_HALL)
    assert none.value.details["in_force_elsewhere"] == []
    created = create_activation(client, keys)
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
        data=json.dumps(activation_body(**changes)),  # ASCII-escaped: a lone surrogate survives
        content_type="application/json",
        headers=keys.headers("admin"),
    )
    body = assert_error(response, 422, "validation_error")
    assert field in body["details"]["fields"]["json"], body


def test_nan_coordinates_are_422(client: FlaskClient, keys: Keys) -> None:
    text = json.dumps(activation_body()).replace("126.96, 37.555]", "NaN, 37.555]", 1)
    assert "NaN" in text
    response = client.post(
        "/v1/activations", data=text, content_type="application/json", headers=keys.headers("admin")
    )
    assert_error(response, 422, "validation_error")


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"ends_at": (now() + dt.timedelta(days=120)).isoformat()}, "at most 90 days"),
        (
            {
                "starts_at": (now() - dt.timedelta(days=3)).isoformat(),
                "ends_at": (now() - dt.timedelta(days=1)).isoformat(),
            },
            "in the past",
        ),
        (
            {
                "starts_at": (now() + dt.timedelta(days=400)).isoformat(),
                "ends_at": (now() + dt.timedelta(days=401)).isoformat(),
            },
            "days ahead",
        ),
    ],
)
def test_implausible_periods_are_422(
    client: FlaskClient, keys: Keys, changes: dict[str, Any], words: str
) -> None:
    response = client.post(
        "/v1/activations", json=activation_body(**changes), headers=keys.headers("admin")
    )
    body = assert_error(response, 422, "invalid_input")
    assert words in body["message"]


def test_end_before_start_is_422(client: FlaskClient, keys: Keys) -> None:
    body = activation_body()
    body["starts_at"], body["ends_at"] = body["ends_at"], body["starts_at"]
    response = client.post("/v1/activations", json=body, headers=keys.headers("admin"))
    assert "ends_at" in assert_error(response, 422, "validation_error")["details"]["fields"]["json"]
