"""``gilmok serve``: gunicorn workers load the registry snapshot before they take requests.

A national snapshot takes a minute or more to load; loaded inside the first request, it kept the
sync worker silent past gunicorn's timeout and the worker was killed and rebooted, again and
again. Here a real server (one worker) on the real central-Seoul registry must log the load
before it answers anything, then answer the spatial endpoint from that snapshot.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from real_registry import real_registry_url

from geo.settings import Settings
from geo.store import connect, orgs

ROOT = Path(__file__).resolve().parents[1]

# the registry lives in a database of its own (no fixture of conftest's DB_FIXTURES)
pytestmark = pytest.mark.db


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, key: str | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_workers_load_the_snapshot_before_serving(
    base_settings: Settings, data_dir: Path, tmp_path: Path
) -> None:
    url = real_registry_url(base_settings.database_url, data_dir)
    engine = connect(url)
    name = f"serve test {uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        orgs.create_organization(conn, name=name, kind="military_unit", actor="test")
        key = orgs.create_api_key(conn, organization=name, role="requester", actor="test")[1]
    engine.dispose()
    port = _free_port()
    log = tmp_path / "serve.log"
    env = {
        **os.environ,
        "GILMOK_DATABASE_URL": url.render_as_string(hide_password=False),
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-m", "api.cli", "serve", "--workers", "1", "--port", str(port)]
    with log.open("wb") as out:
        server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                status, _ = _get(f"{base}/healthz")
                break
            except OSError:
                time.sleep(0.2)
        # read as soon as the one worker first answered: it had logged the load already
        text = log.read_text()
        assert "registry snapshot loaded before serving" in text, text
        assert "WORKER TIMEOUT" not in text
        status, body = _get(f"{base}/v1/approaches?lon=126.9769&lat=37.5759&radius_m=500", key)
        assert status == 200, body[:300]
        assert b'"role":"approach"' in body
    finally:
        server.terminate()
        server.wait(timeout=30)
