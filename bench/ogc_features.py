"""Benchmark: OGC API – Features ``cameras`` items, gilmok (``/ogc``) beside tipg on the same rows.

Usage: ``.venv/bin/python bench/ogc_features.py [--rounds 2] [--limit 1000] [--reuse-db]
[--keep-db]`` (tipg is not a dependency of gilmok: ``.venv/bin/pip install -e '.[bench]'``)

A database made for the run (``gilmok_ogc_bench``; kept with ``--keep-db``, used as it is with
``--reuse-db``) gets the real data by ``gilmok import all`` (the central-Seoul roads, the Seoul
CCTV registry, the enforcement cameras and the OSM cameras of the manifest). tipg (FastAPI,
asyncpg) discovers one view there, ``bench_cameras``: exactly the rows and properties of
gilmok's ``cameras`` collection (the cameras not retired, with their owner's name; never the
source URL), its ``id`` the key. Both serve on loopback with two worker processes:
``gilmok serve --workers 2`` (gunicorn sync workers, as deployed, API key checked on each
request) and ``uvicorn tipg.main:app --workers 2`` (no authentication).

Each round, for each server in turn, one client walks the whole collection page by page,
following the ``next`` links (gilmok's keyset cursor; tipg's ``offset``), ``--limit`` features
a page, in CRS84 GeoJSON, and then the same walk within a bbox (central Seoul). Reported: items
per second over the walk, and the median and p95 latency of one page (each request timed
alone, body read whole), and how many features of the bbox walk lie outside the bbox (in
the first run tipg returned 2,188, 25 of them a few metres outside; PostGIS's exact answer,
and gilmok's, is 2,163).
Both answer with ``numberMatched`` counted on every page. The load
average is printed before and after: the machine's two cores are shared by the servers,
PostgreSQL, this client and everyone else.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text
from sqlalchemy.engine import URL

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.keys import issue_api_key
from api.settings import load_settings
from bench.national import bench_database
from geo.store import connect, orgs

ROOT = Path(__file__).resolve().parents[1]
DB = "gilmok_ogc_bench"
#: Central Seoul (Jongno, Jung): a district on a map.
BBOX = (126.95, 37.55, 127.01, 37.59)
WORKERS = 2
VIEW = """
CREATE OR REPLACE VIEW bench_cameras AS
SELECT c.id, c.owner_id, o.name AS owner_name, c.kind, c.status, c.heading_deg,
       c.heading_source, c.fov_deg, c.pan_min_deg, c.pan_max_deg, c.resolution_px_h,
       c.megapixels, c.mount_height_m, c.purpose, c.address, c.direction_text, c.source,
       c.position
FROM camera c JOIN organization o ON o.id = c.owner_id
WHERE c.status <> 'retired'
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _env(url: URL) -> dict[str, str]:
    service = load_settings().database_url.set(database=url.database)
    return {
        **os.environ,
        "GILMOK_OWNER_DATABASE_URL": url.render_as_string(hide_password=False),
        "GILMOK_DATABASE_URL": service.render_as_string(hide_password=False),
        "GILMOK_RATE_LIMIT": "off",
        "PYTHONUNBUFFERED": "1",
    }


def prepare(url: URL, *, fresh: bool) -> str:
    """Import the data (when ``fresh``), make tipg's view and a planner's key; the key."""
    if fresh:
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "api.cli", "import", "all"],
            cwd=ROOT, env=_env(url), check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        print(f"gilmok import all: {time.perf_counter() - t0:.0f} s", flush=True)
    engine = connect(url)
    with engine.begin() as conn:
        conn.execute(text(VIEW))
        name = "ogc bench"
        if conn.execute(text("SELECT 1 FROM organization WHERE name = :n"), {"n": name}).first():
            pass
        else:
            orgs.create_organization(conn, name=name, kind="planner", actor="bench")
        key = issue_api_key(conn, organization=name, role="planner", actor="bench")[1]
        count = conn.execute(text("SELECT count(*) FROM bench_cameras")).scalar_one()
    engine.dispose()
    print(f"{count} cameras (not retired) in {url.database}", flush=True)
    return key


def _wait(url: str, proc: subprocess.Popen[bytes], log: Path, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"server exited: see {log}")
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5):
                return
        except (OSError, urllib.error.URLError):
            time.sleep(0.3)
    sys.exit(f"server did not answer: see {log}")


