"""Cameras added and retired reach every worker of a running ``gilmok serve --workers 2``
within 2 s, and a worker started afterwards answers the same from the shared snapshot.

A real server on a committed copy of the Mapo world (tests/mapo_world.py), no import and no
restart. 마포구's centre adds a dome camera on a blind approach through ``POST /v1/cameras``,
the registry's operator adds another with ``gilmok cameras add``; each must watch its approach
in both workers' answers (each worker names itself in ``X-Gilmok-Worker``) within 2 s of the
write. The first is then retired with ``DELETE /v1/cameras/{id}`` and must be gone from both
within 2 s. Then, at points around the changes and anywhere near Gongdeok, the workers'
answers must equal those of a snapshot rebuilt from the database in this process, and a
``gilmok serve`` started only now — which maps the machine's snapshot of the same registry
version, built before the changes, and replays the change log on top — must answer the same.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import shapely
from mapo_world import MAPO_POINT, build_mapo_world
from scratch_db import database_env, scratch_database
from sqlalchemy import text
from test_live_changes import WITHIN_S, Poller, _call, _free_port

from api.live_changes import SEQ_HEADER
from api.settings import Settings
from geo.cordon import CordonOptions
from geo.errors import GilmokError
from geo.incident import answer_incident
from geo.store import connect
from geo.store.snapshot import load_snapshot

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.db
#: What an answer is compared on: every approach, and every watcher in rank order with what
#: ranks it (a since-time is when a process heard of it, not part of the answer compared).
CAMERA_KEYS = ("approach", "camera_id", "rank", "kind", "dori_level", "px_per_m", "facing",
               "distance_m", "online", "status", "confidence")  # fmt: skip
APPROACH_KEYS = ("id", "direction", "name", "main", "bearing_deg", "blind", "online_cameras")


def _serve(env: dict[str, str], workers: int, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    command = [sys.executable, "-m", "api.cli", "serve", "--workers", str(workers),
               "--port", str(port)]  # fmt: skip
    with log.open("wb") as out:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
    deadline = time.monotonic() + 240
    while log.read_text().count("registry snapshot loaded before serving") < workers:
        assert server.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
    return server, f"http://127.0.0.1:{port}"


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    server.wait(timeout=30)


def _round(value: Any) -> Any:
    return round(value, 6) if isinstance(value, float) else value


def _essence(answer: dict[str, Any]) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """(approaches, watchers) of a GeoJSON answer, in order, with the compared fields."""
    props = [f["properties"] for f in answer["features"]]
    return (
        [tuple(_round(p.get(k)) for k in APPROACH_KEYS) for p in props if p["role"] == "approach"],
        [tuple(_round(p.get(k)) for k in CAMERA_KEYS) for p in props if p["role"] == "camera"],
    )


def _watching(answer: dict[str, Any], camera: int) -> set[str]:
    return {
        f["properties"]["approach"]
        for f in answer["features"]
        if f["properties"]["role"] == "camera" and f["properties"]["camera_id"] == camera
    }


def _blind_stretches(answer: dict[str, Any]) -> list[tuple[str, tuple[float, float]]]:
    """Blind approaches and the middle of each one's watch stretch (lon, lat), apart."""
    blind = {
        f["properties"]["id"]
        for f in answer["features"]
        if f["properties"]["role"] == "approach" and f["properties"]["blind"]
    }
    out: list[tuple[str, tuple[float, float]]] = []
    for f in answer["features"]:
        p = f["properties"]
        if p["role"] == "watch_stretch" and p["approach"] in blind:
            mid = shapely.geometry.shape(f["geometry"]).interpolate(0.5, normalized=True)
            if all(abs(mid.x - x) + abs(mid.y - y) > 0.002 for _, (x, y) in out):
                out.append((p["approach"], (mid.x, mid.y)))
    return out


def _url(base: str, lon: float, lat: float) -> str:
    return f"{base}/v1/approaches?lon={lon:.6f}&lat={lat:.6f}&radius_m=500"


def _rebuilt_answer(url: Any, settings: Settings, lon: float, lat: float) -> Any:
    """The answer of a snapshot loaded afresh from the database (None outside the roads)."""
    engine = connect(url)
    try:
        with engine.connect() as conn:
            snapshot = load_snapshot(
                conn, crs=settings.working_crs, max_range_m=settings.max_coverage_range_m
            )
    finally:
        engine.dispose()
    lon, lat = float(f"{lon:.6f}"), float(f"{lat:.6f}")  # as the query string carries them
    try:
        network = snapshot.network_for(lon, lat)
        answer = answer_incident(network.roads, snapshot.index, (lon, lat),
                                 CordonOptions(radius_m=500.0))  # fmt: skip
    except GilmokError:
        return None
    return orjson.loads(orjson.dumps(answer.to_geojson(arrays=True),
                                     option=orjson.OPT_SERIALIZE_NUMPY))  # fmt: skip


def _say(what: str, lags: dict[str, float]) -> None:
    """Print (``pytest -s``) how soon each worker answered with a change."""
    print(f"{what}: each worker saw it after {sorted(round(v, 2) for v in lags.values())} s")


def _until_both(
    poller: Poller, written: float, check: Any, *, timeout_s: float = 10.0
) -> dict[str, float]:
    """Seconds from ``written`` to each worker's first answer passing ``check`` for good."""
    poller.seen.clear()
    poller.until(
        lambda: (
            len(poller.workers()) == 2
            and all(poller.first(w, written, check) < 99 for w in poller.workers())
        ),
        timeout_s=timeout_s,
    )
    return {w: poller.first(w, written, check) for w in poller.workers()}


