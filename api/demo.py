"""``gilmok demo``: the main job end to end on the imported real data, through the real API.

A situation room (제56보병사단) raises an incident at Gwanghwamun under an alert-level-2
activation over central Seoul; gilmok answers its approaches and the cameras watching them;
the best camera of each approach is requested, the owning centres approve, the feeds are
provisioned on Janus (each selected real camera is mapped to a simulated source), and the
requester collects its viewer credentials; the live relay streams are shown with their media
age. Closing the incident then revokes every feed, and the demo shows the relay empty again.

Every step goes through the HTTP API (the Flask test client of :func:`api.create_app`) with
API keys made for the run and revoked at its end; the worker loop runs alongside, as
``gilmok worker`` would. Re-runnable: organizations are seeded idempotently, each run has its
own activation (ended at the end) and incident (closed at the end).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.engine import Engine

from api.feeds.ledger import DbStreamLedger
from api.feeds.loop import Worker
from api.keys import issue_api_key
from api.relay import wait_flowing
from api.relay.camsim import CameraSimulator, map_cameras
from api.relay.janus import JanusRelay
from api.relay.janus_process import JanusProcess
from api.settings import Settings
from geo.errors import GilmokError
from geo.store import camera_sources, orgs

ACTOR = "demo"
GWANGHWAMUN = (126.9769, 37.5759)
#: Central Seoul (City Hall, Gwanghwamun, Jongno), lon/lat: the activation's area.
CENTRAL_SEOUL = {
    "type": "Polygon",
    "coordinates": [
        [[126.955, 37.55], [127.01, 37.55], [127.01, 37.59], [126.955, 37.59], [126.955, 37.55]]
    ],
}
REQUESTER = "제56보병사단"


class DemoError(GilmokError):
    """A step of the demo failed; the message says which and why."""

    code = "demo_failed"


class _Api:
    """The API through the test client, one key per organization role."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.keys: dict[str, str] = {}

    def call(self, method: str, path: str, who: str, body: Any = None) -> Any:
        response = self.client.open(
            path,
            method=method,
            json=body,
            headers={"Authorization": f"Bearer {self.keys[who]}"},
        )
        payload = response.get_json(silent=True) or {}
        if response.status_code >= 400:
            raise DemoError(
                f"{method} {path} answered {response.status_code}"
                f" {payload.get('code', '')}: {payload.get('message', response.data[:200])}"
            )
        return payload


@contextmanager
def _relay_and_cameras(settings: Settings, cameras: int) -> Iterator[CameraSimulator]:
    """Janus (reused when this runtime folder's is running) and a simulator on a free port."""
    janus = JanusProcess(settings.relay)
    ours = janus.pid() is None
    janus.start()
    try:
        with CameraSimulator(cameras=cameras, port=0) as sim:
            yield sim
    finally:
        if ours:
            janus.stop()


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def run_demo(
    settings: Settings,
    engine: Engine,
    *,
    echo: Callable[[str], None] = print,
    best: int = 1,
    max_cameras: int = 12,
) -> dict[str, Any]:
    """Run the scripted incident; a summary (counts and timings) for tests and benchmarks."""
    from api import create_app

    with engine.begin() as conn:
        report = orgs.seed_pilot(conn, actor=ACTOR)
    echo(
        f"pilot organizations: {len(report.created)} created, {len(report.present)} present,"
        f" {len(report.linked)} camera owners linked to their centre"
    )
    with _relay_and_cameras(settings, max_cameras) as sim:
        relay = JanusRelay(settings.relay, ledger=DbStreamLedger(engine))
        app = create_app(settings, engine=engine, relay=relay)
        api = _Api(app.test_client())
        worker = Worker(engine, relay, settings, interval_s=0.25)
        stop = threading.Event()
        thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
        worker.tick()  # clear what an interrupted earlier run may have left on the relay
        thread.start()
        try:
            return _scenario(api, engine, relay, sim, echo=echo, best=best, limit=max_cameras)
        finally:
            stop.set()
            thread.join(timeout=5)
            _revoke_keys(engine, api)
            relay.close()


def _make_key(engine: Engine, api: _Api, who: str, organization: str, role: str) -> None:
    with engine.begin() as conn:
        _, key = issue_api_key(
            conn, organization=organization, role=role, actor=ACTOR, label="gilmok demo"
        )
    api.keys[who] = key


def _revoke_keys(engine: Engine, api: _Api) -> None:
    with engine.begin() as conn:
        for key in api.keys.values():
            orgs.revoke_api_key(conn, prefix=key.split("_")[1], actor=ACTOR)


