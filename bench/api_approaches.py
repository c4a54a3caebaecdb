"""Benchmark: ``GET /v1/approaches`` and the bounding-box endpoints through ``gilmok serve``.

Usage: ``.venv/bin/python bench/api_approaches.py [--seconds 10] [--connections 2,8] [--keep-db]``
(national scale: ``--db gilmok_bench --reuse-db``, the database ``bench/core_query.py --keep-db``
leaves: 1.6 million cameras, 2 million road segments)

In a database made for the run (``gilmok_bench_api``, dropped at the end unless ``--keep-db``)
the real central-Seoul drive network and the real Seoul 2018 CCTV registry (with coverage) are
loaded through the store, and a requester key is made. ``gilmok serve --workers 2`` (gunicorn,
sync workers, access log on, as deployed) serves it; each worker loads its registry snapshot
before it serves, and the run starts once both have (the first one ready would otherwise serve
alone while the other still loads on the second core). ``wrk`` (Debian's; installed when missing and
this runs as root) drives ``GET /v1/approaches`` over random points on the roads — the same
points for every row — for ``--seconds`` per mode and number of connections (2: latency with
the two workers busy but no queue; 8: sustained throughput, latency then includes queueing in
front of the sync workers), reporting median and p99 latency, requests/s and every non-2xx
answer or socket error. As in production, each worker verifies the API key against
PostgreSQL on its first use and then trusts it for ``api.auth.KEY_TTL_S`` seconds, so a request
answered from the snapshot usually sends no SQL at all. The load average is printed before and
after the run: everything else running on the machine shares its cores.

Then ``GET /v1/cameras`` and ``GET /v1/coverage`` with ``limit=500``, over boxes of
``--bbox-deg`` a side centred on the same points (a district on a map), the same way; their
baseline is the store's function (``geo.store.cameras``: the SQL and the decoding of its
GeoJSON) called in sequence on one pooled connection — after its fifth call on a connection
psycopg prepares the statement and PostgreSQL may plan it generically, which is what the API's
pooled connections run. One request of each at the largest box accepted (0.5° a side, the
densest part of the data) is timed too. The server's rate limit is raised out of the way
(``GILMOK_RATE_LIMIT``): each request still counts in PostgreSQL, as deployed.

The baseline is the one of ``bench/core_query.py`` (the competent GIS analyst's statement over
the GiST-indexed tables: ST_DWithin + ST_Intersects for the circle's crossings and the coverage
meeting each stretch; pgRouting's ``pgr_drivingDistance`` for network mode), run with JIT off
on the same points: one connection in sequence for latency, then ``--baseline-clients``
connections at once for throughput. It returns rows, not a JSON answer, and does no ranking:
it is the database's share of the work only.

Everything shares this machine's cores (server, load generator, PostgreSQL).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import URL

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.keys import issue_api_key
from api.settings import Settings, load_settings
from bench.core_query import BASELINE_SQL, incident_points, load_data
from bench.national import bench_database
from geo.store import connect, orgs
from geo.store.snapshot import load_road_networks

ROOT = Path(__file__).resolve().parents[1]
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}
WORKERS = 2
#: What a worker logs once its snapshot is loaded and warmed up (api/serve.py).
_LOADED = "registry snapshot loaded before serving"


def ensure_wrk() -> str:
    """The path of ``wrk``, installed from Debian when missing (idempotent; root only)."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        sys.exit("wrk is missing: apt-get install wrk (as root), then run this again")
    print("installing wrk (Debian package)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "wrk"],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    found = shutil.which("wrk")
    assert found is not None
    return found


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, key: str, timeout: float = 30) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def start_server(url: URL, port: int, log: Path) -> subprocess.Popen[bytes]:
    # the service logs in as its own role on the bench's database (it refuses the owner's)
    service_url = load_settings().database_url.set(database=url.database)
    env = {
        **os.environ,
        "GILMOK_DATABASE_URL": service_url.render_as_string(hide_password=False),
        "PYTHONUNBUFFERED": "1",
        # counted as deployed, but never reached by one key's load
        "GILMOK_RATE_LIMIT": "100000000/minute",
    }
    command = [
        sys.executable, "-m", "api.cli", "serve", "--workers", str(WORKERS), "--port", str(port)
    ]  # fmt: skip
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    # workers load their snapshot before serving: minutes at national scale. The first one
    # ready answers /healthz while the other still loads (and takes a core): wait for both
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gilmok serve exited: see {log}")
        loaded = log.read_text(errors="replace").count(_LOADED)
        if loaded >= WORKERS:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1):
                    return server
            except (OSError, urllib.error.URLError):
                pass
        time.sleep(0.2)
    server.terminate()
    sys.exit(f"gilmok serve did not answer in 15 minutes: see {log}")


