"""The lists a console needs (api.incidents GET /v1/incidents, api.feed_queue): each caller sees
exactly what the single-item reads let it see — checked against those reads for every role on
the Mapo world with incidents of two requesters and requests for the cameras of two centres —
and a feed request's revocation by its owner centre or its requester.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from mapo_world import MAPO_AREA, MAPO_POINT, MapoWorld, build_mapo_world
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from api import create_app
from api.snapshot import snapshot_cache
from geo.settings import Settings

pytestmark = pytest.mark.db

ERROR_KEYS = {"code", "message", "details"}
#: Every role that reads incidents and requests (planners do not).
READERS = (
    "admin",
    "auditor",
    "requester",
    "other_requester",
    "regional_centre",
    "municipal_centre",
    "other_municipal",
)


@dataclass
class Scene:
    world: MapoWorld
    activation_id: int
    incidents: dict[str, int]
    requests: dict[str, list[int]]


def _app(conn: Connection, world: MapoWorld, settings: Settings) -> Flask:
    app = create_app(settings, engine=conn)
    snapshot_cache(app).install(world.snapshot)
    return app


@pytest.fixture(scope="module")
def scene(engine: Engine, data_dir: Path, base_settings: Settings) -> Iterator[Scene]:
    """Incident ``a`` of the requester with requests for two cameras of each of two centres;
    ``b`` of the requester, closed, no request; ``c`` of the other requester with one request."""
    with engine.connect() as conn:
        outer = conn.begin()
        try:
            world = build_mapo_world(conn, data_dir, base_settings)
            client = _app(conn, world, base_settings).test_client()
            now = dt.datetime.now(dt.UTC)
            activation = client.post(
                "/v1/activations",
                json={
                    "basis": "alert_level_2",
                    "reference": "경계태세 2급 제2026-77호",
                    "area": MAPO_AREA,
                    "starts_at": (now - dt.timedelta(hours=1)).isoformat(),
                    "ends_at": (now + dt.timedelta(days=1)).isoformat(),
                },
                headers=world.headers("regional_centre"),
            )
            assert activation.status_code == 201, activation.json
            lon, lat = MAPO_POINT
            incidents, requests = {}, {}
            for name, who in (("a", "requester"), ("b", "requester"), ("c", "other_requester")):
                made = client.post(
                    "/v1/incidents",
                    json={"lon": lon, "lat": lat, "radius_m": 400, "mode": "euclidean"},
                    headers=world.headers(who),
                )
                assert made.status_code == 201, made.json
                incidents[name] = made.json["id"]
            box = ",".join(f"{v:.4f}" for v in (lon - 0.002, lat - 0.002, lon + 0.002, lat + 0.002))
            near = client.get(f"/v1/cameras?bbox={box}", headers=world.headers("planner")).json
            watching = sorted({f["id"] for f in near["features"]})
            assert len(watching) >= 5, watching
            # Two of the watching cameras become the other centre's.
            conn.execute(
                text("UPDATE camera SET owner_id = :o WHERE id = ANY(:ids)"),
                {"o": world.orgs["other_municipal"], "ids": watching[2:4]},
            )
            for name, who, cameras in (
                ("a", "requester", watching[:4]),
                ("c", "other_requester", watching[4:5]),
            ):
                feeds = client.post(
                    f"/v1/incidents/{incidents[name]}/feeds",
                    json={"camera_ids": cameras},
                    headers=world.headers(who),
                )
                assert feeds.status_code == 201, feeds.json
                requests[name] = [i["id"] for i in feeds.json["items"]]
            closed = client.post(
                f"/v1/incidents/{incidents['b']}/close", json={}, headers=world.headers("requester")
            )
            assert closed.status_code == 200
            yield Scene(world, activation.json["id"], incidents, requests)
        finally:
            outer.rollback()


@pytest.fixture
def client(scene: Scene, base_settings: Settings) -> Iterator[FlaskClient]:
    savepoint = scene.world.conn.begin_nested()
    try:
        yield _app(scene.world.conn, scene.world, base_settings).test_client()
    finally:
        savepoint.rollback()


def _get(client: FlaskClient, scene: Scene, who: str, url: str) -> Any:
    response = client.get(url, headers=scene.world.headers(who))
    assert response.status_code == 200, (who, url, response.json)
    return response.json


def _all_pages(client: FlaskClient, scene: Scene, who: str, url: str, limit: int) -> list[Any]:
    items: list[Any] = []
    after = None
    sep = "&" if "?" in url else "?"
    while True:
        page_url = f"{url}{sep}limit={limit}" + (f"&after_id={after}" if after else "")
        page = _get(client, scene, who, page_url)
        items.extend(page["items"])
        after = page["next_after_id"]
        if after is None:
            return items


# --- incidents --------------------------------------------------------------------------------


@pytest.mark.parametrize("who", READERS)
def test_the_incident_list_is_what_the_single_reads_allow(
    client: FlaskClient, scene: Scene, who: str
) -> None:
    listed = [i["id"] for i in _get(client, scene, who, "/v1/incidents")["items"]]
    ids = scene.world.conn.execute(text("SELECT id FROM incident ORDER BY id")).scalars().all()
    readable = [
        i
        for i in ids
        if client.get(f"/v1/incidents/{i}", headers=scene.world.headers(who)).status_code == 200
    ]
    assert listed == readable
    # Paged one by one, the same list.
    assert [i["id"] for i in _all_pages(client, scene, who, "/v1/incidents", 1)] == readable


def test_each_requester_lists_only_its_own_incidents(client: FlaskClient, scene: Scene) -> None:
    mine = [i["id"] for i in _get(client, scene, "requester", "/v1/incidents")["items"]]
    theirs = [i["id"] for i in _get(client, scene, "other_requester", "/v1/incidents")["items"]]
    assert mine == [scene.incidents["a"], scene.incidents["b"]]
    assert theirs == [scene.incidents["c"]]
    # A centre lists the incidents with requests for its cameras; the other centre, only a.
    other = _get(client, scene, "other_municipal", "/v1/incidents")["items"]
    assert scene.incidents["a"] in [i["id"] for i in other]
    assert scene.incidents["c"] not in [i["id"] for i in other]


def test_the_incident_list_filters_by_state_and_shapes_items_as_the_single_read(
    client: FlaskClient, scene: Scene
) -> None:
    closed = _get(client, scene, "requester", "/v1/incidents?state=closed")["items"]
    assert [i["id"] for i in closed] == [scene.incidents["b"]]
    open_ = _get(client, scene, "requester", "/v1/incidents?state=open")["items"]
    assert [i["id"] for i in open_] == [scene.incidents["a"]]
    item = open_[0]
    one = _get(client, scene, "requester", f"/v1/incidents/{item['id']}")
    features = one.pop("approaches")["features"]
    assert item.pop("approach_count") == len(features)
    assert item.pop("blind_count") == sum(f["properties"]["blind"] for f in features)
    assert item == one


def test_a_planner_may_not_list(client: FlaskClient, scene: Scene) -> None:
    for url in ("/v1/incidents", "/v1/feed-requests"):
        response = client.get(url, headers=scene.world.headers("planner"))
        assert response.status_code == 403
        assert set(response.json) == ERROR_KEYS


def test_list_arguments_are_checked(client: FlaskClient, scene: Scene) -> None:
    for url in (
        "/v1/incidents?state=pending",
        "/v1/incidents?limit=0",
        "/v1/incidents?after_id=-1",
        "/v1/feed-requests?state=open",
        "/v1/feed-requests?incident_id=0",
        "/v1/feed-requests?owner=1",
    ):
        response = client.get(url, headers=scene.world.headers("admin"))
        assert response.status_code == 422, url
        assert response.json["code"] == "validation_error"


# --- feed requests ----------------------------------------------------------------------------


def _through_incidents(client: FlaskClient, scene: Scene, who: str) -> list[int]:
    """The feed requests ``who`` sees, read incident by incident (the older, per-incident read)."""
    out = []
    for incident in _get(client, scene, who, "/v1/incidents")["items"]:
        feeds = _get(client, scene, who, f"/v1/incidents/{incident['id']}/feeds")
        out.extend(i["id"] for i in feeds["items"])
    return sorted(out)


@pytest.mark.parametrize("who", READERS)
def test_the_feed_request_list_is_what_each_incidents_feeds_show(
    client: FlaskClient, scene: Scene, who: str
) -> None:
    listed = _get(client, scene, who, "/v1/feed-requests")["items"]
    assert [i["id"] for i in listed] == _through_incidents(client, scene, who)
    paged = _all_pages(client, scene, who, "/v1/feed-requests", 2)
    assert paged == listed
    for item in listed:
        assert _get(client, scene, who, f"/v1/feed-requests/{item['id']}") == item


def test_a_centre_sees_only_the_requests_for_its_cameras(client: FlaskClient, scene: Scene) -> None:
    world = scene.world
    for centre in ("municipal_centre", "other_municipal"):
        items = _get(client, scene, centre, "/v1/feed-requests")["items"]
        assert items
        assert {i["owner"]["id"] for i in items} == {world.orgs[centre]}
        owned = world.conn.execute(
            text("SELECT id FROM feed_request WHERE owner_id = :o ORDER BY id"),
            {"o": world.orgs[centre]},
        )
        assert [i["id"] for i in items] == owned.scalars().all()
        for rid in [r for rs in scene.requests.values() for r in rs]:
            if rid not in {i["id"] for i in items}:
                missing = client.get(f"/v1/feed-requests/{rid}", headers=world.headers(centre))
                unknown = client.get("/v1/feed-requests/987654", headers=world.headers(centre))
                assert missing.status_code == unknown.status_code == 404
                assert missing.json["code"] == unknown.json["code"] == "not_found"


def test_a_queue_item_holds_what_an_approver_decides_on(client: FlaskClient, scene: Scene) -> None:
    items = _get(client, scene, "municipal_centre", "/v1/feed-requests?state=pending")["items"]
    assert items
    assert {i["status"] for i in items} == {"pending"}
    item = items[0]
    incident = _get(client, scene, "admin", f"/v1/incidents/{item['incident_id']}")
    assert item["incident"] == {
        "id": incident["id"],
        "location": incident["location"],
        "status": "open",
        "radius_m": incident["radius_m"],
    }
    assert item["basis"]["activation_id"] == scene.activation_id == item["activation_id"]
    assert item["basis"]["basis"] == "alert_level_2"
    assert item["basis"]["basis_ko"] == "경계태세 2급 이상"
    assert item["basis"]["reference"] == "경계태세 2급 제2026-77호"
    assert item["camera"]["id"] == item["camera_id"]
    assert "viewer" not in item  # a centre sees no session facts
    by_incident = _get(
        client, scene, "municipal_centre", f"/v1/feed-requests?incident_id={scene.incidents['c']}"
    )["items"]
    assert [i["id"] for i in by_incident] == scene.requests["c"]


def test_the_owner_centre_revokes_a_request_and_it_leaves_the_queue(
    client: FlaskClient, scene: Scene
) -> None:
    world = scene.world
    rid = next(
        i["id"]
        for i in _get(client, scene, "other_municipal", "/v1/feed-requests?state=pending")["items"]
    )
    headers = world.headers("other_municipal")
    missing_reason = client.post(f"/v1/feed-requests/{rid}/revoke", json={}, headers=headers)
    assert missing_reason.status_code == 422
    foreign = client.post(
        f"/v1/feed-requests/{rid}/revoke",
        json={"reason": "not yours"},
        headers=world.headers("municipal_centre"),
    )
    assert foreign.status_code == 404
    done = client.post(
        f"/v1/feed-requests/{rid}/revoke", json={"reason": "수사 종료"}, headers=headers
    )
    assert done.status_code == 200, done.json
    assert done.json["status"] == "revoked"
    assert "수사 종료" in done.json["reason"]
    record = world.conn.execute(
        text(
            "SELECT actor, details FROM audit_record WHERE action = 'feed.revoked'"
            " AND subject_id = :id"
        ),
        {"id": str(rid)},
    ).one()
    assert record.actor == f"key:{world.keys['other_municipal'].split('_')[1]}"
    assert "수사 종료" in record.details["reason"]
    pending = _get(client, scene, "other_municipal", "/v1/feed-requests?state=pending")["items"]
    assert rid not in [i["id"] for i in pending]
    again = client.post(
        f"/v1/feed-requests/{rid}/revoke", json={"reason": "again"}, headers=headers
    )
    assert again.status_code == 409
    assert again.json["details"] == {"id": rid, "status": "revoked"}


def test_the_requester_revokes_its_own_request_and_no_other(
    client: FlaskClient, scene: Scene
) -> None:
    world = scene.world
    rid = scene.requests["c"][0]
    refused = client.post(
        f"/v1/feed-requests/{rid}/revoke",
        json={"reason": "x"},
        headers=world.headers("requester"),
    )
    assert refused.status_code == 404
    done = client.post(
        f"/v1/feed-requests/{rid}/revoke",
        json={"reason": "상황 해제"},
        headers=world.headers("other_requester"),
    )
    assert done.status_code == 200, done.json
    assert done.json["status"] == "revoked"
    for who in ("regional_centre", "admin"):
        response = client.post(
            f"/v1/feed-requests/{rid}/revoke", json={"reason": "x"}, headers=world.headers(who)
        )
        assert response.status_code == 403
