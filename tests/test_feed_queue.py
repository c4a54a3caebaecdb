"""Revoking a live feed (api.feed_queue) on the real Janus and camera simulator: the owner centre
revokes, the relay stream is gone before the answer, the session and request say why, the
audit trail names who — and the requester's event stream (a live hub on its own listening
connection) carries the feed going live and ending, with the reason.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from scratch_db import scratch_database
from shapely.geometry import MultiPolygon, Polygon
from sqlalchemy import text

from api import create_app
from api.event_hub import stop_event_hub
from api.feeds.ledger import DbStreamLedger
from api.keys import issue_api_key
from api.relay.camsim import CameraSimulator
from api.relay.janus import JanusRelay
from api.relay.janus_process import JanusProcess
from geo.settings import RelaySettings, Settings
from geo.store import activations, camera_sources, connect, orgs

pytestmark = pytest.mark.db

ACTOR = "test"
AREA = MultiPolygon([Polygon([(126.96, 37.555), (127.0, 37.555), (127.0, 37.58), (126.96, 37.58)])])
POINT = (126.9769, 37.5759)
CAM = 13  # a simulated camera no other module uses


def _chunks(response: Any) -> Iterator[str]:
    for chunk in response.iter_encoded():
        yield chunk.decode("utf-8")


def _until(chunks: Iterator[str], pattern: str, timeout_s: float) -> str:
    seen = ""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        seen += next(chunks)
        if re.search(pattern, seen):
            return seen
    raise AssertionError(f"{pattern!r} not seen within {timeout_s} s: {seen[-800:]!r}")


def test_the_owner_centre_revokes_a_live_feed_and_its_stream_is_gone_at_once(
    base_settings: Settings,
    relay_settings: RelaySettings,
    janus: JanusProcess,  # the relay must run
    camsim: CameraSimulator,
) -> None:
    with scratch_database(base_settings.owner_database_url) as url:
        owner_engine = connect(url)
        now = dt.datetime.now(dt.UTC)
        with owner_engine.begin() as conn:
            made = [
                ("수도권 광역통합운영센터", "regional_centre", None),
                ("서울특별시 종로구청", "municipal_centre", "수도권 광역통합운영센터"),
                ("제56보병사단", "military_unit", None),
            ]
            ids = [
                orgs.create_organization(conn, name=n, kind=k, parent=p, actor=ACTOR).id
                for n, k, p in made
            ]
            centre_key = issue_api_key(
                conn, organization=made[1][0], role="municipal_centre", actor=ACTOR
            )[1]
            requester_key = issue_api_key(
                conn, organization=made[2][0], role="requester", actor=ACTOR
            )[1]
            camera = conn.execute(
                text(
                    "INSERT INTO camera (source, source_key, site_key, owner_id, position, kind,"
                    " heading_source) VALUES ('manual', 'queue-cam', 'queue-cam', :owner,"
                    " ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 5179),"
                    " 'dome', 'unknown') RETURNING id"
                ),
                {"owner": ids[1], "lon": POINT[0], "lat": POINT[1]},
            ).scalar_one()
            camera_sources.set_camera_sources(conn, {camera: camsim.url(CAM)}, actor=ACTOR)
            orgs.set_service_area_from(
                conn,
                organization_id=ids[0],
                sido=["서울특별시"],
                country_bounds=base_settings.country_bounds,
                actor=ACTOR,
            )
            activation = activations.create_activation(
                conn,
                basis="alert_level_2",
                reference="합참-queue",
                area=AREA,
                starts_at=now - dt.timedelta(minutes=1),
                ends_at=now + dt.timedelta(hours=1),
                issuer_id=ids[0],
                actor=ACTOR,
            )
            incident = conn.execute(
                text(
                    "INSERT INTO incident (requester_id, location, radius_m, mode) VALUES (:r,"
                    " ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 5179), 500,"
                    " 'network') RETURNING id"
                ),
                {"r": ids[2], "lon": POINT[0], "lat": POINT[1]},
            ).scalar_one()
            request_id = conn.execute(
                text(
                    "INSERT INTO feed_request (incident_id, camera_id, requester_id,"
                    " routed_via_id, owner_id, activation_id, status)"
                    " VALUES (:i, :c, :r, :via, :o, :a, 'pending') RETURNING id"
                ),
                {
                    "i": incident,
                    "c": camera,
                    "r": ids[2],
                    "via": ids[0],
                    "o": ids[1],
                    "a": activation.id,
                },
            ).scalar_one()
            start = conn.execute(text("SELECT max(id) FROM audit_record")).scalar_one()
        service = connect(base_settings.database_url.set(database=url.database))
        settings = base_settings.with_overrides(
            relay=relay_settings.with_overrides(configured=True), events_heartbeat_s=0.2
        )
        relay = JanusRelay(relay_settings, ledger=DbStreamLedger(service))
        app = create_app(settings, engine=service, relay=relay)
        client = app.test_client()
        centre = {"Authorization": f"Bearer {centre_key}"}
        requester = {"Authorization": f"Bearer {requester_key}"}
        events = client.get(f"/v1/events?after_id={start}", headers=requester, buffered=False)
        try:
            assert events.status_code == 200
            chunks = _chunks(events)
            approved = client.post(f"/v1/feed-requests/{request_id}/approve", headers=centre)
            assert approved.status_code == 200, approved.json
            assert approved.json["status"] == "provisioned"
            mine = client.get("/v1/feed-requests", headers=requester).json["items"]
            stream = mine[0]["viewer"]["stream"]
            assert mine[0]["viewer"]["session_status"] == "live"
            assert relay.status(stream).present
            _until(chunks, r"event: feed_session\.live", 5.0)

            revoked = client.post(
                f"/v1/feed-requests/{request_id}/revoke",
                json={"reason": "현장 종료"},
                headers=centre,
            )
            assert revoked.status_code == 200, revoked.json
            assert not relay.status(stream).present  # destroyed before the answer
            assert revoked.json["status"] == "revoked"
            assert "현장 종료" in revoked.json["reason"]
            after = client.get(f"/v1/feed-requests/{request_id}", headers=requester).json
            assert after["viewer"]["session_status"] == "revoked"
            seen = _until(chunks, r"event: feed_session\.ended\ndata: [^\n]*", 2.0)
            ended = re.search(r"event: feed_session\.ended\ndata: ([^\n]*)", seen)
            assert ended is not None
            assert '"reason":"revoked"' in ended[1]
            assert f'"feed_request_id":{request_id}' in ended[1]
            with owner_engine.connect() as conn:
                record = conn.execute(
                    text(
                        "SELECT actor, details FROM audit_record WHERE action = 'feed.revoked'"
                        " AND subject_type = 'feed_session'"
                    )
                ).one()
            assert record.actor == f"key:{centre_key.split('_')[1]}"
            assert record.details["relay_stream_destroyed"] is True
        finally:
            events.close()
            stop_event_hub(app)
            relay.close()
            service.dispose()
            owner_engine.dispose()
