"""``schemathesis run --checks all`` against the API, served for real, with no failure and no
warning: the OpenAPI document states what the server enforces and what it returns.

The app runs on a real HTTP server (Werkzeug, one request at a time) bound to this module's
rolled-back connection, on the Mapo world (real roads, real cameras, a key for every role). The
schemathesis CLI gets a configuration file written here: for each operation, a key of a role it
allows (``x-gilmok-roles``) and the ids of an activation, an incident, a feed request and a
drill that exist, so that the generated requests reach the handlers rather than a 403 or 404.
Every check is on (``--checks all``) and every warning fails the run, with one stated exception
(:data:`SEMANTIC_422`). The examples, coverage and fuzzing phases run; the stateful phase does
not, as its chains of calls cannot change keys between operations of different roles. The
examples are bounded (``GILMOK_FUZZ_EXAMPLES``, default 10 per operation, about 40 s; 40 take
about 90 s) and generated deterministically, so a failure reproduces.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, request
from flask.testing import FlaskClient
from mapo_world import MAPO_AREA, MAPO_POINT, MapoWorld, mapo_fixtures
from test_api_incidents import FakeRelay
from werkzeug.serving import make_server

from api import create_app
from api.keys import hash_api_key
from api.platform_auth import new_platform_key
from api.settings import Settings
from api.snapshot import snapshot_cache
from geo.cordon import CordonOptions
from geo.store import drills, platforms

pytestmark = [pytest.mark.db, pytest.mark.slow]

MAX_EXAMPLES = int(os.environ.get("GILMOK_FUZZ_EXAMPLES", "10"))
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


world = mapo_fixtures().world


#: West of the incident: the activation the fuzz may end covers none of the feeds.
WEST_MAPO = {
    "type": "Polygon",
    "coordinates": [
        [[126.94, 37.535], [126.95, 37.535], [126.95, 37.54], [126.94, 37.54], [126.94, 37.535]]
    ],
}


def _activate(
    client: FlaskClient, world: MapoWorld, reference: str, area: dict[str, Any] = MAPO_AREA
) -> int:
    now = dt.datetime.now(dt.UTC)
    response = client.post(
        "/v1/activations",
        json={
            "basis": "integrated_defence_drill",
            "reference": reference,
            "area": area,
            "starts_at": (now - dt.timedelta(hours=1)).isoformat(),
            "ends_at": (now + dt.timedelta(days=1)).isoformat(),
        },
        headers=world.headers("regional_centre"),
    )
    assert response.status_code == 201, response.json
    return int(response.json["id"])


def _raise(client: FlaskClient, world: MapoWorld) -> int:
    lon, lat = MAPO_POINT
    response = client.post(
        "/v1/incidents",
        json={"lon": lon, "lat": lat, "radius_m": 400, "mode": "euclidean"},
        headers=world.headers("requester"),
    )
    assert response.status_code == 201, response.json
    return int(response.json["id"])


def _platform(app: Flask, world: MapoWorld) -> tuple[str, int]:
    """A smart-city platform's key, and a situation it raised whose basis waits for a regional
    centre (for ``/v1/platform/events/{event_id}`` and its ``activate``)."""
    key, prefix = new_platform_key()
    platforms.register_platform(
        world.conn,
        code="FUZZ-SC",
        name="fuzz",
        key_prefix=prefix,
        key_hash=hash_api_key(key),
        callback_url="",
        actor="test",
    )
    platforms.subscribe(
        world.conn,
        platform_code="FUZZ-SC",
        event_type="FLOOD",
        organization="제56보병사단",
        cordon=CordonOptions(radius_m=400),
        actor="test",
    )
    platforms.set_policy(
        world.conn,
        platform_code="FUZZ-SC",
        event_type="FLOOD",
        basis="natural_disaster",
        activation="regional_centre",
        actor="test",
    )
    lon, lat = MAPO_POINT
    message = {
        "svcTy": "EVENT",
        "sendCd": "FUZZ-SC",
        "body": {
            "evtId": "FLOOD",
            "ocrNbr": "1",
            "ocrSts": "10",
            "ocrLc": {"crdntX": str(lon), "crdntY": str(lat)},
        },
    }
    response = app.test_client().post(
        "/v1/platform/events", json=message, headers={"X-Scsns-Secret": key}
    )
    assert response.status_code == 200, response.json
    return key, int(response.json["event"]["id"])


def _seed(app: Flask, world: MapoWorld) -> dict[str, dict[str, Any]]:
    """Path ids per operation: those that end or decide something get their own, so that the
    order schemathesis calls them in never leaves another operation nothing to work on.

    An activation over Mapo and an incident in it with three feed requests: one approved and
    provisioned (its credential can be taken), one left pending for approval, one for denial;
    a second activation to end (away from the incident: ending it revokes none of those feeds),
    a second incident to close; a drill with two scenarios.
    """
    client = app.test_client()
    world.conn.exec_driver_sql(
        "UPDATE camera SET source_url = 'rtsp://10.1.2.3/' || id WHERE source_url IS NULL"
    )
    activation = _activate(client, world, "훈련 제1호")
    to_end = _activate(client, world, "훈련 제2호", WEST_MAPO)
    incident, to_close = _raise(client, world), _raise(client, world)
    lon, lat = MAPO_POINT
    bbox = f"{lon - 0.003},{lat - 0.003},{lon + 0.003},{lat + 0.003}"
    cameras = client.get(f"/v1/cameras?bbox={bbox}", headers=world.headers("planner")).json
    feeds = client.post(
        f"/v1/incidents/{incident}/feeds",
        json={"camera_ids": [f["id"] for f in cameras["features"][:3]]},
        headers=world.headers("requester"),
    )
    assert feeds.status_code == 201, feeds.json
    viewed, to_approve, to_deny = (f["id"] for f in feeds.json["items"])
    approved = client.post(
        f"/v1/feed-requests/{viewed}/approve", headers=world.headers("municipal_centre")
    )
    assert approved.json["status"] == "provisioned", approved.json
    drill_id, _ = drills.ensure_drill(world.conn, "mapo-drill", options={"radius_m": 300})
    drills.add_scenarios(world.conn, drill_id, ["s1", "s2"], [lon, lon + 0.001], [lat, lat])
    scenario = world.conn.exec_driver_sql(
        f"SELECT min(id) FROM drill_scenario WHERE drill_id = {drill_id}"
    ).scalar_one()
    drill = {"name": "mapo-drill", "scenario_id": scenario}
    # Browser sessions: one the fuzz reads with its cookie, one it signs out (see _config).
    for use in ("read", "end"):
        signed = app.test_client().post("/v1/session", json={"api_key": world.keys["requester"]})
        cookie = signed.headers["Set-Cookie"].split(";", 1)[0]
        SESSIONS[use] = {"Cookie": cookie, "X-CSRF-Token": signed.json["csrf_token"]}
    platform_key, event = _platform(app, world)
    own_camera = world.conn.exec_driver_sql(
        f"SELECT max(id) FROM camera WHERE owner_id = {world.orgs['municipal_centre']}"
    ).scalar_one()
    to_retire = world.conn.exec_driver_sql(
        f"SELECT max(id) FROM camera WHERE owner_id = {world.orgs['municipal_centre']}"
        f" AND id < {own_camera}"
    ).scalar_one()
    return {
        "platform": {"key": platform_key},  # not an operation: the key of the platform's one
        "DELETE /v1/cameras/{camera_id}": {"camera_id": to_retire},
        "GET /v1/platform/events/{event_id}": {"event_id": event},
        "POST /v1/platform/events/{event_id}/activate": {"event_id": event},
        "PATCH /v1/cameras/{camera_id}": {"camera_id": own_camera},
        "GET /v1/activations/{activation_id}": {"activation_id": activation},
        "POST /v1/activations/{activation_id}/end": {"activation_id": to_end},
        "GET /v1/incidents/{incident_id}": {"incident_id": incident},
        "GET /v1/incidents/{incident_id}/feeds": {"incident_id": incident},
        "POST /v1/incidents/{incident_id}/feeds": {"incident_id": incident},
        "GET /v1/incidents/{incident_id}/control-points": {"incident_id": incident},
        "POST /v1/incidents/{incident_id}/close": {"incident_id": to_close},
        "POST /v1/feed-requests/{request_id}/credential": {"request_id": viewed},
        "POST /v1/feed-requests/{request_id}/approve": {"request_id": to_approve},
        "POST /v1/feed-requests/{request_id}/deny": {"request_id": to_deny},
        "GET /v1/drills/{name}": drill,
        "GET /v1/drills/{name}/scenarios/{scenario_id}": drill,
        "GET /ogc/collections/{collectionId}": {"collectionId": "cameras"},
        "GET /ogc/collections/{collectionId}/items": {"collectionId": "cameras"},
        "GET /ogc/collections/{collectionId}/items/{featureId}": {
            "collectionId": "cameras",
            "featureId": cameras["features"][0]["id"],
        },
        "GET /v1/organizations/{organization_id}/service-area": {
            "organization_id": world.orgs["municipal_centre"]
        },
        # the centre owning Mapo's cameras: camera_hull is then a valid way to set its area
        "PUT /v1/organizations/{organization_id}/service-area": {
            "organization_id": world.orgs["municipal_centre"]
        },
    }


#: Browser sessions of the seed: "read" is the cookie of the sessionCookie scheme (GET
#: /v1/session needs it), "end" the one DELETE /v1/session signs out (cookie and CSRF token).
SESSIONS: dict[str, dict[str, str]] = {}

#: Operations whose well-formed requests may still be 422 for a rule no JSON Schema can state
#: (each is in the operation's or the field's description): for these alone, a schema-valid
#: request answered 422 is not a failure of positive_data_acceptance, and random data being
#: mostly refused is no ``validation_mismatch`` warning (random points fall outside the roads,
#: random boxes are not in order, random polygons are not valid areas in the country).
SEMANTIC_422 = {
    "GET /v1/approaches": "the point inside the loaded roads; speed × minutes in 50..5000 m",
    "GET /v1/cameras": "bbox corners in order, each side at most 0.5°",
    "GET /v1/coverage": "bbox corners in order, each side at most 0.5°",
    "POST /v1/activations": "a valid area inside the country, at most 20,000 km²; ends after"
    " it starts, at most 90 days later",
    "POST /v1/incidents": "the point inside the loaded roads; speed × minutes in 50..5000 m",
    "POST /v1/incidents/{incident_id}/feeds": "cameras that watch the incident's approaches or"
    " lie within its radius",
    "PUT /v1/organizations/{organization_id}/service-area": "real 시군구 / 시도 names or codes; a"
    " valid area inside the country; cameras owned for a hull",
    "POST /v1/platform/events": "coordinates as decimals in the roads; a subscribed event type",
    "PATCH /v1/cameras/{camera_id}": "a new position inside the country bounds",
    "POST /v1/cameras": "a position inside the country bounds; an owner that exists (admin);"
    " a source URL a relay can pull",
    "POST /v1/cameras/status": "each camera at most once in a batch",
    "POST /v1/cameras/survey": "a survey CSV (camera_id, heading_deg and/or fov_deg) whose every"
    " row is good",
    "GET /v1/tiles/roads/{z}/{x}/{y}.pbf": "x and y within 0..2^z-1",
}
POSITIVE_STATUSES = ["2xx", "401", "403", "404", "409", "422", "429"]
#: The OGC API's operations answer a parameter that is not valid 400, as its standard asks; a
#: well-formed one may still be (bbox corners in order; a cursor this server made).
SEMANTIC_400 = {
    "GET /ogc/collections/{collectionId}/items": "bbox corners in order; a cursor of a link",
}
POSITIVE_STATUSES_400 = ["2xx", "400", "401", "403", "404", "429"]
#: schemathesis 4's warnings (all shown by default).
WARNINGS = [
    "missing_auth",
    "missing_test_data",
    "base_url_mismatch",
    "validation_mismatch",
    "missing_deserializer",
    "unused_openapi_auth",
    "unsupported_regex",
    "method_not_allowed",
    "constants_extraction",
    "unmatched_filter",
    "unresolvable_reference",
    "rate_limited",
    "dictionary_mismatch",
    "timeout_units",
]


def _config(doc: dict[str, Any], world: MapoWorld, ids: dict[str, dict[str, Any]]) -> str:
    """schemathesis.toml: every warning fails; per operation a key and the known ids."""
    lines = ["[warnings]", "fail-on = true", ""]
    cookie = SESSIONS["read"]["Cookie"].split("=", 1)[1]
    lines += ["[auth.openapi.sessionCookie]", f'api_key = "{cookie}"', ""]
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            roles = operation.get("x-gilmok-roles")
            name = f"{method.upper()} {path}"
            params = ids.get(name, {})
            if not roles and not params and "x-gilmok-auth" not in operation:
                continue
            lines += ["[[operations]]", f'include-name = "{name}"']
            if name in SEMANTIC_422 or name in SEMANTIC_400:
                statuses = json.dumps(
                    POSITIVE_STATUSES_400 if name in SEMANTIC_400 else POSITIVE_STATUSES
                )
                lines.append(f"checks.positive_data_acceptance.expected-statuses = {statuses}")
                # schemathesis (4.32) weighs both together and only hides validation_mismatch
                # for one operation when missing_test_data is hidden there too; a seeded id in
                # the path is one that exists, so its 404s are not what that warning is about
                hidden = {"validation_mismatch", "missing_test_data"}
                shown = json.dumps([w for w in WARNINGS if w not in hidden])
                lines.append(f"warnings = {{ display = {shown}, fail-on = true }}")
            if name == "DELETE /v1/session":
                pairs = ", ".join(f'{k} = "{v}"' for k, v in SESSIONS["end"].items())
                lines.append(f"headers = {{ {pairs} }}")
            elif roles:
                key = world.keys[roles[0]]
                lines.append(f'headers = {{ Authorization = "Bearer {key}" }}')
            elif "x-gilmok-auth" in operation:  # a smart-city platform's own key
                key = ids["platform"]["key"]
                lines.append(
                    f'headers = {{ Authorization = "Bearer {key}", X-Scsns-Secret = "{key}" }}'
                )
            if params:
                pairs = ", ".join(f'"path.{k}" = {json.dumps(v)}' for k, v in params.items())
                lines.append(f"parameters = {{ {pairs} }}")
            lines.append("")
    return "\n".join(lines)


def test_schemathesis_checks_all_pass_with_no_warning(
    world: MapoWorld, base_settings: Settings, tmp_path: Path
) -> None:
    savepoint = world.conn.begin_nested()
    try:
        # The relay is an outside system: an in-memory adapter stands for it here (the relay
        # tests drive the real Janus), so that feeds are provisioned and credentials issued.
        # No rate limit: the fuzz sends about a hundred requests an operation, most refused.
        settings = base_settings.with_overrides(
            rate_limit=None, rate_limit_refused_feeds=None, rate_limit_refused_logins=None
        )
        app = create_app(settings, engine=world.conn, relay=FakeRelay())
        snapshot_cache(app).install(world.snapshot)
        # What the server answered, by route, status and error code: printed with the report.
        answers: Counter[tuple[str, str, int, str]] = Counter()

        @app.after_request
        def count(response: Response) -> Response:
            error = response.is_json and response.status_code >= 400
            code = response.json.get("code", "") if error else ""
            rule = request.url_rule.rule if request.url_rule else "-"
            answers[(request.method, rule, response.status_code, code)] += 1
            return response

        ids = _seed(app, world)
        doc = app.test_client().get("/openapi.json").json

        config = tmp_path / "schemathesis.toml"
        config.write_text(_config(doc, world, ids))
        server = make_server("127.0.0.1", 0, app, threaded=False)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            run = subprocess.run(
                [
                    str(SCHEMATHESIS),
                    "--config-file",
                    str(config),
                    "run",
                    f"http://127.0.0.1:{server.server_port}/openapi.json",
                    "--checks",
                    "all",
                    "--phases",
                    "examples,coverage,fuzzing",
                    "--max-examples",
                    str(MAX_EXAMPLES),
                    "--workers",
                    "1",
                    "--no-color",
                    "--generation-deterministic",
                ],
                capture_output=True,
                text=True,
                timeout=600,
                cwd=tmp_path,
                check=False,
            )
        finally:
            server.shutdown()
            thread.join()
    finally:
        savepoint.rollback()
    output = run.stdout + run.stderr
    print(output)
    for (method, rule, status, code), n in sorted(answers.items()):
        print(f"{n:6d}  {status}  {method:5s} {rule}  {code}")
    assert run.returncode == 0, output[-20000:]
