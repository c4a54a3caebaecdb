"""``schemathesis run --checks all`` against the API, served for real, with no failure and no
warning: the OpenAPI document states what the server enforces and what it returns.

The app runs on a real HTTP server (Werkzeug, one request at a time) bound to this module's
rolled-back connection, on the Mapo world (real roads, real cameras, a key for every role). The
schemathesis CLI gets a configuration file written here: for each operation, a key of a role it
allows (``x-gilmok-roles``) and the ids of an activation, an incident, a feed request and a
drill that exist, so that the generated requests reach the handlers rather than a 403 or 404.
Every check is on (``--checks all``) and every warning fails the run. The number of examples is
bounded so that the run takes about a minute.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, request
from mapo_world import MAPO_AREA, MAPO_POINT, MapoWorld, build_mapo_world
from schemathesis.config._warnings import DEFAULT_DISPLAYED_WARNINGS
from sqlalchemy.engine import Engine
from werkzeug.serving import make_server

from api import create_app
from api.snapshot import snapshot_cache
from geo.settings import Settings
from geo.store import drills

pytestmark = [pytest.mark.db, pytest.mark.slow]

MAX_EXAMPLES = int(os.environ.get("GILMOK_FUZZ_EXAMPLES", "10"))
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


@pytest.fixture(scope="module")
def world(engine: Engine, data_dir: Path, base_settings: Settings) -> Iterator[MapoWorld]:
    with engine.connect() as conn:
        outer = conn.begin()
        try:
            yield build_mapo_world(conn, data_dir, base_settings)
        finally:
            outer.rollback()


def _seed(app: Flask, world: MapoWorld) -> dict[str, Any]:
    """An activation over Mapo, an incident in it, a pending feed request and a drill."""
    client = app.test_client()
    now = dt.datetime.now(dt.UTC)
    activation = client.post(
        "/v1/activations",
        json={
            "basis": "integrated_defence_drill",
            "reference": "통합방위훈련 제2026-3호",
            "area": MAPO_AREA,
            "starts_at": (now - dt.timedelta(hours=1)).isoformat(),
            "ends_at": (now + dt.timedelta(days=1)).isoformat(),
        },
        headers=world.headers("regional_centre"),
    )
    assert activation.status_code == 201, activation.json
    lon, lat = MAPO_POINT
    incident = client.post(
        "/v1/incidents",
        json={"lon": lon, "lat": lat, "radius_m": 400, "mode": "euclidean"},
        headers=world.headers("requester"),
    )
    assert incident.status_code == 201, incident.json
    bbox = f"{lon - 0.003},{lat - 0.003},{lon + 0.003},{lat + 0.003}"
    cameras = client.get(f"/v1/cameras?bbox={bbox}", headers=world.headers("planner")).json
    feeds = client.post(
        f"/v1/incidents/{incident.json['id']}/feeds",
        json={"camera_ids": [cameras["features"][0]["id"]]},
        headers=world.headers("requester"),
    )
    assert feeds.status_code == 201, feeds.json
    drill_id, _ = drills.ensure_drill(world.conn, "mapo-drill", options={"radius_m": 300})
    drills.add_scenarios(world.conn, drill_id, ["s1", "s2"], [lon, lon + 0.001], [lat, lat])
    scenario = world.conn.exec_driver_sql(
        f"SELECT min(id) FROM drill_scenario WHERE drill_id = {drill_id}"
    ).scalar_one()
    return {
        "activation_id": activation.json["id"],
        "incident_id": incident.json["id"],
        "request_id": feeds.json["items"][0]["id"],
        "name": "mapo-drill",
        "scenario_id": scenario,
    }


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
}
POSITIVE_STATUSES = ["2xx", "401", "403", "404", "409", "422"]
WARNINGS = [w.value for w in DEFAULT_DISPLAYED_WARNINGS]


def _config(doc: dict[str, Any], world: MapoWorld, ids: dict[str, Any]) -> str:
    """schemathesis.toml: every warning fails; per operation a key and the known ids."""
    lines = ["[warnings]", "fail-on = true", ""]
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            roles = operation.get("x-gilmok-roles")
            params = {
                p["name"]: ids[p["name"]]
                for p in [*item.get("parameters", []), *operation.get("parameters", [])]
                if p["in"] == "path"
            }
            name = f"{method.upper()} {path}"
            if not roles and not params:
                continue
            lines += ["[[operations]]", f'include-name = "{name}"']
            if name in SEMANTIC_422:
                statuses = json.dumps(POSITIVE_STATUSES)
                lines.append(f"checks.positive_data_acceptance.expected-statuses = {statuses}")
                # (schemathesis looks at both together: with no id in the path, no 404 is
                # about test data either)
                hidden = {"validation_mismatch"} | (set() if params else {"missing_test_data"})
                shown = json.dumps([w for w in WARNINGS if w not in hidden])
                lines.append(f"warnings = {{ display = {shown}, fail-on = true }}")
            if roles:
                key = world.keys[roles[0]]
                lines.append(f'headers = {{ Authorization = "Bearer {key}" }}')
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
        app = create_app(base_settings, engine=world.conn)
        snapshot_cache(app).install(world.snapshot)
        answers: Counter[tuple[str, str, int, str]] = Counter()

        @app.after_request
        def count(response: Response) -> Response:
            code = (
                response.json.get("code", "")
                if response.is_json and response.status_code >= 400
                else ""
            )
            if response.status_code == 403:
                code += " " + response.json["message"][:60]
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
                    "--seed",
                    "12",
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
