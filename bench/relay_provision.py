"""Benchmark: provision call to media flowing, and revocation, for 1, 4 and 16 cameras at once.

Runs a private Janus and the camera simulator on free ports, then for each batch size and
repeat provisions N simulated cameras concurrently, polls until every stream carries media,
and revokes them all, timing each phase. A baseline is measured in the same run: the same
work done the way a naive script would, with a fresh Janus API session (create, attach,
message, destroy; new HTTP connection each) for every single call.

Goals (issue 6): p95 under 2 s to media flowing for 16 cameras; revocation under 1 s.

Usage: ``.venv/bin/python bench/relay_provision.py [--repeats 20] [--sizes 1,4,16]``
"""

from __future__ import annotations

import argparse
import json
import secrets
import socket
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from api.relay import Grant, wait_flowing
from api.relay.base import utc_now
from api.relay.camsim import CameraSimulator
from api.relay.janus import FLOWING_MAX_AGE_MS, JanusRelay
from api.relay.janus_process import JanusProcess, janus_secrets
from api.relay.settings import RelaySettings

POLL_S = 0.005


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Timings:
    """Seconds per repeat for one method and batch size."""

    create: list[float] = field(default_factory=list)  # each provision call, per stream
    flowing: list[float] = field(default_factory=list)  # batch start → all N flowing
    revoke: list[float] = field(default_factory=list)  # revoke start → all N confirmed gone


class NaiveJanus:
    """Janus driven as a one-off script would: a new API session for every request."""

    def __init__(self, settings: RelaySettings, master: str) -> None:
        self.base = f"http://{settings.host}:{settings.port}/janus"
        self.sec = janus_secrets(master)

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        payload = {**body, "transaction": secrets.token_hex(4), "apisecret": self.sec["api_secret"]}
        req = urllib.request.Request(self.base + path, data=json.dumps(payload).encode())
        with urllib.request.urlopen(req, timeout=10) as resp:
            return dict(json.load(resp))

    def message(self, body: dict[str, Any]) -> dict[str, Any]:
        session = self._post("", {"janus": "create"})["data"]["id"]
        handle = self._post(f"/{session}", {"janus": "attach", "plugin": "janus.plugin.streaming"})
        reply = self._post(f"/{session}/{handle['data']['id']}", {"janus": "message", "body": body})
        self._post(f"/{session}", {"janus": "destroy"})
        return dict(reply["plugindata"]["data"])

    def create(self, stream: str, url: str) -> None:
        data = self.message(
            {"request": "create", "admin_key": self.sec["admin_key"], "type": "rtsp",
             "id": stream, "url": url, "audio": False, "video": True, "secret": "s",
             "pin": "p", "is_private": True, "permanent": False}
        )  # fmt: skip
        assert "error_code" not in data, data

    def flowing(self, stream: str) -> bool:
        info = self.message({"request": "info", "id": stream, "secret": "s"}).get("info", {})
        ages = [m.get("age_ms", 10**9) for m in info.get("media", [])]
        return bool(ages) and min(ages) < FLOWING_MAX_AGE_MS

    def destroy(self, stream: str) -> None:
        self.message({"request": "destroy", "id": stream, "secret": "s"})

    def gone(self, stream: str) -> bool:
        data = self.message({"request": "info", "id": stream, "secret": "s"})
        return data.get("error_code") == 455


def _timed(func: Callable[[], Any]) -> tuple[float, Any]:
    start = time.monotonic()
    result = func()
    return time.monotonic() - start, result


def run_gilmok(relay: JanusRelay, urls: list[str], out: Timings) -> None:
    expires = utc_now() + timedelta(minutes=5)

    def provision(url: str) -> tuple[float, str]:
        took, stream = _timed(lambda: relay.provision("bench", url, Grant("bench-room", expires)))
        return took, stream.relay_stream_id

    start = time.monotonic()
    with ThreadPoolExecutor(len(urls)) as pool:
        made = list(pool.map(provision, urls))
    ids = [sid for _, sid in made]
    wait_flowing(relay, ids, timeout_s=10, poll_s=POLL_S)
    out.flowing.append(time.monotonic() - start)
    out.create.extend(took for took, _ in made)
    start = time.monotonic()
    with ThreadPoolExecutor(len(ids)) as pool:
        list(pool.map(relay.revoke, ids))
    assert not any(relay.status(sid).present for sid in ids)
    out.revoke.append(time.monotonic() - start)


