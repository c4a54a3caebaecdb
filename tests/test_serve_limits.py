"""``gilmok serve`` as deployed, attacked at its edges (issue 12, item 9): what gunicorn refuses
itself is answered in the JSON error shape, one API key's rate limit is shared by every worker,
and two servers of one user do not share (and delete) one gunicorn control socket.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from scratch_db import database_env, scratch_database
from sqlalchemy.engine import URL

from api.keys import issue_api_key
from api.settings import Settings
from geo.store import connect, orgs

pytestmark = pytest.mark.db

ROOT = Path(__file__).resolve().parents[1]
ERROR_KEYS = {"code", "message", "details"}
BBOX = "/v1/cameras?bbox=126.97,37.57,126.98,37.58"


@pytest.fixture(scope="module")
def served_url(base_settings: Settings) -> Iterator[URL]:
    """A migrated database of its own (no registry: the servers start without a snapshot)."""
    with scratch_database(base_settings.owner_database_url) as url:
        yield url


@pytest.fixture(scope="module")
def key(served_url: URL) -> str:
    engine = connect(served_url)
    with engine.begin() as conn:
        orgs.create_organization(conn, name="제56보병사단", kind="military_unit", actor="test")
        made = issue_api_key(conn, organization="제56보병사단", role="requester", actor="test")
    engine.dispose()
    return made[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """One ``gilmok serve`` in a subprocess, its output in ``log``."""

    def __init__(
        self, url: URL, home: Path, *, workers: int, env: dict[str, str], settings: Settings
    ) -> None:
        self.port = _free_port()
        self.log = home / f"serve-{self.port}.log"
        environ = {
            **os.environ,
            **env,
            **database_env(url, settings),  # serve logs in as the service, not the owner
            "PYTHONUNBUFFERED": "1",
            # gunicorn's default control socket lives under these
            "HOME": str(home),
            "XDG_RUNTIME_DIR": str(home / "run"),
        }
        command = [sys.executable, "-m", "api.cli", "serve", "--workers", str(workers),
                   "--port", str(self.port)]  # fmt: skip
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, env=environ, stdout=out, stderr=out)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 120
        while True:
            assert self.process.poll() is None, self.log.read_text()
            assert time.monotonic() < deadline, self.log.read_text()
            try:
                self.get("/healthz")
                return
            except OSError:
                time.sleep(0.2)

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
        request = urllib.request.Request(self.base + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


def _error(status: int, body: bytes, expected: int, code: str) -> dict:
    assert status == expected, body[:300]
    payload = json.loads(body)
    assert set(payload) == ERROR_KEYS, payload
    assert payload["code"] == code
    return payload


def test_what_gunicorn_refuses_is_answered_in_the_error_shape(
    served_url: URL, key: str, tmp_path: Path, servers: list[Server], base_settings: Settings
) -> None:
    server = Server(served_url, tmp_path, workers=1, env={}, settings=base_settings)
    servers.append(server)
    status, headers, body = server.get(BBOX, {"X-Padding": "x" * 9000})
    assert headers["Content-Type"] == "application/json"
    payload = _error(status, body, 431, "request_headers_too_large")
    assert payload["details"]["max_field_bytes"] == 8190
    status, headers, body = server.get(BBOX + "&pad=" + "x" * 5000)
    assert headers["Content-Type"] == "application/json"
    _error(status, body, 414, "request_line_too_long")
    # a request line that is not HTTP at all
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1 extra\r\n\r\n")
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head
    _error(400, body, 400, "malformed_request")
    # and the server still answers
    status, _, _ = server.get(BBOX, {"Authorization": f"Bearer {key}"})
    assert status == 200


def test_one_keys_rate_limit_is_shared_by_every_worker(
    served_url: URL, key: str, tmp_path: Path, servers: list[Server], base_settings: Settings
) -> None:
    server = Server(
        served_url,
        tmp_path,
        workers=2,
        env={"GILMOK_RATE_LIMIT": "10/minute"},
        settings=base_settings,
    )
    servers.append(server)
    headers = {"Authorization": f"Bearer {key}"}
    answers: list[tuple[int, dict, bytes]] = []
    lock = threading.Lock()

    def client() -> None:
        for _ in range(5):
            # a connection per request, six at once: both sync workers take some
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            conn.request("GET", BBOX, headers=headers)
            response = conn.getresponse()
            with lock:
                answers.append((response.status, dict(response.headers), response.read()))
            conn.close()

    threads = [threading.Thread(target=client) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(a[0] for a in answers)
    # counted per process, two workers would have let up to 20 through
    assert statuses.count(200) == 10, statuses
    assert statuses.count(429) == 20, statuses
    refused = next(a for a in answers if a[0] == 429)
    payload = _error(refused[0], refused[2], 429, "rate_limited")
    assert 1 <= int(refused[1]["Retry-After"]) <= 60
    assert payload["details"]["retry_after_s"] == int(refused[1]["Retry-After"])
    # another key is not limited by this one's spending; health checks never are
    status, _, _ = server.get("/healthz")
    assert status == 200


def test_two_servers_of_one_user_both_keep_running(
    served_url: URL, key: str, tmp_path: Path, servers: list[Server], base_settings: Settings
) -> None:
    first = Server(served_url, tmp_path, workers=1, env={}, settings=base_settings)
    servers.append(first)
    second = Server(served_url, tmp_path, workers=1, env={}, settings=base_settings)
    servers.append(second)
    headers = {"Authorization": f"Bearer {key}"}
    second.stop()
    assert first.process.poll() is None, first.log.read_text()
    status, _, _ = first.get(BBOX, headers)
    assert status == 200
    # no gunicorn control socket anywhere: none to share, none for the other's stop to delete
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".ctl")]
    assert "control socket" not in first.log.read_text().lower()
    first.stop()
    assert first.process.returncode == 0, first.log.read_text()