def warm_up(base: str, key: str, paths: list[str]) -> None:
    """A few concurrent requests of the mode about to be measured, on both workers (each
    worker's first answer of a mode is not one to time)."""
    statuses: list[int] = []

    def hit(i: int) -> None:
        for path in paths[i::4][:10]:
            statuses.append(_get(base + path, key, timeout=60)[0])

    threads = [threading.Thread(target=hit, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bad = [s for s in statuses if s != 200]
    if bad:
        sys.exit(f"warm-up answers were not all 200: {sorted(set(bad))}")


_LUA = """
local paths = {%s}
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format("GET", paths[i], {["Authorization"] = "Bearer %s"})
end
"""


def _seconds(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value)
    if match is None:
        raise ValueError(f"not a wrk duration: {value!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def run_wrk(
    wrk: str, base: str, key: str, paths: list[str], *, seconds: int, connections: int
) -> dict[str, float]:
    """Median, p99 (seconds), requests/s and errors of one wrk run."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_LUA % (", ".join(json.dumps(p) for p in paths), key))
    try:
        out = subprocess.run(
            [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name,
             base],
            capture_output=True,
            text=True,
            check=True,
        ).stdout  # fmt: skip
    finally:
        os.unlink(script.name)
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.MULTILINE))
    slowest = re.search(r"^\s+Latency\s+\S+\s+\S+\s+(\S+)", out, re.MULTILINE)
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket_errors = re.search(r"Socket errors: (.*)$", out, re.MULTILINE)
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return {
        "median": _seconds(latency["50"]),
        "p99": _seconds(latency["99"]),
        "max": _seconds(slowest.group(1)) if slowest else float("nan"),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "requests": float(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "errors": float(errors),
    }


def baseline(
    url: URL, mode: str, radius: int, points: np.ndarray, *, seconds: float, clients: int
) -> dict[str, float]:
    """The PostGIS baseline (JIT off): sequential latency, then throughput with ``clients``."""
    import psycopg

    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    sql = BASELINE_SQL[mode]

    def session() -> psycopg.Connection:
        conn = psycopg.connect(dsn, autocommit=True)
        conn.execute("SET jit = off")
        return conn

    with session() as conn:
        for lon, lat in points[:10]:
            conn.execute(sql, {"lon": lon, "lat": lat, "r": radius}).fetchall()
        times = []
        for lon, lat in points:
            t0 = time.perf_counter()
            conn.execute(sql, {"lon": lon, "lat": lat, "r": radius}).fetchall()
            times.append(time.perf_counter() - t0)
    done = [0] * clients
    stop = time.perf_counter() + seconds

    def work(k: int) -> None:
        with session() as conn:
            i = k
            while time.perf_counter() < stop:
                lon, lat = points[i % len(points)]
                conn.execute(sql, {"lon": lon, "lat": lat, "r": radius}).fetchall()
                done[k] += 1
                i += clients

    t0 = time.perf_counter()
    threads = [threading.Thread(target=work, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    return {
        "median": float(np.median(times)),
        "p99": float(np.percentile(times, 99)),
        "max": float(np.max(times)),
        "rps": sum(done) / elapsed,
        "requests": float(sum(done)),
        "errors": 0.0,
    }


def touch(base: str, key: str, paths: list[str]) -> int:
    """Each path once, in sequence, untimed: the tables and indexes a freshly loaded database
    has on disk come into memory (a cold read can pass the server's statement timeout). The
    number of answers that were not 200."""
    return sum(_get(base + path, key, timeout=60)[0] != 200 for path in paths)


def bbox_paths(points: np.ndarray, side_deg: float) -> dict[str, list[str]]:
    """``/v1/cameras`` and ``/v1/coverage`` paths over boxes of ``side_deg`` around ``points``."""
    boxes = [
        f"{lon - side_deg / 2:.5f},{lat - side_deg / 2:.5f},{lon + side_deg / 2:.5f},"
        f"{lat + side_deg / 2:.5f}"
        for lon, lat in points
    ]
    return {
        endpoint: [f"/v1/{endpoint}?bbox={box}&limit=500" for box in boxes]
        for endpoint in ("cameras", "coverage")
    }


def bbox_baseline(url: URL, endpoint: str, paths: list[str]) -> dict[str, float]:
    """The store's function for each box in sequence on one pooled connection."""
    from geo.store import cameras as store

    fetch = store.cameras_in_bbox if endpoint == "cameras" else store.coverage_in_bbox
    boxes = [tuple(float(v) for v in p.split("bbox=")[1].split("&")[0].split(",")) for p in paths]
    engine = connect(url, pool_size=1, max_overflow=0)
    times = []
    try:
        with engine.connect() as conn:
            for box in boxes[:10]:
                fetch(conn, box, limit=500)  # type: ignore[arg-type]
            for box in boxes:
                t0 = time.perf_counter()
                fetch(conn, box, limit=500)  # type: ignore[arg-type]
                times.append(time.perf_counter() - t0)
    finally:
        engine.dispose()
    return {
        "median": float(np.median(times)),
        "p99": float(np.percentile(times, 99)),
        "max": float(np.max(times)),
        "rps": len(times) / sum(times),
        "requests": float(len(times)),
        "errors": 0.0,
    }


def largest_box(url: URL) -> tuple[float, float, float, float]:
    """The 0.5° box around the cameras' median position (the densest part of the data)."""
    from api.spatial import MAX_BBOX_DEG

    engine = connect(url)
    with engine.connect() as conn:
        lon, lat = conn.execute(
            text(
                "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY ST_X(p)),"
                " percentile_disc(0.5) WITHIN GROUP (ORDER BY ST_Y(p))"
                " FROM (SELECT ST_Transform(position, 4326) AS p FROM camera) c"
            )
        ).one()
    engine.dispose()
    half = MAX_BBOX_DEG / 2
    return (lon - half, lat - half, lon + half, lat + half)


def timed_requests(base: str, key: str, path: str, count: int) -> dict[str, float]:
    """``count`` requests of ``path`` in sequence (after one untimed)."""
    _get(base + path, key)
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        status, _ = _get(base + path, key)
        times.append(time.perf_counter() - t0)
        if status != 200:
            sys.exit(f"{path} answered {status}")
    return {
        "median": float(np.median(times)),
        "p99": float(np.percentile(times, 99)),
        "max": float(np.max(times)),
        "rps": count / sum(times),
        "requests": float(count),
        "errors": 0.0,
    }


def run(url: URL, settings: Settings, args: argparse.Namespace) -> None:
    wrk = ensure_wrk()
    engine = connect(url)
    with engine.begin() as conn:
        if args.reuse_db:
            counts = conn.execute(
                text("SELECT (SELECT count(*) FROM road_segment), (SELECT count(*) FROM camera)")
            ).one()
            loaded = {"segments": counts[0], "cameras": counts[1]}
            what = f"database {args.db}, kept from an earlier run"
        else:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pgrouting"))
            loaded = load_data(conn, settings, quick=True)
            what = "real central-Seoul roads, real Seoul 2018 CCTV"
        name = f"bench 상황실 {int(time.time())}"
        orgs.create_organization(conn, name=name, kind="military_unit", actor="bench")
        key = issue_api_key(conn, organization=name, role="requester", actor="bench")[1]
    with engine.connect() as conn:
        if not args.reuse_db:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        network = load_road_networks(conn, crs=settings.working_crs)[0].roads
    engine.dispose()
    print(
        f"{loaded['segments']:,} road segments and {loaded['cameras']:,} cameras ({what})",
        flush=True,
    )
    points = incident_points(network, args.points)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = Path(tempfile.gettempdir()) / "gilmok-bench-api-serve.log"
    server = start_server(url, port, log)
    rows: list[tuple[str, dict[str, float]]] = []
    load_before = os.getloadavg()
    try:
        for mode in ("network", "euclidean"):
            paths = [
                f"/v1/approaches?lon={lon:.7f}&lat={lat:.7f}&radius_m={args.radius}&mode={mode}"
                for lon, lat in points
            ]
            warm_up(base, key, paths)
            status, body = _get(base + paths[0], key)
            features = len(json.loads(body)["features"])
            print(f"{mode}: first answer {status}, {features} features; wrk …", flush=True)
            for connections in args.connections:
                api = run_wrk(wrk, base, key, paths, seconds=args.seconds, connections=connections)
                rows.append((f"API {mode}, wrk {connections} connections", api))
            print(f"{mode}: PostGIS baseline …", flush=True)
            rows.append(
                (
                    f"PostGIS {mode} ({'pgRouting' if mode == 'network' else 'GiST'}, jit off)",
                    baseline(
                        url,
                        mode,
                        args.radius,
                        points,
                        seconds=min(args.seconds, 10),
                        clients=args.baseline_clients,
                    ),
                )
            )
        for endpoint, paths in bbox_paths(points, args.bbox_deg).items():
            cold = touch(base, key, paths)
            print(f"{endpoint}: {cold} of {len(paths)} cold first reads were not 200", flush=True)
            warm_up(base, key, paths)
            status, body = _get(base + paths[0], key)
            features = len(json.loads(body)["features"])
            print(f"{endpoint}: first answer {status}, {features} features; wrk …", flush=True)
            for connections in args.connections:
                api = run_wrk(wrk, base, key, paths, seconds=args.seconds, connections=connections)
                rows.append((f"API {endpoint} {args.bbox_deg}° box, wrk {connections} conn.", api))
            rows.append(
                (
                    f"store {endpoint} {args.bbox_deg}° box, 1 connection",
                    bbox_baseline(url, endpoint, paths),
                )
            )
        box = ",".join(f"{v:.5f}" for v in largest_box(url))
        for endpoint in ("cameras", "coverage"):
            rows.append(
                (
                    f"API {endpoint} 0.5° box, one at a time",
                    timed_requests(base, key, f"/v1/{endpoint}?bbox={box}&limit=500", 20),
                )
            )
    finally:
        server.terminate()
        server.wait(timeout=15)
    load = ", ".join(f"{v:.2f}" for v in load_before + os.getloadavg())
    print(
        f"\nload average (1, 5, 15 min) before, after: {load} on {os.cpu_count()} cores"
        f"\nGET /v1/approaches, R = {args.radius} m, {len(points)} random points on roads;"
        f" gunicorn 2 sync workers; wrk 2 threads, {args.seconds} s per row;"
        f" baseline latency sequential, req/s with {args.baseline_clients} connections"
    )
    print(
        f"{'path':48} {'median ms':>10} {'p99 ms':>8} {'max ms':>8} {'req/s':>8}"
        f" {'requests':>9} {'errors':>7}"
    )
    for name, r in rows:
        print(
            f"{name:48} {r['median'] * 1e3:>10.2f} {r['p99'] * 1e3:>8.2f}"
            f" {r['max'] * 1e3:>8.1f} {r['rps']:>8.0f} {r['requests']:>9.0f} {r['errors']:>7.0f}"
        )
    print("goals (issue 5): median < 5 ms, p99 < 25 ms, > 300 req/s on 2 cores, zero errors")
    print("goal (issue 12): no request over 100 ms (wrk's max with 2 connections)")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per mode")
    parser.add_argument(
        "--connections",
        type=lambda v: [int(c) for c in v.split(",")],
        default=[2, 8],
        help="wrk connections, one run each (comma-separated)",
    )
    parser.add_argument("--radius", type=int, default=500, help="cordon radius, metres")
    parser.add_argument("--points", type=int, default=200, help="random incident points")
    parser.add_argument("--baseline-clients", type=int, default=2)
    parser.add_argument(
        "--bbox-deg", type=float, default=0.02, help="side of the boxes of /v1/cameras, degrees"
    )
    parser.add_argument("--db", default="gilmok_bench_api", help="database name")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    parser.add_argument(
        "--reuse-db",
        action="store_true",
        help="answer from a kept database, e.g. --db gilmok_bench (national scale, kept by"
        " bench/core_query.py --keep-db)",
    )
    args = parser.parse_args(argv)
    # a reused database stays: it took minutes to load
    with bench_database(
        args.db, fresh=not args.reuse_db, keep=args.keep_db or args.reuse_db
    ) as url:
        run(url, load_settings(), args)


if __name__ == "__main__":
    main()
