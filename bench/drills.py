"""Benchmark: drill precomputation, scenarios per second on 1 and 2 Dask workers, against a plain
loop calling the single-incident query, measured in the same run.

Usage: ``.venv/bin/python bench/drills.py [--scenarios 20000] [--loop 2000] [--rounds 3]
[--batch-size 250] [--seoul] [--db NAME]``

Data: the national bench database of :mod:`bench.national` (``gilmok_bench``: 1.6 million
cameras replicated from the real Seoul rows, ~2 million road segments tiled from the real
central-Seoul network), kept by ``bench/core_query.py --keep-db`` and reused here; when it is
missing it is made and loaded once (~7 min) and kept. ``--seoul``: the real central-Seoul
network and Seoul 2018 CCTV (``gilmok_bench_quick``, made the same way). Scenarios are random
points on the roads, uniform over the segments of the whole network, drawn in SQL; options are
the drill defaults (network cordon of 500 m, inbound, drive, observe, best 3 cameras).

What the drill command does, on one local cluster of 2 single-threaded worker processes:

- **start**: the cluster started, then each worker loads the registry from PostGIS itself,
  both at once (:func:`geo.drill_cluster.registry_on_workers`); reported apart, with each
  worker's RSS.
- **loop**: a plain loop on one worker calling ``network_for`` + ``answer_incident`` per
  scenario, nothing built or stored: the single-incident query, no parallelism.
- **dask 1 / dask 2**: :func:`geo.drill_cluster.precompute` of ``--scenarios`` points of a drill,
  the tasks kept on 1 worker or spread over both, every batch stored to PostGIS in one transaction
  by the worker that computed it, as the command does; timed from the first submission to the
  last batch committed. The main process's CPU seconds (scheduler, client) and those of the
  PostgreSQL server processes of the workers' connections are reported with it.

Each round measures loop, 1 worker and 2 workers in turn (the order reversed every other round)
on the same cluster and registry, so that other jobs' load weighs on all three alike; the
figures are the medians over the rounds, each printed with the 1-minute load average at its
end, and with the CPU seconds a scenario took in each process: what the drill would make on
2 cores to itself.

Goals (issue 7): 100,000 scenarios in under 60 s on this 2-core machine (≥ 1,667/s); the
2-worker rate at least 1.7 × the 1-worker rate.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from sqlalchemy import event, text
from sqlalchemy.engine import URL, Engine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.settings import Settings, load_settings
from bench.national import bench_database
from geo.cordon import CordonOptions
from geo.drill_cluster import WorkerRegistry, dask_client, precompute, registry_on_workers
from geo.drills import DrillOptions, batches
from geo.errors import GilmokError
from geo.incident import answer_incident
from geo.store import connect
from geo.store import drills as store
from geo.store.migrate import require_current


def load() -> float:
    """The 1-minute load average."""
    return os.getloadavg()[0]


def bench_registry(name: str, settings: Settings, *, quick: bool) -> URL:
    """URL of the bench database ``name`` with its registry: reused when it holds roads and
    cameras, else made, loaded as ``bench/core_query.py`` loads it, and kept."""
    url = settings.owner_database_url.set(database=name)
    admin = connect(settings.owner_database_url.set(database="postgres"))
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).first()
    admin.dispose()
    if exists:
        engine = connect(url)
        require_current(engine)
        with engine.connect() as conn:
            loaded = conn.execute(
                text(
                    "SELECT (SELECT count(*) FROM road_segment) > 0"
                    " AND (SELECT count(*) FROM camera) > 0"
                )
            ).scalar_one()
        engine.dispose()
        if loaded:
            return url
    from bench.core_query import load_data

    print(f"loading the bench registry into {name} (kept for the next runs) …", flush=True)
    with bench_database(name, keep=True) as url:
        engine = connect(url)
        with engine.begin() as conn:
            done = load_data(conn, settings, quick=quick)
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        engine.dispose()
    print(f"loaded {done['segments']:,} segments, {done['cameras']:,} cameras")
    return url


def scenario_points(engine: Engine, n: int, *, seed: int = 7) -> tuple[list[float], list[float]]:
    """``n`` random points on the roads, lon/lat degrees: a segment drawn uniformly, then a
    point uniformly along it; points outside their network's extent are drawn again."""
    rng = np.random.default_rng(seed)
    with engine.connect() as conn:
        low, high = conn.execute(text("SELECT min(id), max(id) FROM road_segment")).one()
        lon: list[float] = []
        lat: list[float] = []
        while len(lon) < n:
            ids = rng.integers(int(low), int(high) + 1, 2 * n)
            rows = conn.execute(
                text(
                    "SELECT ST_X(q.p), ST_Y(q.p) FROM ("
                    " SELECT r.k, ST_Transform(ST_LineInterpolatePoint(s.geom, r.f), 4326) AS p,"
                    "  ST_Covers(e.extent, ST_LineInterpolatePoint(s.geom, r.f)) AS inside"
                    " FROM unnest(CAST(:ids AS bigint[]), CAST(:f AS float8[]))"
                    "  WITH ORDINALITY AS r(id, f, k)"
                    " JOIN road_segment s ON s.id = r.id"
                    " JOIN road_network e ON e.id = s.network_id) q"
                    " WHERE q.inside ORDER BY q.k"
                ),
                {"ids": ids.tolist(), "f": rng.random(2 * n).tolist()},
            ).all()
            lon += [float(r[0]) for r in rows]
            lat += [float(r[1]) for r in rows]
    return lon[:n], lat[:n]