def run_naive(naive: NaiveJanus, urls: list[str], out: Timings) -> None:
    ids = [f"naive{secrets.token_hex(6)}" for _ in urls]

    def create_and_wait(pair: tuple[str, str]) -> float:
        sid, url = pair
        took, _ = _timed(lambda: naive.create(sid, url))
        while not naive.flowing(sid):
            time.sleep(POLL_S)
        return took

    start = time.monotonic()
    with ThreadPoolExecutor(len(urls)) as pool:
        out.create.extend(pool.map(create_and_wait, zip(ids, urls, strict=True)))
    out.flowing.append(time.monotonic() - start)

    def destroy(sid: str) -> None:
        naive.destroy(sid)
        assert naive.gone(sid)

    start = time.monotonic()
    with ThreadPoolExecutor(len(ids)) as pool:
        list(pool.map(destroy, ids))
    out.revoke.append(time.monotonic() - start)


def _ms(values: list[float], q: float) -> str:
    return f"{np.percentile(np.asarray(values) * 1000, q):7.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="Repeats per batch size.")
    parser.add_argument("--sizes", default="1,4,16", help="Comma-separated batch sizes.")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    master = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="gilmok-bench-") as runtime:
        settings = RelaySettings(
            port=_free_port(),
            admin_port=_free_port(),
            ws_port=_free_port(),
            secret=master,
            runtime_dir=Path(runtime),
            media_ports=(23000, 23199),
            source_ports=(23200, 23799),
        )
        with JanusProcess(settings), CameraSimulator(cameras=max(sizes), port=0) as sim:
            relay = JanusRelay(settings)
            naive = NaiveJanus(settings, master)
            # Real cameras encode all the time; a simulated one starts its encoder for its first
            # client and stops it after the last. One untimed keeper stream per camera keeps
            # every camera running, so that both methods meet the same, realistic, warm source.
            keepers = [f"keeper{c}" for c in range(1, max(sizes) + 1)]
            for c, keeper in enumerate(keepers, start=1):
                naive.create(keeper, sim.url(c))
            run_gilmok(relay, [sim.url(c) for c in range(1, max(sizes) + 1)], Timings())
            results: dict[tuple[str, int], Timings] = {}
            for n in sizes:
                urls = [sim.url(c) for c in range(1, n + 1)]
                mine, base = Timings(), Timings()
                for repeat in range(args.repeats):
                    # Alternate who goes first so neither always meets the warmer camera.
                    order = [(run_gilmok, relay, mine), (run_naive, naive, base)]
                    for runner, driver, out in order if repeat % 2 == 0 else order[::-1]:
                        runner(driver, urls, out)  # type: ignore[operator]
                results[("gilmok", n)], results[("naive", n)] = mine, base
            for keeper in keepers:
                naive.destroy(keeper)
            relay.close()
    print(f"relay provisioning, {args.repeats} repeats per size (ms; Janus 1.1.2, loopback)")
    header = (
        f"{'cameras':>7}  {'method':<7}  {'create med':>10}  {'flowing med':>11}  "
        f"{'flowing p95':>11}  {'revoke med':>10}  {'revoke p95':>10}"
    )
    print(header)
    print("-" * len(header))
    for (method, n), t in results.items():
        print(
            f"{n:>7}  {method:<7}  {_ms(t.create, 50):>10}  {_ms(t.flowing, 50):>11}  "
            f"{_ms(t.flowing, 95):>11}  {_ms(t.revoke, 50):>10}  {_ms(t.revoke, 95):>10}"
        )
    print(
        "create: one provision call; flowing: batch start until every stream carries media; "
        "revoke: until every stream is confirmed gone. naive = fresh API session per call."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