def _scenario(
    api: _Api,
    engine: Engine,
    relay: JanusRelay,
    sim: CameraSimulator,
    *,
    echo: Callable[[str], None],
    best: int,
    limit: int,
) -> dict[str, Any]:
    _make_key(engine, api, "regional", orgs.REGIONAL_CENTRE, "regional_centre")
    _make_key(engine, api, "requester", REQUESTER, "requester")
    now = dt.datetime.now(dt.UTC)
    activation = api.call(
        "POST",
        "/v1/activations",
        "regional",
        {
            "basis": "alert_level_2",
            "reference": f"demo {now:%Y%m%d-%H%M%S}",
            "area": CENTRAL_SEOUL,
            "starts_at": now.isoformat(),
            "ends_at": (now + dt.timedelta(hours=2)).isoformat(),
        },
    )
    echo(
        f"activation {activation['id']}: alert_level_2 (경계태세 2급) over central Seoul,"
        f" until {activation['ends_at']}"
    )
    lon, lat = GWANGHWAMUN
    started = time.monotonic()
    incident = api.call(
        "POST",
        "/v1/incidents",
        "requester",
        {"lon": lon, "lat": lat, "note": "gilmok demo: Gwanghwamun"},
    )
    echo(
        f"\nincident {incident['id']} at Gwanghwamun ({lon}, {lat}), raised by {REQUESTER}:"
        f" cordon {incident['radius_m']:.0f} m ({incident['mode']}), answered in"
        f" {_ms(time.monotonic() - started)}"
    )
    approaches = incident["approaches"]["features"]
    chosen: list[int] = []
    echo(f"{len(approaches)} approaches:")
    for feature in approaches:
        p = feature["properties"]
        online = [c for c in sorted(p["cameras"], key=lambda c: c["rank"]) if c["online"]]
        picks = [c["camera_id"] for c in online[:best]]
        chosen.extend(c for c in picks if c not in chosen)
        watch = (
            "BLIND: no camera watches it"
            if p["blind"]
            else f"{len(p['cameras'])} cameras, best "
            + ", ".join(
                f"#{c['camera_id']} ({c['dori_level']}, {c['distance_m']:.0f} m"
                f"{', facing traffic' if c.get('faces_traffic') else ''})"
                for c in online[:best]
            )
        )
        road = p["road_name"] or "(unnamed)"
        echo(
            f"  {p['id']:>3} {road} [{p['highway']}{', main' if p['main'] else ''}]"
            f" bearing {p['bearing_deg']:.0f}°: {watch}"
        )
    chosen = chosen[:limit]
    if not chosen:
        raise DemoError("no online camera watches any approach: nothing to provision")
    # The selected real cameras' video comes from the simulator (their source URLs are secret).
    sources = map_cameras([str(c) for c in chosen], cameras=sim.cameras, port=sim.port)
    with engine.begin() as conn:
        camera_sources.set_camera_sources(
            conn, {int(k): v for k, v in sources.items()}, actor=ACTOR
        )

    requested_at = time.monotonic()
    feeds = api.call(
        "POST", f"/v1/incidents/{incident['id']}/feeds", "requester", {"camera_ids": chosen}
    )
    items = feeds["items"]
    echo(
        f"\n{len(items)} feeds requested under activation {feeds['activation']['id']}"
        f" ({feeds['activation']['basis_ko']}):"
    )
    for owner_id, owner in sorted({(i["owner"]["id"], i["owner"]["name"]) for i in items}):
        pending = [i for i in items if i["owner"]["id"] == owner_id and i["status"] == "pending"]
        if not pending:
            continue
        _make_key(engine, api, f"owner-{owner_id}", owner, "municipal_centre")
        for item in pending:
            api.call("POST", f"/v1/feed-requests/{item['id']}/approve", f"owner-{owner_id}", {})
        echo(f"  {owner} approved {len(pending)} (routed via {pending[0]['routed_via']['name']})")
    offers = {}
    for item in items:
        collected = api.call("POST", f"/v1/feed-requests/{item['id']}/credential", "requester")
        offers[item["camera_id"]] = collected["credential"]
    streams = {cam: offer["viewer"][0]["stream"] for cam, offer in offers.items()}
    wait_flowing(relay, streams.values(), timeout_s=5.0)
    flowing_s = time.monotonic() - requested_at
    echo(
        f"\nlive relay streams (Janus {relay.viewer_url}), all flowing"
        f" {_ms(flowing_s)} after the request:"
    )
    for cam, stream in streams.items():
        status = relay.status(stream)
        offer = offers[cam]
        echo(
            f"  camera #{cam:<8} stream {stream}  {status.codec or '?'}  media age"
            f" {status.media_age_ms} ms  viewers {status.viewers}  expires {offer['expires_at']}"
        )

    closed_at = time.monotonic()
    api.call("POST", f"/v1/incidents/{incident['id']}/close", "requester", {"reason": "demo over"})
    revoked_s = time.monotonic() - closed_at
    left = [s for s in streams.values() if relay.status(s).present]
    listing = api.call("GET", f"/v1/incidents/{incident['id']}/feeds", "requester")["items"]
    states = sorted({i["status"] for i in listing})
    echo(
        f"\nincident {incident['id']} closed: {len(streams) - len(left)} of {len(streams)} relay"
        f" streams destroyed in {_ms(revoked_s)}; feed requests now {', '.join(states)};"
        f" relay streams left: {len(left)}"
    )
    api.call("POST", f"/v1/activations/{activation['id']}/end", "regional", {"reason": "demo over"})
    echo(f"activation {activation['id']} ended; the audit trail holds every step")
    if left:
        raise DemoError(f"{len(left)} relay streams outlived the incident")
    return {
        "incident": incident["id"],
        "approaches": len(approaches),
        "feeds": len(streams),
        "flowing_s": flowing_s,
        "revoked_s": revoked_s,
    }