def plain_loop(
    name: str, lon: list[float], lat: list[float], options: dict[str, Any]
) -> tuple[float, float]:
    """On a worker: scenarios per second of a plain loop of the single-incident query, and its
    CPU seconds."""
    registry = WorkerRegistry(name, 0.0).get()
    opts = DrillOptions.from_dict(options)
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    for x, y in zip(lon, lat, strict=True):
        try:
            network = registry.network_for(x, y).roads
            answer_incident(network, registry.index, (x, y), opts.cordon, level=opts.level)
        except GilmokError:
            pass
    return len(lon) / (time.perf_counter() - t0), cpu_seconds() - cpu0


def worker_rss_gb() -> float:
    return float(psutil.Process().memory_info().rss / 1e9)


def gc_timer(dask_worker: Any) -> None:
    """On a worker: time the garbage collector's passes from now on."""
    state = {"start": 0.0, "seconds": 0.0, "full": 0}

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            state["start"] = time.perf_counter()
            return
        state["seconds"] += time.perf_counter() - state["start"]
        state["full"] += info["generation"] == 2

    gc.callbacks.append(callback)
    dask_worker.bench_gc = state


def gc_taken(dask_worker: Any) -> tuple[float, int]:
    """On a worker: seconds in the garbage collector and full passes since the last call."""
    state = dask_worker.bench_gc
    taken = (state["seconds"], int(state["full"]))
    state["seconds"] = state["full"] = 0
    return taken


def cpu_seconds(pids: Sequence[int] | None = None) -> float:
    """User + system CPU seconds of this process (or of ``pids``)."""
    total = 0.0
    for pid in pids if pids is not None else [os.getpid()]:
        with contextlib.suppress(psutil.NoSuchProcess):
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
    return total


def backend_pids(engine: Engine) -> list[int]:
    """The PostgreSQL server processes of the engine's connections (as they are made)."""
    pids: list[int] = []

    @event.listens_for(engine, "connect")
    def remember(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            pids.append(int(cur.fetchone()[0]))

    return pids


def drill_backends(engine: Engine) -> list[int]:
    """The PostgreSQL server processes of the workers' connections to this database, storing
    the batches (:class:`geo.store.drills.BatchSaver` names them ``gilmok drills``)."""
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND application_name = 'gilmok drills'"
            )
        ).all()
    return [int(r.pid) for r in rows]


