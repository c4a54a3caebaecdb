"""Camera changes reach every worker of a running ``gilmok serve --workers 2`` within 2 s.

A real server on a committed copy of the Mapo world (tests/mapo_world.py), no import and no
restart: the owning centre sets a camera offline through the API, then corrects another
camera's heading; requests, two at a time, are answered by both workers (each names itself
in ``X-Gilmok-Worker``) and each worker must rank the camera offline, and drop the approach
the new heading no longer sees, within 2 s of the change's answer. What the new heading
watches is decided beforehand by the coverage drawn in this process from the camera's stored
parameters, and checked against PostGIS's redrawn coverage afterwards.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import shapely
from mapo_world import MAPO_POINT, build_mapo_world
from scratch_db import database_env, scratch_database
from sqlalchemy import text

from api.live_changes import SEQ_HEADER, WORKER_HEADER
from api.settings import Settings
from geo.crs import transform_geometry
from geo.index import camera_coverage
from geo.store import connect

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.db
#: The promise: a change is in every worker's answers this many seconds after it is written.
WITHIN_S = 2.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _call(
    url: str, key: str, *, method: str = "GET", body: Any = None
) -> tuple[int, dict[str, str], Any]:
    headers = {"Authorization": f"Bearer {key}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, headers=headers, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def _cameras_by_approach(answer: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for f in answer["features"]:
        p = f["properties"]
        if p["role"] == "camera":
            out.setdefault(p["approach"], []).append(p)
    return out


class Poller:
    """Asks for the approaches two at a time and keeps, per worker, every answer's time."""

    def __init__(self, url: str, key: str) -> None:
        self.url, self.key = url, key
        self.seen: list[tuple[float, str, dict[str, Any]]] = []

    def until(self, done: Callable[[], bool], *, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s

        def one() -> None:
            status, headers, body = _call(self.url, self.key)
            assert status == 200, body
            self.seen.append((time.monotonic(), headers[WORKER_HEADER], body))

        while not done():
            assert time.monotonic() < deadline, "no answer from both workers in time"
            threads = [threading.Thread(target=one) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

    def workers(self) -> set[str]:
        return {w for _, w, _ in self.seen}

    def first(self, worker: str, after: float, check: Callable[[dict[str, Any]], bool]) -> float:
        """Seconds from ``after`` to the first answer of ``worker`` passing ``check`` (every
        later answer of that worker passing it too); inf when none did."""
        mine = [(t, b) for t, w, b in self.seen if w == worker and t >= after]
        for i, (t, _) in enumerate(mine):
            if all(check(b) for _, b in mine[i:]):
                return t - after
        return float("inf")


def test_changes_reach_every_worker_within_two_seconds(
    base_settings: Settings, data_dir: Path, tmp_path: Path
) -> None:
    with scratch_database(base_settings.owner_database_url) as url:
        engine = connect(url)
        with engine.begin() as conn:
            world = build_mapo_world(conn, data_dir, base_settings)
        port = _free_port()
        log = tmp_path / "serve.log"
        env = {**os.environ, **database_env(url, base_settings), "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "api.cli", "serve", "--workers", "2", "--port", str(port)]
        with log.open("wb") as out:
            server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
        base = f"http://127.0.0.1:{port}"
        lon, lat = MAPO_POINT
        approaches = f"{base}/v1/approaches?lon={lon}&lat={lat}&radius_m=500"
        owner, requester = world.keys["municipal_centre"], world.keys["requester"]
        try:
            deadline = time.monotonic() + 240
            while log.read_text().count("registry snapshot loaded before serving") < 2:
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
            poller = Poller(approaches, requester)
            poller.until(lambda: len(poller.workers()) == 2, timeout_s=60)
            answer = poller.seen[-1][2]
            by_approach = _cameras_by_approach(answer)

            # 1. the best camera of an approach watched by two or more, set offline
            approach, cams = next((a, c) for a, c in by_approach.items() if len(c) >= 2)
            best = cams[0]["camera_id"]
            assert cams[0]["status"] == "online"
            status, headers, body = _call(
                f"{base}/v1/cameras/{best}", owner, method="PATCH",
                body={"status": "offline", "reason": "fibre cut"},
            )  # fmt: skip
            assert status == 200, body
            written, seq = time.monotonic(), body["seq"]

            def ranked_offline(b: dict[str, Any]) -> bool:
                mine = _cameras_by_approach(b)[approach]
                return bool(mine[-1]["camera_id"] == best and mine[-1]["status"] == "offline")

            def offline_everywhere() -> bool:
                return all(poller.first(w, written, ranked_offline) < 99 for w in poller.workers())

            poller.until(offline_everywhere, timeout_s=10)
            lags = {w: poller.first(w, written, ranked_offline) for w in poller.workers()}
            assert len(lags) == 2
            assert max(lags.values()) <= WITHIN_S, lags
            _, headers, _ = _call(approaches, requester)
            assert int(headers[SEQ_HEADER]) >= seq

            # 2. a corrected heading: a fixed camera turned away from an approach it watches
            turned = _turn_away(conn_url=url, by_approach=by_approach, answer=answer, best=best)
            assert turned is not None, "no fixed camera here whose heading decides an approach"
            cam, heading, lost = turned
            status, _, body = _call(
                f"{base}/v1/cameras/{cam}", owner, method="PATCH", body={"heading_deg": heading}
            )
            assert status == 200, body
            written = time.monotonic()

            def turned_away(b: dict[str, Any]) -> bool:
                return all(c["camera_id"] != cam for c in _cameras_by_approach(b).get(lost, []))

            poller.seen.clear()
            poller.until(
                lambda: (
                    len(poller.workers()) == 2
                    and all(poller.first(w, written, turned_away) < 99 for w in poller.workers())
                ),
                timeout_s=10,
            )
            lags = {w: poller.first(w, written, turned_away) for w in poller.workers()}
            assert max(lags.values()) <= WITHIN_S, lags
            # PostGIS redrew the stored coverage alike: it no longer meets that stretch
            stretch = next(
                f["geometry"] for f in answer["features"]
                if f["properties"]["role"] == "watch_stretch" and f["properties"]["approach"] == lost
            )  # fmt: skip
            with engine.connect() as conn:
                meets = conn.execute(
                    text(
                        "SELECT ST_Intersects(geom, ST_Transform(ST_SetSRID("
                        "ST_GeomFromGeoJSON(:g), 4326), 5179)) FROM coverage WHERE camera_id = :c"
                    ),
                    {"g": json.dumps(stretch), "c": cam},
                ).scalar_one()
            assert meets is False
            assert "Traceback" not in log.read_text()
        finally:
            server.terminate()
            server.wait(timeout=30)
            engine.dispose()


def _turn_away(
    *, conn_url: Any, by_approach: dict[str, list[dict[str, Any]]], answer: dict[str, Any],
    best: int,
) -> tuple[int, float, str] | None:  # fmt: skip
    """A fixed camera watching an approach, a heading (degrees from north) whose coverage —
    drawn here from the camera's stored parameters — no longer meets that approach's stretch,
    and the approach."""
    stretches = {
        f["properties"]["approach"]: shapely.geometry.shape(f["geometry"])
        for f in answer["features"]
        if f["properties"]["role"] == "watch_stretch"
    }
    engine = connect(conn_url)
    try:
        with engine.connect() as conn:
            for approach, cams in by_approach.items():
                for c in cams:
                    if c["kind"] != "fixed" or c["camera_id"] == best:
                        continue
                    row = conn.execute(
                        text(
                            "SELECT ST_X(ST_Transform(position, 4326)) AS lon,"
                            " ST_Y(ST_Transform(position, 4326)) AS lat, fov_deg,"
                            " resolution_px_h FROM camera WHERE id = :id"
                        ),
                        {"id": c["camera_id"]},
                    ).one()
                    line = transform_geometry(
                        [stretches[approach]], source="EPSG:4326", target="EPSG:5179"
                    )[0]
                    for heading in np.arange(0.0, 360.0, 30.0):
                        cov = camera_coverage(
                            [row.lon], [row.lat], kind=["fixed"], heading_deg=[heading],
                            fov_deg=[row.fov_deg], resolution_px_h=[row.resolution_px_h],
                            heading_source=["surveyed"],
                        )  # fmt: skip
                        if not shapely.intersects(cov.polygons[0], line):
                            return int(c["camera_id"]), float(heading), approach
    finally:
        engine.dispose()
    return None
