"""``/v1/cameras``: a centre reports health and corrects its own cameras, and no other's.

On the real Mapo world (tests/mapo_world.py): the owner of its cameras (마포구's centre) sets one
offline, corrects a heading, pushes a batch of statuses and uploads surveys; 종로구's centre,
which owns none of them, is answered as if they did not exist. What is written is read back
from PostGIS: the camera row, its change history, its redrawn coverage, the audit trail.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from mapo_world import MAPO_AREA, MAPO_POINT, MapoWorld, mapo_fixtures
from sqlalchemy import text
from sqlalchemy.engine import Connection

from api.snapshot import snapshot_cache
from geo.gpkg import read_layer
from geo.store.export import export_geopackage

world, db, app, client = mapo_fixtures()


def _camera(db: Connection, cam: int) -> Any:
    return db.execute(
        text(
            "SELECT status, status_reason, status_since, heading_deg, heading_source, fov_deg"
            " FROM camera WHERE id = :id"
        ),
        {"id": cam},
    ).one()


def _own_cameras(db: Connection, world: MapoWorld, n: int) -> list[int]:
    return [
        int(r[0])
        for r in db.execute(
            text("SELECT id FROM camera WHERE owner_id = :o ORDER BY id LIMIT :n"),
            {"o": world.orgs["municipal_centre"], "n": n},
        )
    ]


def _changes(db: Connection, cam: int) -> list[Any]:
    return db.execute(
        text("SELECT change, via, previous, current FROM camera_change WHERE camera_id = :c"
             " ORDER BY id"),
        {"c": cam},
    ).all()  # fmt: skip


def _watchers(client: FlaskClient, world: MapoWorld) -> list[dict[str, Any]]:
    lon, lat = MAPO_POINT
    r = client.get(
        f"/v1/approaches?lon={lon}&lat={lat}&radius_m=500", headers=world.headers("requester")
    )
    assert r.status_code == 200, r.json
    return [f["properties"] for f in r.json["features"] if f["properties"]["role"] == "camera"]


def test_an_offline_camera_is_ranked_last_with_its_status_and_since_when(
    client: FlaskClient, app: Flask, world: MapoWorld, db: Connection
) -> None:
    before = _watchers(client, world)
    by_approach: dict[str, list[dict[str, Any]]] = {}
    for w in before:
        by_approach.setdefault(w["approach"], []).append(w)
    approach, cams = next((a, c) for a, c in by_approach.items() if len(c) >= 2)
    best = min(cams, key=lambda c: c["rank"])["camera_id"]
    assert all(c["status"] == "online" and c["status_since"] is None for c in cams)

    r = client.patch(
        f"/v1/cameras/{best}",
        json={"status": "offline", "reason": "no video since the storm"},
        headers=world.headers("municipal_centre"),
    )
    assert r.status_code == 200, r.json
    assert r.json["outcome"] == "changed"
    assert r.json["seq"] > 0
    assert r.json["current"] == {"status": "offline", "reason": "no video since the storm"}
    row = _camera(db, best)
    assert (row.status, row.status_reason) == ("offline", "no video since the storm")
    assert row.status_since is not None
    assert [c.change for c in _changes(db, best)] == ["status"]

    with app.app_context():  # what the listener does on NOTIFY
        assert snapshot_cache(app).refresh_changes() >= 1
    after = [w for w in _watchers(client, world) if w["approach"] == approach]
    assert after[-1]["camera_id"] == best
    assert after[0]["camera_id"] != best
    assert after[-1]["online"] is False
    assert after[-1]["status"] == "offline"
    assert after[-1]["status_since"] == row.status_since.isoformat()

    # the same report again is no change: the since-time stays
    r = client.patch(
        f"/v1/cameras/{best}", json={"status": "offline", "reason": "no video since the storm"},
        headers=world.headers("municipal_centre"),
    )  # fmt: skip
    assert r.json["outcome"] == "unchanged"
    assert _camera(db, best).status_since == row.status_since


def test_a_surveyed_heading_is_stored_with_its_source_and_redraws_coverage(
    client: FlaskClient, world: MapoWorld, db: Connection
) -> None:
    cam = db.execute(
        text("SELECT id FROM camera WHERE owner_id = :o AND kind = 'fixed' AND heading_deg IS NULL"
             " ORDER BY id LIMIT 1"),
        {"o": world.orgs["municipal_centre"]},
    ).scalar_one()  # fmt: skip
    shape = "SELECT ST_AsBinary(geom), confidence FROM coverage WHERE camera_id = :c"
    before = db.execute(text(shape), {"c": cam}).one()
    r = client.patch(
        f"/v1/cameras/{cam}", json={"heading_deg": 135.0, "fov_deg": 70.0},
        headers=world.headers("municipal_centre"),
    )  # fmt: skip
    assert r.status_code == 200, r.json
    row = _camera(db, cam)
    assert (row.heading_deg, row.heading_source, row.fov_deg) == (135.0, "surveyed", 70.0)
    after = db.execute(text(shape), {"c": cam}).one()
    assert bytes(after[0]) != bytes(before[0])
    assert after.confidence == "high"
    (change,) = _changes(db, cam)
    assert change.change == "correction"
    assert change.previous["heading_source"] == "unknown"
    assert change.current == {"heading_deg": 135.0, "fov_deg": 70.0, "heading_source": "surveyed"}
    audited = db.execute(
        text("SELECT action FROM audit_record WHERE subject_type = 'camera' AND subject_id = :c"),
        {"c": str(cam)},
    ).scalars().all()  # fmt: skip
    assert audited == ["camera.corrected"]


def test_a_centre_cannot_change_another_centres_camera(
    client: FlaskClient, world: MapoWorld, db: Connection
) -> None:
    (cam,) = _own_cameras(db, world, 1)
    before = _camera(db, cam)
    theirs = client.patch(
        f"/v1/cameras/{cam}", json={"status": "offline"}, headers=world.headers("other_municipal")
    )
    missing = client.patch(
        "/v1/cameras/999999999", json={"status": "offline"},
        headers=world.headers("other_municipal"),
    )  # fmt: skip
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json["code"] == missing.json["code"]
    assert theirs.json["message"].replace(str(cam), "N") == missing.json["message"].replace(
        "999999999", "N"
    )
    batch = client.post(
        "/v1/cameras/status",
        json={"items": [{"camera_id": cam, "status": "maintenance"}]},
        headers=world.headers("other_municipal"),
    )
    assert batch.status_code == 200
    assert batch.json["results"] == [{"camera_id": cam, "outcome": "not_found"}]
    requester = client.patch(
        f"/v1/cameras/{cam}", json={"status": "offline"}, headers=world.headers("requester")
    )
    assert requester.status_code == 403
    assert _camera(db, cam) == before
    assert _changes(db, cam) == []


def test_a_vms_batch_is_one_idempotent_call_with_a_result_per_item(
    client: FlaskClient, world: MapoWorld, db: Connection
) -> None:
    a, b, c = _own_cameras(db, world, 3)
    items = [
        {"camera_id": a, "status": "offline", "reason": "no signal"},
        {"camera_id": b, "status": "maintenance", "reason": "lens cleaning"},
        {"camera_id": c, "status": "online"},
        {"camera_id": 999999999, "status": "offline"},
    ]
    headers = world.headers("municipal_centre")
    first = client.post("/v1/cameras/status", json={"items": items}, headers=headers)
    assert first.status_code == 200, first.json
    assert [r["outcome"] for r in first.json["results"]] == [
        "changed", "changed", "unchanged", "not_found",
    ]  # fmt: skip
    assert (first.json["changed"], first.json["unchanged"], first.json["not_found"]) == (2, 1, 1)
    assert _camera(db, b).status == "maintenance"
    again = client.post("/v1/cameras/status", json={"items": items}, headers=headers)
    assert [r["outcome"] for r in again.json["results"]] == [
        "unchanged", "unchanged", "unchanged", "not_found",
    ]  # fmt: skip
    assert len(_changes(db, a)) == 1
    twice = client.post("/v1/cameras/status", json={"items": items[:1] * 2}, headers=headers)
    assert twice.status_code == 422
    assert twice.json["details"]["duplicate_camera_ids"] == [a]


def _survey(rows: list[str], encoding: str) -> bytes:
    return ("\r\n".join(["카메라ID,방향각,화각", *rows]) + "\r\n").encode(encoding)


def test_a_survey_with_bad_rows_is_reported_row_by_row_and_changes_nothing(
    client: FlaskClient, world: MapoWorld, db: Connection
) -> None:
    a, b = _own_cameras(db, world, 2)
    foreign = db.execute(
        text("SELECT id FROM camera WHERE owner_id <> :o ORDER BY id LIMIT 1"),
        {"o": world.orgs["municipal_centre"]},
    ).scalar()
    rows = [f"{a},90,60", f"{b},400,", "abc,10,10", f"{a},45,", "999999999,10,", f"{b},,0"]
    if foreign is not None:
        rows.append(f"{foreign},10,")
    before = [_camera(db, a), _camera(db, b)]
    headers = {**world.headers("municipal_centre"), "Content-Type": "text/csv"}
    r = client.post("/v1/cameras/survey?name=mapo.csv", data=_survey(rows, "cp949"),
                    headers=headers)  # fmt: skip
    assert r.status_code == 422, r.json
    report = r.json["details"]
    assert report["applied"] is False
    assert report["adds_up"] is True
    assert report["rows_read"] == len(rows)
    assert report["rejected"] == len(rows) - 1  # only the first row is good
    got = {(x["line"], x["field"]) for x in report["rejections"]}
    assert {(3, "방향각"), (4, "카메라ID"), (5, "카메라ID"), (6, "카메라ID"), (7, "화각")} <= got
    assert "file rejected: nothing changed" in r.json["message"]
    assert [_camera(db, a), _camera(db, b)] == before
    assert _changes(db, a) == []
    assert _changes(db, b) == []


def test_a_good_survey_is_checked_with_dry_run_then_applied(
    client: FlaskClient, world: MapoWorld, db: Connection
) -> None:
    a, b = _own_cameras(db, world, 2)
    data = (f"\ufeffcamera_id,heading_deg,fov_deg\n{a},90.5,60\n{b},,75\n").encode()
    headers = {**world.headers("municipal_centre"), "Content-Type": "text/csv"}
    dry = client.post("/v1/cameras/survey?dry_run=true", data=data, headers=headers)
    assert dry.status_code == 200, dry.json
    assert (dry.json["changed"], dry.json["applied"], dry.json["dry_run"]) == (2, False, True)
    assert _changes(db, a) == []
    done = client.post("/v1/cameras/survey", data=data, headers=headers)
    assert done.status_code == 200, done.json
    assert done.json["summary"].endswith("2 rows read = 2 changed + 0 unchanged + 0 rejected"
                                         " (adds up); applied")  # fmt: skip
    assert (_camera(db, a).heading_deg, _camera(db, a).heading_source) == (90.5, "surveyed")
    assert _camera(db, b).fov_deg == 75.0
    assert [c.via for c in _changes(db, a)] == ["survey"]
    again = client.post("/v1/cameras/survey", data=data, headers=headers)
    assert (again.json["changed"], again.json["unchanged"]) == (0, 2)


def test_the_planners_geopackage_shows_state_and_heading_source_as_of_the_export(
    client: FlaskClient, world: MapoWorld, db: Connection, tmp_path: Path
) -> None:
    a, b = _own_cameras(db, world, 2)
    headers = world.headers("municipal_centre")
    client.patch(f"/v1/cameras/{a}", json={"status": "maintenance", "reason": "pole work"},
                 headers=headers)  # fmt: skip
    seq = client.patch(f"/v1/cameras/{b}", json={"heading_deg": 10.0}, headers=headers).json["seq"]
    path = tmp_path / "registry.gpkg"
    export_geopackage(db, path)
    cams = read_layer(path, "camera").set_index("id")
    assert cams.loc[a, "status"] == "maintenance"
    assert cams.loc[a, "status_reason"] == "pole work"
    assert cams.loc[a, "status_since"].endswith("Z")
    assert (cams.loc[b, "heading_source"], cams.loc[b, "last_change_seq"]) == ("surveyed", seq)
    untouched = cams.drop(index=[a, b]).iloc[0]
    assert (untouched["status_since"], untouched["last_change_seq"]) == ("", 0)


def test_best_passes_over_a_camera_reported_offline_since_the_incident(
    client: FlaskClient, world: MapoWorld, db: Connection
) -> None:
    now = dt.datetime.now(dt.UTC)
    activation = client.post(
        "/v1/activations",
        json={"basis": "integrated_defence_drill", "reference": "훈련-live", "area": MAPO_AREA,
              "starts_at": (now - dt.timedelta(hours=1)).isoformat(),
              "ends_at": (now + dt.timedelta(days=1)).isoformat()},
        headers=world.headers("regional_centre"),
    )  # fmt: skip
    assert activation.status_code == 201, activation.json
    lon, lat = MAPO_POINT
    incident = client.post(
        "/v1/incidents", json={"lon": lon, "lat": lat, "radius_m": 500},
        headers=world.headers("requester"),
    )  # fmt: skip
    assert incident.status_code == 201, incident.json
    firsts = {
        f["properties"]["approach"]: f["properties"]["camera_id"]
        for f in incident.json["answer"]["features"]
        if f["properties"]["role"] == "camera" and f["properties"]["rank"] == 1
        and f["properties"]["online"]
    }  # fmt: skip
    assert firsts
    dead = sorted(firsts.values())[0]
    client.patch(f"/v1/cameras/{dead}", json={"status": "offline", "reason": "no video"},
                 headers=world.headers("municipal_centre"))  # fmt: skip
    best = client.post(
        f"/v1/incidents/{incident.json['id']}/feeds", json={"best": 1},
        headers=world.headers("requester"),
    )  # fmt: skip
    assert best.status_code in (200, 201), best.json
    chosen = [f["camera_id"] for f in best.json["items"] + best.json["already_requested"]]
    assert dead not in chosen
    assert set(firsts.values()) - {dead} <= set(chosen)
    # the incident's record still says what was answered then: online, no since-time
    stored = client.get(f"/v1/incidents/{incident.json['id']}", headers=world.headers("requester"))
    on_record = [
        c for f in stored.json["approaches"]["features"] for c in f["properties"]["cameras"]
        if c["camera_id"] == dead
    ]  # fmt: skip
    assert on_record
    assert all((c["status"], c["status_since"]) == ("online", None) for c in on_record)


def test_a_camera_moves_only_inside_the_country(
    client: FlaskClient, world: MapoWorld, db: Connection
) -> None:
    (cam,) = _own_cameras(db, world, 1)
    headers = world.headers("municipal_centre")
    away = client.patch(f"/v1/cameras/{cam}", json={"lon": 0.0, "lat": 0.0}, headers=headers)
    assert away.status_code == 422
    assert "outside the country bounds" in away.json["message"]
    half = client.patch(f"/v1/cameras/{cam}", json={"lon": 126.95}, headers=headers)
    assert half.status_code == 422
    assert _changes(db, cam) == []
    moved = client.patch(
        f"/v1/cameras/{cam}", json={"lon": 126.9551, "lat": 37.5456}, headers=headers
    )
    assert moved.status_code == 200, moved.json
    near = db.execute(
        text(
            "SELECT ST_DWithin(c.position, ST_Transform(ST_SetSRID(ST_MakePoint(126.9551,"
            " 37.5456), 4326), 5179), 0.01), ST_Intersects(v.geom, c.position)"
            " FROM camera c JOIN coverage v ON v.camera_id = c.id WHERE c.id = :c"
        ),
        {"c": cam},
    ).one()
    assert tuple(near) == (True, True)  # moved, and its coverage drawn around the new place