def run_drill(
    engine: Engine,
    url: URL,
    client: Any,
    registry: WorkerRegistry,
    lon: list[float],
    lat: list[float],
    options: DrillOptions,
    *,
    workers: Sequence[str],
    batch_size: int,
    backends: list[int],
) -> dict[str, float]:
    """One drill of the points, stored as the command stores it (each worker stores the
    batches it computes), on ``workers``; then dropped."""
    name = f"bench-drills-{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        drill_id, _ = store.ensure_drill(conn, name, options=options.as_dict())
        store.add_scenarios(conn, drill_id, [f"s{i}" for i in range(len(lon))], lon, lat)
        pending = store.pending_scenarios(conn, drill_id)
    todo = batches(pending["id"], pending["lon"], pending["lat"], batch_size)
    rows = 0

    def saved(batch: tuple[int, int]) -> None:
        nonlocal rows
        rows += batch[1]

    worker_pids = list(client.run(os.getpid, workers=list(workers)).values())
    client.run(gc_taken, workers=list(workers))
    before = {pid: cpu_seconds([pid]) for pid in drill_backends(engine)}
    cpu0 = (cpu_seconds(), cpu_seconds(worker_pids), cpu_seconds(backends))
    t0 = time.perf_counter()
    try:
        saved_n = precompute(
            client, registry, todo, options, on_worker=store.BatchSaver(url, drill_id),
            save=saved, workers=workers,
        )  # fmt: skip
        elapsed = time.perf_counter() - t0
        main_cpu = cpu_seconds() - cpu0[0]
        worker_cpu = cpu_seconds(worker_pids) - cpu0[1]
        # a worker's connection made during this run counts from its start
        db_cpu = cpu_seconds(backends) - cpu0[2]
        db_cpu += sum(cpu_seconds([pid]) - before.get(pid, 0.0) for pid in drill_backends(engine))
        collected = client.run(gc_taken, workers=list(workers)).values()
        with engine.connect() as conn:
            counts = store.status_counts(conn, drill_id)
    finally:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM drill WHERE id = :d"), {"d": drill_id})
    assert saved_n == rows == len(lon) == counts["done"] + counts["failed"], (rows, counts)
    return {
        "rate": len(lon) / elapsed,
        "seconds": elapsed,
        "main_cpu_s": main_cpu,
        "worker_cpu_s": worker_cpu,
        "db_cpu_s": db_cpu,
        "gc_s": sum(seconds for seconds, _ in collected),
        "gc_full": sum(full for _, full in collected),
        "failed": counts["failed"],
        "load": load(),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=20_000, help="scenarios per Dask run")
    parser.add_argument("--loop", type=int, default=2_000, help="scenarios in the plain loop")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of loop, 1 and 2 workers")
    parser.add_argument("--batch-size", type=int, default=250, help="scenarios per Dask task")
    parser.add_argument("--seoul", action="store_true", help="the real central-Seoul data only")
    parser.add_argument("--db", help="bench database (gilmok_bench, --seoul gilmok_bench_quick)")
    args = parser.parse_args(argv)
    settings = load_settings()
    name = args.db or ("gilmok_bench_quick" if args.seoul else "gilmok_bench")
    url = bench_registry(name, settings, quick=args.seoul)
    engine = connect(url, check=False)
    backends = backend_pids(engine)
    lon, lat = scenario_points(engine, max(args.scenarios, args.loop))
    options = DrillOptions(cordon=CordonOptions(radius_m=500))
    plain = options.as_dict()
    with engine.connect() as conn:
        segments, cameras = conn.execute(
            text("SELECT (SELECT count(*) FROM road_segment), (SELECT count(*) FROM camera)")
        ).one()
    print(
        f"{name}: {segments:,} road segments, {cameras:,} cameras; {len(lon):,} random points"
        f" on roads; {args.scenarios:,} scenarios per Dask run in batches of {args.batch_size},"
        f" {args.loop:,} in the loop; load {load():.1f}",
        flush=True,
    )

    t0 = time.perf_counter()
    with dask_client(workers=2) as client:
        client.wait_for_workers(2)
        started = time.perf_counter() - t0
        loader = partial(
            store.load_registry,
            url,
            crs=settings.working_crs,
            max_range_m=settings.max_coverage_range_m,
        )
        with registry_on_workers(client, loader) as registry:
            rss = client.run(worker_rss_gb)
            client.run(gc_timer)
            addresses = sorted(rss)
            print(
                f"start: cluster of 2 workers {started:.1f} s; registry loaded from PostGIS by"
                f" each worker, both at once, {registry.seconds:.1f} s; worker RSS"
                f" {', '.join(f'{v:.1f}' for v in rss.values())} GB; load {load():.1f}",
                flush=True,
            )
            # one warm-up batch per worker, not stored nor timed
            warm = batches(range(2), lon[:2], lat[:2], 1)
            for address in addresses:
                precompute(client, registry, warm, options, save=lambda _: None, workers=[address])

            rows: dict[str, list[dict[str, float]]] = {"loop": [], "1": [], "2": []}
            n, k = args.scenarios, args.loop
            for r in range(args.rounds):
                # the order turns round by round, so that a trend in the others' load does
                # not favour one of the three
                for what in ("loop", "1", "2") if r % 2 == 0 else ("2", "1", "loop"):
                    if what == "loop":
                        rate, cpu = client.submit(
                            plain_loop, registry.name, lon[:k], lat[:k], plain,
                            workers=[addresses[0]], pure=False,
                        ).result()  # fmt: skip
                        rows["loop"].append({"rate": rate, "cpu_ms": cpu / k * 1e3, "load": load()})
                        print(
                            f"round {r + 1}: plain loop {rate:,.0f}/s ({k:,} in {k / rate:.1f} s;"
                            f" CPU {cpu / k * 1e3:.2f} ms a scenario) (load {load():.1f})",
                            flush=True,
                        )
                        continue
                    w = int(what)
                    run = run_drill(
                        engine, url, client, registry, lon[:n], lat[:n], options,
                        workers=addresses[:w], batch_size=args.batch_size, backends=backends,
                    )  # fmt: skip
                    per = {key: run[f"{key}_cpu_s"] / n * 1e3 for key in ("worker", "main", "db")}
                    run["cpu_ms"] = sum(per.values())
                    rows[what].append(run)
                    print(
                        f"round {r + 1}: dask {w} worker{'s' if w > 1 else ' '}"
                        f" {run['rate']:,.0f}/s ({n:,} in {run['seconds']:.1f} s,"
                        f" {run['failed']:.0f} failed; CPU ms a scenario: workers"
                        f" {per['worker']:.2f} + main process {per['main']:.2f} + PostgreSQL"
                        f" saving {per['db']:.2f} = {run['cpu_ms']:.2f}; each worker had"
                        f" {run['worker_cpu_s'] / run['seconds'] / w:.0%} of a core; garbage"
                        f" collector {run['gc_s']:.1f} s, {run['gc_full']:.0f} full passes)"
                        f" (load {run['load']:.1f})",
                        flush=True,
                    )
    engine.dispose()

    def med(key: str) -> float:
        return statistics.median(row["rate"] for row in rows[key])

    ratios = [b["rate"] / a["rate"] for a, b in zip(rows["1"], rows["2"], strict=True)]
    ratio = statistics.median(ratios)
    loads = [row["load"] for key in rows for row in rows[key]]
    for_100k = 100_000 / med("2")
    print(
        f"\nmedians of {args.rounds} rounds (load {min(loads):.1f}–{max(loads):.1f}):"
        f" plain loop {med('loop'):,.0f}/s; dask 1 worker {med('1'):,.0f}/s;"
        f" dask 2 workers {med('2'):,.0f}/s"
    )
    print(
        f"2 workers / 1 worker: {ratio:.2f}x (per round {', '.join(f'{x:.2f}' for x in ratios)};"
        f" goal >= 1.7x: {'met' if ratio >= 1.7 else 'NOT met'});"
        f" 2 workers / plain loop: {med('2') / med('loop'):.2f}x;"
        f" 1 worker / plain loop: {med('1') / med('loop'):.2f}x"
    )
    cpu_loop = statistics.median(row["cpu_ms"] for row in rows["loop"])
    cpu_drill = statistics.median(row["cpu_ms"] for row in rows["2"])
    print(
        f"CPU a scenario (medians): plain loop {cpu_loop:.2f} ms; drill on 2 workers, all"
        f" processes {cpu_drill:.2f} ms: on 2 cores to itself the drill would make at most"
        f" {2e3 / cpu_drill:,.0f}/s"
    )
    print(
        f"100,000 scenarios on 2 workers: {for_100k:.0f} s at the median rate"
        f" (goal < 60 s: {'met' if for_100k < 60 else 'NOT met'}), after the start-up of"
        f" {started + registry.seconds:.0f} s (cluster {started:.1f} s, registry"
        f" {registry.seconds:.1f} s)"
    )


if __name__ == "__main__":
    main()
