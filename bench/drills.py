"""Benchmark: drill precomputation, scenarios per second on 1 and 2 Dask workers, against a plain
loop calling the single-incident query, measured in the same run.

Usage: ``.venv/bin/python bench/drills.py [--scenarios 20000] [--loop 2000] [--batch-size 250]``

Data: the real central-Seoul drive network (5,042 segments) and the real Seoul 2018 CCTV
(~37,000 cameras), read from ``GILMOK_DATA_DIR`` and held in memory as the API holds them.
Scenarios are random points on the roads at least 600 m inside the data's edge; options are the
drill defaults (network cordon of 500 m, inbound, drive, observe, best 3 cameras).

- **loop**: ``answer_incident`` per scenario on one core, the compact record built as a drill
  stores it (:func:`geo.drills.run_scenario`): the work of one scenario, no parallelism.
- **dask N**: :func:`geo.drills.precompute` on a ``LocalCluster`` of N single-threaded worker
  processes, the registry scattered once, ``--batch-size`` scenarios per task. Timed from
  submission to the last result (cluster start and the scatter reported apart).

Goals (issue 7): 100,000 scenarios in under 60 s on this 2-core machine (≥ 1,667/s); the
2-worker rate at least 1.7 × the 1-worker rate.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geo.crs import xy_to_lonlat
from geo.drills import (
    DrillOptions,
    batches,
    dask_client,
    precompute,
    run_scenario,
    scatter_registry,
)
from geo.index import build_coverage_index
from geo.ingest.cctv import read_cctv
from geo.ingest.osm import read_road_network
from geo.network import build_road_network
from geo.settings import load_settings
from geo.store.snapshot import NetworkSnapshot, RegistrySnapshot


def _data_dir() -> Path:
    settings = load_settings()
    found = settings.data_dir or Path(os.environ.get("GILMOK_DATA_DIR", "../shared/data"))
    return Path(found)


def load_registry() -> RegistrySnapshot:
    """The real central-Seoul network and Seoul CCTV, in memory."""
    settings = load_settings()
    data = _data_dir()
    roads = read_road_network(data / "seoul_central_drive.graphml")
    network = build_road_network(roads.segments, crs=settings.working_crs)
    cameras = read_cctv(data / "seoul_cctv_2018.csv").cameras
    index = build_coverage_index(
        cameras, max_range_m=settings.max_coverage_range_m, crs=settings.working_crs
    )
    snap = NetworkSnapshot(id=1, name="seoul_central_drive", extent=network.extent, graph=network)
    return RegistrySnapshot(
        networks=[snap], cameras=cameras.iloc[:0], index=index, crs=settings.working_crs
    )


def scenario_points(registry: RegistrySnapshot, n: int, seed: int = 7) -> tuple[Any, Any]:
    """``n`` random points on the roads, at least 600 m inside the data's edge (lon, lat)."""
    network = registry.networks[0].graph
    rng = np.random.default_rng(seed)
    inner = shapely.buffer(network.extent, -600.0)
    lon_out: list[float] = []
    lat_out: list[float] = []
    while len(lon_out) < n:
        seg = rng.integers(0, network.n_segments, 2 * n)
        x, y, _ = network.points_along(seg, rng.uniform(0, 1, 2 * n) * network.seg_length[seg])
        ok = shapely.contains_xy(inner, x, y)
        lon, lat = xy_to_lonlat(x[ok], y[ok], crs=network.crs)
        lon_out += lon.tolist()
        lat_out += lat.tolist()
    return np.array(lon_out[:n]), np.array(lat_out[:n])


def bench_loop(registry: RegistrySnapshot, lon: Any, lat: Any, options: DrillOptions) -> float:
    t0 = time.perf_counter()
    for x, y in zip(lon, lat, strict=True):
        run_scenario(registry, float(x), float(y), options)
    return len(lon) / (time.perf_counter() - t0)


def bench_dask(
    registry: RegistrySnapshot,
    lon: Any,
    lat: Any,
    options: DrillOptions,
    *,
    workers: int,
    batch_size: int,
) -> dict[str, float]:
    todo = batches(range(len(lon)), lon, lat, batch_size)
    done = 0

    def save(results: list[dict[str, Any]]) -> None:
        nonlocal done
        done += len(results)

    t0 = time.perf_counter()
    with dask_client(workers=workers) as client:
        client.wait_for_workers(workers)
        t_start = time.perf_counter()
        # the scatter and one warm-up batch per worker, not timed as throughput
        shared = scatter_registry(client, registry)
        precompute(client, shared, todo[:workers], options, save=lambda _: None)
        t_warm = time.perf_counter()
        precompute(client, shared, todo, options, save=save)
        t_end = time.perf_counter()
    assert done == len(lon)
    return {
        "start_s": t_start - t0,
        "warm_s": t_warm - t_start,
        "run_s": t_end - t_warm,
        "rate": len(lon) / (t_end - t_warm),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=20_000, help="scenarios per Dask run")
    parser.add_argument("--loop", type=int, default=2_000, help="scenarios in the plain loop")
    parser.add_argument("--batch-size", type=int, default=250, help="scenarios per Dask task")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    registry = load_registry()
    print(
        f"registry: {registry.networks[0].graph.n_segments} segments,"
        f" {len(registry.index)} cameras, built in {time.perf_counter() - t0:.1f} s"
    )
    lon, lat = scenario_points(registry, args.scenarios)
    options = DrillOptions(radius_m=500)
    loop_rate = bench_loop(registry, lon[: args.loop], lat[: args.loop], options)
    print(f"plain loop (1 core): {args.loop} scenarios, {loop_rate:,.0f}/s")
    rates = {}
    for workers in (1, 2):
        r = bench_dask(registry, lon, lat, options, workers=workers, batch_size=args.batch_size)
        rates[workers] = r["rate"]
        print(
            f"dask {workers} worker{'s' if workers > 1 else ''}: {args.scenarios} scenarios,"
            f" {r['rate']:,.0f}/s (cluster start {r['start_s']:.1f} s, scatter + warm-up"
            f" {r['warm_s']:.1f} s, run {r['run_s']:.1f} s)"
        )
    ratio = rates[2] / rates[1]
    for_100k = 100_000 / rates[2]
    verdict = "met" if ratio >= 1.7 else "NOT met"
    print(
        f"2 workers / 1 worker: {ratio:.2f}x (goal >= 1.7x: {verdict});"
        f" 2 workers / plain loop: {rates[2] / loop_rate:.2f}x"
    )
    print(
        f"100,000 scenarios on 2 workers: {for_100k:.0f} s at the measured rate"
        f" (goal < 60 s: {'met' if for_100k < 60 else 'NOT met'})"
    )


if __name__ == "__main__":
    main()