def start_gilmok(url: URL, key: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    command = [sys.executable, "-m", "api.cli", "serve", "--workers", str(WORKERS),
               "--port", str(port)]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=_env(url), stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    _wait(f"{base}/ogc/collections/cameras", proc, log, {"Authorization": f"Bearer {key}"})
    return proc, base


def start_tipg(url: URL, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "TIPG_DB_SCHEMAS": '["public"]',
        "TIPG_DB_TABLES": '["public.bench_cameras"]',
        "TIPG_TABLE_CONFIG__public_bench_cameras__PK": "id",
        "TIPG_TABLE_CONFIG__public_bench_cameras__GEOMCOL": "position",
        "TIPG_MAX_FEATURES_PER_QUERY": "10000",
        "TIPG_DB_MAX_CONN_SIZE": "4",
    }
    command = [sys.executable, "-m", "uvicorn", "tipg.main:app", "--host", "127.0.0.1",
               "--port", str(port), "--workers", str(WORKERS)]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    _wait(f"{base}/collections/public.bench_cameras", proc, log, {})
    return proc, base


def walk(
    first: str, headers: dict[str, str], box: tuple[float, ...] | None = None
) -> dict[str, Any]:
    """Follow ``next`` links from ``first`` to the end: features, seconds, page latencies, and
    how many of the points lie outside ``box`` (lon/lat)."""
    url: str | None = first
    times: list[float] = []
    ids: list[int] = []
    outside = 0
    matched = None
    t_start = time.perf_counter()
    while url:
        request = urllib.request.Request(url, headers={**headers, "Accept": "application/geo+json"})
        t0 = time.perf_counter()
        with urllib.request.urlopen(request, timeout=120) as response:
            body = response.read()
        times.append(time.perf_counter() - t0)
        page = json.loads(body)
        matched = page.get("numberMatched", matched)
        ids.extend(int(f["id"]) for f in page["features"])
        if box is not None:
            for f in page["features"]:
                x, y = f["geometry"]["coordinates"]
                outside += not (box[0] <= x <= box[2] and box[1] <= y <= box[3])
        url = next((link["href"] for link in page.get("links", []) if link["rel"] == "next"), None)
        if not page["features"]:
            times.pop()  # tipg's last, empty page is not a page of features
            break
    elapsed = time.perf_counter() - t_start
    if len(ids) != len(set(ids)):
        sys.exit(f"{first}: {len(ids) - len(set(ids))} features returned twice")
    if matched is not None and matched != len(ids):
        sys.exit(f"{first}: numberMatched {matched} but {len(ids)} features walked")
    return {"items": len(ids), "seconds": elapsed, "times": times, "outside": outside}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--reuse-db", action="store_true")
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args(argv)
    if shutil.which("uvicorn", path=str(Path(sys.executable).parent)) is None:
        sys.exit("tipg is not installed: .venv/bin/pip install -e '.[bench]'")
    print(f"load average before: {_load()}", flush=True)
    logs = Path("/tmp/gilmok-bench-ogc")
    logs.mkdir(exist_ok=True)
    with bench_database(DB, fresh=not args.reuse_db, keep=args.keep_db or args.reuse_db) as url:
        key = prepare(url, fresh=not args.reuse_db)
        gilmok, gilmok_base = start_gilmok(url, key, logs / "gilmok.log")
        tipg, tipg_base = start_tipg(url, logs / "tipg.log")
        try:
            box = ",".join(map(str, BBOX))
            targets = {
                "gilmok": (f"{gilmok_base}/ogc/collections/cameras/items",
                           {"Authorization": f"Bearer {key}"}),
                "tipg": (f"{tipg_base}/collections/public.bench_cameras/items", {}),
            }  # fmt: skip
            results: dict[tuple[str, str], list[dict[str, Any]]] = {}
            for items, headers in targets.values():  # warm up: one walk each
                walk(f"{items}?limit={args.limit}&bbox={box}", headers)
            for _ in range(args.rounds):
                for scope, query in (("all", ""), ("bbox", f"&bbox={box}")):
                    for name, (items, headers) in targets.items():
                        inside = BBOX if scope == "bbox" else None
                        run = walk(f"{items}?limit={args.limit}{query}", headers, inside)
                        results.setdefault((scope, name), []).append(run)
        finally:
            for proc in (gilmok, tipg):
                proc.terminate()
                proc.wait(timeout=30)
    print(f"load average after: {_load()}\n")
    print(f"{'walk':<6} {'server':<7} {'items':>7} {'outside':>7} {'items/s':>9} {'page p50':>9}"
          f" {'page p95':>9}")  # fmt: skip
    summary: dict[tuple[str, str], tuple[float, float]] = {}
    for (scope, name), runs in results.items():
        items = runs[0]["items"]
        if any(r["items"] != items for r in runs):
            sys.exit(f"{scope} {name}: walks returned different counts")
        rate = float(np.median([r["items"] / r["seconds"] for r in runs]))
        times = np.concatenate([r["times"] for r in runs]) * 1000
        p50 = float(np.percentile(times, 50))
        summary[(scope, name)] = (rate, p50)
        outside = runs[0]["outside"]
        print(f"{scope:<6} {name:<7} {items:>7} {outside:>7} {rate:>9.0f} {p50:>7.1f}ms"
              f" {float(np.percentile(times, 95)):>7.1f}ms")  # fmt: skip
    for scope in ("all", "bbox"):
        ours, theirs = summary[(scope, "gilmok")], summary[(scope, "tipg")]
        print(f"{scope}: gilmok/tipg items/s {ours[0] / theirs[0]:.2f}x,"
              f" page p50 {theirs[1] / ours[1]:.2f}x faster")  # fmt: skip


if __name__ == "__main__":
    main()