def test_added_and_retired_cameras_reach_every_worker_and_a_new_one(
    base_settings: Settings, data_dir: Path, tmp_path: Path
) -> None:
    with scratch_database(base_settings.owner_database_url) as url:
        engine = connect(url)
        with engine.begin() as conn:
            world = build_mapo_world(conn, data_dir, base_settings)
            centre = conn.execute(
                text("SELECT name FROM organization WHERE id = :id"),
                {"id": world.orgs["municipal_centre"]},
            ).scalar_one()
        engine.dispose()
        snapshots = tmp_path / "snapshots"
        env = {**os.environ, **database_env(url, base_settings), "PYTHONUNBUFFERED": "1",
               "GILMOK_SNAPSHOT_DIR": str(snapshots)}  # fmt: skip
        owner, requester = world.keys["municipal_centre"], world.keys["requester"]
        server, base = _serve(env, 2, tmp_path / "serve.log")
        late = None
        try:
            versions = sorted(p.name for p in snapshots.iterdir())
            assert len(versions) == 1  # built once, by one of the two workers
            poller = Poller(_url(base, *MAPO_POINT), requester)
            poller.until(lambda: len(poller.workers()) == 2, timeout_s=60)
            (a1, (lon1, lat1)), (a2, (lon2, lat2)) = _blind_stretches(poller.seen[-1][2])[:2]

            # 1. added through the API: it watches its blind approach in both workers
            status, _, body = _call(
                f"{base}/v1/cameras", owner, method="POST",
                body={"key": "MP-NEW-1", "lon": lon1, "lat": lat1, "kind": "dome"},
            )  # fmt: skip
            assert status == 201, body
            written, api_cam = time.monotonic(), body["camera_id"]
            lags = _until_both(poller, written, lambda b: a1 in _watching(b, api_cam))
            _say("added through the API", lags)
            assert max(lags.values()) <= WITHIN_S, lags

            # 2. added from the command line, as the registry's operator
            added = subprocess.run(
                [sys.executable, "-m", "api.cli", "cameras", "add", "--centre", centre,
                 "--key", "MP-NEW-2", "--lon", f"{lon2}", "--lat", f"{lat2}", "--kind", "ptz"],
                cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            written = time.monotonic()
            assert added.returncode == 0, added.stdout + added.stderr
            cli_cam = int(added.stdout.split()[1])
            lags = _until_both(poller, written, lambda b: a2 in _watching(b, cli_cam))
            _say("added from the command line", lags)
            assert max(lags.values()) <= WITHIN_S, lags
            again = subprocess.run(
                [sys.executable, "-m", "api.cli", "cameras", "add", "--centre", centre,
                 "--key", "MP-NEW-2", "--lon", f"{lon2}", "--lat", f"{lat2}", "--kind", "ptz"],
                cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            assert again.returncode == 1
            said = (again.stdout + again.stderr).strip()
            assert said.count("\n") == 0, said  # one line, no traceback
            assert f"camera {cli_cam} already has this key" in said

            # 3. the API's camera retired: gone from both workers
            status, _, body = _call(
                f"{base}/v1/cameras/{api_cam}?reason=dismantled", owner, method="DELETE"
            )
            assert status == 200, body
            written, seq = time.monotonic(), body["seq"]
            lags = _until_both(poller, written, lambda b: not _watching(b, api_cam))
            _say("retired through the API", lags)
            assert max(lags.values()) <= WITHIN_S, lags

            # 4. answers equal a snapshot rebuilt from the database, and a server started now
            rng = random.Random(15)
            points = [MAPO_POINT, (lon1, lat1), (lon2, lat2)] + [
                (MAPO_POINT[0] + rng.uniform(-0.006, 0.006),
                 MAPO_POINT[1] + rng.uniform(-0.006, 0.006))
                for _ in range(6)
            ]  # fmt: skip
            running = {}
            for lon, lat in points:
                status, headers, body = _call(_url(base, lon, lat), requester)
                assert int(headers[SEQ_HEADER]) >= seq
                running[(lon, lat)] = body if status == 200 else None
            assert sum(a is not None for a in running.values()) >= 5
            for (lon, lat), answer in running.items():
                rebuilt = _rebuilt_answer(url, base_settings, lon, lat)
                assert (rebuilt is None) == (answer is None), (lon, lat)
                if answer is not None:
                    assert rebuilt is not None
                    assert _essence(answer) == _essence(rebuilt), (lon, lat)
            at_gongdeok = running[MAPO_POINT]
            assert at_gongdeok is not None
            assert a2 in _watching(at_gongdeok, cli_cam)
            assert api_cam not in {w[1] for a in running.values() if a for w in _essence(a)[1]}

            late, late_base = _serve(env, 1, tmp_path / "late.log")
            assert sorted(p.name for p in snapshots.iterdir()) == versions  # mapped, not rebuilt
            for (lon, lat), answer in running.items():
                status, _, body = _call(_url(late_base, lon, lat), requester)
                assert (status == 200) == (answer is not None), (lon, lat, body)
                if status == 200:
                    assert answer is not None
                    assert _essence(body) == _essence(answer), (lon, lat)
            for log in ("serve.log", "late.log"):
                assert "Traceback" not in (tmp_path / log).read_text()
        finally:
            _stop(server)
            if late is not None:
                _stop(late)
