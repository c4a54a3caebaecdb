"""Input the API must refuse with a 4xx, on every endpoint, and never answer with a 500.

- strings no text column can hold: an unpaired surrogate in a JSON body (``{"\\ud800": 1}``,
  legal JSON escapes), a NUL in a path or query value or in a body string;
- lenient parses: ``601.5`` read as 601, ``"601"`` or ``"1"`` as numbers, a single-valued query
  parameter given twice;
- another organization's incident or feed request, which must be answered exactly as one that
  does not exist;
- and the log line of a 500, which must name its real cause.

The sweeps run over the app's own url_map, with a key of a role each operation allows (from
``x-gilmok-roles`` in /openapi.json), so that a new endpoint is swept without a new test.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from mapo_world import MAPO_AREA, MAPO_POINT, MapoWorld, mapo_fixtures

from api import create_app
from api.settings import Settings, load_settings

pytestmark = pytest.mark.db

ERROR_KEYS = {"code", "message", "details"}
MISSING_ID = 987654


def _rules(method: str) -> list[tuple[str, str]]:
    """(rule, OpenAPI path) of every route of the app answering ``method`` (no database used)."""
    app = create_app(load_settings())
    out = []
    for rule in app.url_map.iter_rules():
        # The console's page and bundle are HTML and files, not the API (tests/test_console.py).
        if method in (rule.methods or ()) and rule.endpoint.split(".")[0] not in (
            "static",
            "console",
        ):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            out.append((rule.rule, path))
    return sorted(out)


POST_RULES = _rules("POST")
GET_RULES = [r for r in _rules("GET") if not r[0].startswith("/openapi")]


world, db, app, client = mapo_fixtures()


@pytest.fixture(scope="module")
def openapi(world: MapoWorld, base_settings: Settings) -> dict[str, Any]:
    doc: dict[str, Any] = (
        create_app(base_settings, engine=world.conn).test_client().get("/openapi.json").json
    )
    return doc


def _headers(world: MapoWorld, openapi: dict[str, Any], path: str, method: str) -> dict[str, str]:
    """A key of the first role the operation allows (none for /healthz)."""
    roles = openapi["paths"][path][method].get("x-gilmok-roles")
    return world.headers(roles[0]) if roles else {}


def _url(rule: str, string_value: str) -> str:
    """``rule`` with a missing id for each integer parameter and ``string_value`` for others."""
    url = re.sub(r"<int:\w+>", str(MISSING_ID), rule)
    return re.sub(r"<(?:string:)?\w+>", string_value, url)


def _error(response: Any, statuses: tuple[int, ...]) -> dict[str, Any]:
    text = response.get_data(as_text=True)
    assert response.status_code in statuses, (response.status_code, text[:500])
    assert response.is_json, text[:200]
    assert set(response.json) == ERROR_KEYS, response.json
    return dict(response.json)


# --- strings no text column can hold ----------------------------------------------------------

UNSTORABLE_BODIES = [
    pytest.param('{"\\ud800": 1}', id="surrogate-key"),
    pytest.param('{"reason": "\\udfff", "camera_ids": ["\\ud83d"]}', id="surrogate-values"),
    pytest.param('{"note": "a\\u0000b", "reason": "\\u0000"}', id="nul-values"),
    pytest.param('{"area": {"type": "\\u0000\\ud800"}}', id="nested"),
]


@pytest.mark.parametrize("body", UNSTORABLE_BODIES)
@pytest.mark.parametrize(("rule", "path"), POST_RULES, ids=[r for r, _ in POST_RULES])
def test_unstorable_strings_in_a_json_body_are_422_on_every_post(
    client: FlaskClient, world: MapoWorld, openapi: dict[str, Any], rule: str, path: str, body: str
) -> None:
    response = client.post(
        _url(rule, "x"),
        data=body,
        content_type="application/json",
        headers=_headers(world, openapi, path, "post"),
    )
    # Endpoints that read no body answer as they would without one: never a 500.
    error = _error(response, (400, 404, 409, 422))
    if "application/json" in openapi["paths"][path]["post"].get("requestBody", {}).get(
        "content", {}
    ):  # a CSV upload reads the body as a file: JSON is not a survey (422 import_file_error)
        assert response.status_code == 422, error
        assert error["code"] == "validation_error"
        assert "NUL characters or unpaired UTF-16 surrogates" in error["message"]


def test_a_lone_surrogate_is_named_escaped(client: FlaskClient, world: MapoWorld) -> None:
    response = client.post(
        "/v1/activations",
        data='{"\\ud800": 1}',
        content_type="application/json",
        headers=world.headers("regional_centre"),
    )
    error = _error(response, (422,))
    assert error["details"]["fields"] == {
        "json": {"\\ud800": ["must not contain NUL characters or unpaired UTF-16 surrogates"]}
    }
    response.get_data().decode("utf-8")  # the body is UTF-8


@pytest.mark.parametrize(("rule", "path"), GET_RULES, ids=[r for r, _ in GET_RULES])
def test_nul_in_path_and_query_is_422_on_every_get(
    client: FlaskClient, world: MapoWorld, openapi: dict[str, Any], rule: str, path: str
) -> None:
    headers = _headers(world, openapi, path, "get")
    params = [p["name"] for p in openapi["paths"][path]["get"].get("parameters", [])
              if p["in"] == "query"]  # fmt: skip
    for name in [*params, "unknown\x00"]:
        response = client.get(_url(rule, "x"), query_string={name: "a\x00b"}, headers=headers)
        error = _error(response, (422,))
        assert error["code"] == "validation_error"
    if "<string:" in rule or re.search(r"<\w+>", rule):
        response = client.get(_url(rule, "%00"), headers=headers)
        error = _error(response, (422,))
        assert error["details"]["fields"]["path"], error


def test_nul_in_a_drill_name_is_422(client: FlaskClient, world: MapoWorld) -> None:
    response = client.get("/v1/drills/%00", headers=world.headers("planner"))
    error = _error(response, (422,))
    assert error["details"]["fields"] == {
        "path": {"name": ["must not contain NUL characters or unpaired UTF-16 surrogates"]}
    }


# --- lenient parses ---------------------------------------------------------------------------

LENIENT = [
    pytest.param("/v1/incidents/987654/feeds", {"camera_ids": [601.5]}, "camera_ids", id="601.5"),
    pytest.param("/v1/incidents/987654/feeds", {"camera_ids": [601.0]}, "camera_ids", id="601.0"),
    pytest.param("/v1/incidents/987654/feeds", {"camera_ids": ["601"]}, "camera_ids", id="'601'"),
    pytest.param("/v1/incidents/987654/feeds", {"best": "1"}, "best", id="best-'1'"),
    pytest.param("/v1/incidents/987654/feeds", {"best": 1.0}, "best", id="best-1.0"),
    pytest.param("/v1/incidents", {"lon": "126.9555", "lat": 37.5455}, "lon", id="lon-string"),
    pytest.param(
        "/v1/incidents",
        {"lon": 126.9555, "lat": 37.5455, "radius_m": "300"},
        "radius_m",
        id="radius-string",
    ),
]


@pytest.mark.parametrize(("url", "body", "field"), LENIENT)
def test_numbers_in_json_bodies_are_json_numbers(
    client: FlaskClient, world: MapoWorld, url: str, body: dict[str, Any], field: str
) -> None:
    response = client.post(url, json=body, headers=world.headers("requester"))
    error = _error(response, (422,))
    assert error["code"] == "validation_error"
    assert field in error["details"]["fields"]["json"], error


BBOX = "126.95,37.54,126.96,37.55"
DUPLICATED = [
    ("/v1/activations?limit=5&limit=6", "requester", "limit"),
    ("/v1/audit?limit=5&limit=6", "auditor", "limit"),
    ("/v1/audit?action=a&action=b", "auditor", "action"),
    (f"/v1/cameras?bbox={BBOX}&bbox=126,37,126.1,37.1", "planner", "bbox"),
    (f"/v1/coverage?bbox={BBOX}&limit=1&limit=1", "planner", "limit"),
    ("/v1/approaches?lon=126.9555&lat=37.5455&lat=37.5456", "planner", "lat"),
]


@pytest.mark.parametrize(("url", "who", "name"), DUPLICATED)
def test_a_single_valued_query_parameter_given_twice_is_422(
    client: FlaskClient, world: MapoWorld, url: str, who: str, name: str
) -> None:
    error = _error(client.get(url, headers=world.headers(who)), (422,))
    assert error["details"]["fields"]["query"] == {name: ["given 2 times; give it once"]}


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/v1/activations?limit=5", 200),
        ("/v1/activations?limit=%2B5&after_id=0", 200),
        ("/v1/activations?limit=5.0", 422),
        ("/v1/activations?limit=5x", 422),
        ("/v1/activations?limit=", 422),
        ("/v1/approaches?lon=126.9555&lat=37.5455&radius_m=300", 200),
        ("/v1/approaches?lon=126.9555&lat=37.5455&minutes=1.5&speed_kmh=20", 200),
        ("/v1/approaches?lon=126.9555&lat=37.5455&radius_m=3e2", 200),
        ("/v1/approaches?lon=126.9555&lat=37.5455&radius_m=nan", 422),
        ("/v1/approaches?lon=126.9555&lat=37.5455&radius_m=inf", 422),
        ("/v1/approaches?lon=0x7e&lat=37.5455", 422),
    ],
)
def test_query_strings_are_decoded_strictly(
    client: FlaskClient, world: MapoWorld, url: str, status: int
) -> None:
    response = client.get(url, headers=world.headers("requester"))
    assert response.status_code == status, response.get_data(as_text=True)[:300]


# --- another organization's incident and feed requests ----------------------------------------


def _normalised(response: Any, object_id: int) -> tuple[int, str, str]:
    """Status, content type and body with the id written as {id}: equal for equal answers."""
    body = json.dumps(response.json, sort_keys=True, ensure_ascii=False)
    return response.status_code, response.content_type, body.replace(str(object_id), "{id}")


def test_another_organizations_incident_is_answered_as_a_missing_one(
    client: FlaskClient, world: MapoWorld
) -> None:
    lon, lat = MAPO_POINT
    now = dt.datetime.now(dt.UTC)
    created = client.post(
        "/v1/activations",
        json={
            "basis": "alert_level_2",
            "reference": "경계태세 2급 제2026-99호",
            "area": MAPO_AREA,
            "starts_at": (now - dt.timedelta(hours=1)).isoformat(),
            "ends_at": (now + dt.timedelta(days=1)).isoformat(),
        },
        headers=world.headers("regional_centre"),
    )
    assert created.status_code == 201, created.json
    incident = client.post(
        "/v1/incidents",
        json={"lon": lon, "lat": lat, "radius_m": 400, "mode": "euclidean"},
        headers=world.headers("requester"),
    )
    assert incident.status_code == 201, incident.json
    iid = incident.json["id"]
    bbox = f"{lon - 0.003},{lat - 0.003},{lon + 0.003},{lat + 0.003}"
    near = client.get(f"/v1/cameras?bbox={bbox}", headers=world.headers("planner")).json
    camera = near["features"][0]["id"]
    feeds = client.post(
        f"/v1/incidents/{iid}/feeds", json={"camera_ids": [camera]},
        headers=world.headers("requester"),
    )  # fmt: skip
    assert feeds.status_code == 201, feeds.json
    rid = feeds.json["items"][0]["id"]

    calls: list[tuple[str, str, str, int]] = [
        (who, "GET", url, iid)
        for who in ("other_requester", "other_municipal")
        for url in ("/v1/incidents/{}", "/v1/incidents/{}/feeds", "/v1/incidents/{}/control-points")
    ]
    calls += [
        ("other_requester", "POST", "/v1/incidents/{}/feeds", iid),
        ("other_requester", "POST", "/v1/incidents/{}/close", iid),
        ("other_requester", "POST", "/v1/feed-requests/{}/credential", rid),
        ("other_municipal", "POST", "/v1/feed-requests/{}/approve", rid),
        ("other_municipal", "POST", "/v1/feed-requests/{}/deny", rid),
    ]
    for who, method, url, object_id in calls:
        body = {"best": 1} if url.endswith("/feeds") and method == "POST" else None
        kwargs: dict[str, Any] = {"headers": world.headers(who), "json": body}
        theirs = client.open(url.format(object_id), method=method, **kwargs)
        missing = client.open(url.format(MISSING_ID), method=method, **kwargs)
        assert theirs.status_code == 404, (who, method, url, theirs.json)
        assert _normalised(theirs, object_id) == _normalised(missing, MISSING_ID), (who, url)
    # Those it concerns still see it.
    for who in ("requester", "municipal_centre", "regional_centre", "admin", "auditor"):
        assert client.get(f"/v1/incidents/{iid}", headers=world.headers(who)).status_code == 200


# --- the log line of a 500 --------------------------------------------------------------------


def test_a_500_is_logged_with_its_cause_request_and_endpoint(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> str:
        raise LookupError("the index of district 7 is missing")

    app.add_url_rule("/v1/broken", "broken", broken)
    with caplog.at_level(logging.ERROR, logger="gilmok.api"):
        response = app.test_client().get("/v1/broken")
    error = _error(response, (500,))
    assert "district 7" not in json.dumps(error)
    reference = error["details"]["reference"]
    [record] = [r for r in caplog.records if reference in r.getMessage()]
    line = record.getMessage()
    assert "LookupError: the index of district 7 is missing" in line
    assert "GET /v1/broken" in line
    assert "endpoint broken" in line


@pytest.mark.parametrize(
    ("path", "role"),
    [
        (
            f"/v1/activations?after_id={2**63 - 2}&issuer_id={2**31 - 1}&state=all",
            "regional_centre",
        ),
        (f"/v1/activations?after_id={2**31}", "regional_centre"),
        (f"/v1/audit?after_id={2**63 - 2}&organization_id={2**31 - 1}", "auditor"),
        (f"/v1/cameras?bbox=126.97,37.57,126.98,37.58&after_id={2**63 - 2}", "planner"),
    ],
)
def test_ids_past_a_columns_range_page_to_nothing(
    client: FlaskClient, world: MapoWorld, path: str, role: str
) -> None:
    """An id the document allows (up to 2^63 - 1) but beyond a 32-bit column's range matches
    nothing: an empty page, never the database's "integer out of range" as a 500."""
    response = client.get(path, headers=world.headers(role))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    body = response.json
    assert body["items" if "items" in body else "features"] == []
