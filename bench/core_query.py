"""Benchmark: one incident query (approaches + watching cameras) in-process against PostGIS.

Usage: ``.venv/bin/python bench/core_query.py [--quick] [--queries 300] [--keep-db]``

In a database made for the run (``gilmok_bench``, dropped at the end unless ``--keep-db``;
``--reuse-db`` answers from a kept one), the national bench data of :mod:`bench.national` is
loaded through the store's bulk loading: 1.6 million cameras with their observe-level coverage
and the ~2 million road segments (``--quick``: the real Seoul 2018 cameras and the real
central-Seoul network). The in-process side is the API's: the snapshot read back from that
database (:mod:`geo.store.snapshot`) and :func:`geo.incident.answer_incident`.

The baseline is the query a competent GIS analyst writes over the same GiST-indexed tables,
one statement per incident:

- euclidean: the segments within R whose geometry meets the circle (``ST_DWithin`` +
  ``ST_Intersects`` with the ring of ``ST_Buffer(P, R, 32)``), each crossing point taken
  inward (the point 1 m before it lies outside that same polygon: tested against the true
  circle instead, a road crossing a chord at a shallow angle could be "inside" 1 m before the
  crossing and be dropped, ~10 % of the crossings at 2 km), the 100 m stretch around it, and the
  coverage polygons meeting the stretch (``ST_Intersects``). It does not merge the crossings
  of one road within 30 m as gilmok does, so it lists a few more (approach, camera) pairs;
- network: P snapped to its nearest segment (KNN ``<->``), ``pgr_drivingDistance`` on the
  edges inside the box of half-side R around P (directed; a two-way segment has its reverse
  cost, a one-way one -1; searched on the reversed graph, from a virtual node at P, so that
  the distances are *to* P), the edges u→v with v within R and u beyond, their entry points
  and stretches, and the cameras as above.

The baseline's JIT setting (on or off) is the faster on a tenth of the points; then both
sides answer the same random points on roads, taking turns by blocks of 25 points, so that
other load on the machine weighs on both alike. ``qps`` is the in-process calls per second of
busy time.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.settings import Settings, load_settings
from bench.national import (
    BENCH_DIR,
    bench_database,
    data_dir,
    make_national_cctv,
    make_national_roads,
    read_national_roads,
)
from geo.cordon import CordonOptions
from geo.crs import xy_to_lonlat
from geo.incident import answer_incident
from geo.index import build_coverage_index
from geo.ingest.cctv import read_cctv
from geo.ingest.osm import read_road_network
from geo.network import RoadNetwork
from geo.store import connect
from geo.store.imports import import_cameras, import_road_network
from geo.store.snapshot import load_cameras, load_road_networks

EUCLIDEAN_SQL = """
WITH p AS (
    SELECT ST_Transform(ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326), 5179) AS g
), circle AS (
    SELECT g, disk, ST_ExteriorRing(disk) AS ring
    FROM p, LATERAL (SELECT ST_Buffer(g, %(r)s, 32) AS disk) d
), crossing AS (
    SELECT s.id, s.oneway, s.geom, ST_Length(s.geom) AS len,
           ST_LineLocatePoint(s.geom, d.geom) AS f
    FROM circle c
    JOIN road_segment s ON ST_DWithin(s.geom, c.g, %(r)s) AND ST_Intersects(s.geom, c.ring)
    CROSS JOIN LATERAL ST_Dump(ST_Intersection(s.geom, c.ring)) AS d
), approach AS MATERIALIZED (
    SELECT row_number() OVER () AS aid, x.id, x.forward,
           ST_LineSubstring(x.geom, greatest(x.f - 50 / x.len, 0), least(x.f + 50 / x.len, 1))
               AS stretch
    FROM (
        SELECT id, true AS forward, f, len, geom,
               ST_LineInterpolatePoint(geom, greatest(f - 1 / len, 0)) AS before
        FROM crossing
        UNION ALL
        SELECT id, false, f, len, geom, ST_LineInterpolatePoint(geom, least(f + 1 / len, 1))
        FROM crossing WHERE NOT oneway
    ) x, circle c
    WHERE NOT ST_Intersects(x.before, c.disk)
)
SELECT a.aid, a.id, a.forward, v.camera_id
FROM approach a
LEFT JOIN coverage v ON v.level = 'observe' AND ST_Intersects(v.geom, a.stretch)
"""

NETWORK_SQL = """
WITH p AS (
    SELECT ST_Transform(ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326), 5179) AS g
), box AS (
    SELECT g, ST_Expand(g, %(r)s) AS b FROM p
), snap AS (
    SELECT s.source, s.target, s.oneway, s.length_m * ST_LineLocatePoint(s.geom, box.g) AS off,
           s.length_m AS len, box.b
    FROM box CROSS JOIN LATERAL (
        SELECT * FROM road_segment s ORDER BY s.geom <-> box.g LIMIT 1
    ) s
), reached AS (
    SELECT d.node, d.agg_cost
    FROM snap, pgr_drivingDistance(
        format(
            'SELECT id, source, target, CASE WHEN oneway THEN -1 ELSE length_m END AS cost,'
            ' length_m AS reverse_cost FROM road_segment WHERE geom && %%L::geometry'
            ' UNION ALL SELECT -1, 0, %%s, %%s, -1'
            ' UNION ALL SELECT -2, 0, %%s, %%s, -1 WHERE %%L',
            snap.b, snap.source, snap.off, snap.target, snap.len - snap.off, NOT snap.oneway),
        0, %(r)s, true) AS d
), approach AS MATERIALIZED (
    SELECT row_number() OVER () AS aid, x.id, x.forward,
           ST_LineSubstring(x.geom, greatest(x.f - 50 / x.len, 0), least(x.f + 50 / x.len, 1))
               AS stretch
    FROM (
        SELECT s.id, true AS forward, s.geom, s.length_m AS len,
               1 - (%(r)s - r.agg_cost) / s.length_m AS f
        FROM box JOIN road_segment s ON s.geom && box.b
        JOIN reached r ON r.node = s.target
        WHERE NOT EXISTS (SELECT 1 FROM reached u WHERE u.node = s.source)
        UNION ALL
        SELECT s.id, false, s.geom, s.length_m, (%(r)s - r.agg_cost) / s.length_m
        FROM box JOIN road_segment s ON s.geom && box.b
        JOIN reached r ON r.node = s.source
        WHERE NOT s.oneway AND NOT EXISTS (SELECT 1 FROM reached u WHERE u.node = s.target)
    ) x
)
SELECT a.aid, a.id, a.forward, v.camera_id
FROM approach a
LEFT JOIN coverage v ON v.level = 'observe' AND ST_Intersects(v.geom, a.stretch)
"""

BASELINE_SQL = {"euclidean": EUCLIDEAN_SQL, "network": NETWORK_SQL}
GIST_INDEXES = {
    "euclidean": ("ix_road_segment_geom", "ix_coverage_geom"),
    "network": ("ix_road_segment_geom", "ix_coverage_geom"),
}


def rss_bytes() -> int:
    """Resident set size of this process, bytes."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def load_data(conn: Connection, settings: Settings, *, quick: bool) -> dict[str, Any]:
    """Import the cameras (with coverage) and the roads; seconds and counts."""
    out: dict[str, Any] = {}
    if quick:
        roads_path = data_dir() / "seoul_central_drive.graphml"
        roads = read_road_network(roads_path)
        cctv_path = data_dir() / "seoul_cctv_2018.csv"
    else:
        folder = make_national_roads(BENCH_DIR / "national_roads_2000k")
        roads_path = folder / "segments.parquet"
        roads = read_national_roads(folder)
        cctv_path = make_national_cctv(BENCH_DIR / "national_cctv_tiles_1600k.csv")
    t0 = time.perf_counter()
    summary = import_road_network(conn, roads, path=roads_path, name="bench")
    out["roads_s"] = time.perf_counter() - t0
    out["segments"] = summary.created["road_segments"]
    t0 = time.perf_counter()
    read = read_cctv(cctv_path, country_bounds=settings.country_bounds)
    cams = import_cameras(conn, read, path=cctv_path, max_range_m=settings.max_coverage_range_m)
    out["cameras_s"] = time.perf_counter() - t0
    out["cameras"] = cams.created["cameras"]
    return out


def incident_points(network: RoadNetwork, n: int, *, seed: int = 4) -> np.ndarray:
    """``n`` random points on roads (uniform over segments, then along the segment), lon/lat;
    points on the few segments that leave the network's extent are drawn again."""
    rng = np.random.default_rng(seed)
    seg = rng.integers(0, network.n_segments, 2 * n)
    x, y, _ = network.points_along(seg, rng.random(2 * n) * network.seg_length[seg])
    inside = shapely.contains_xy(network.extent, x, y)
    x, y = x[inside][:n], y[inside][:n]
    lon, lat = xy_to_lonlat(x, y, crs=network.crs)
    return np.column_stack([lon, lat])


def timed(fn: Callable[[float, float], int], points: np.ndarray) -> tuple[np.ndarray, float]:
    """Per-call seconds and the mean result count, after a short warm-up."""
    for lon, lat in points[:5]:
        fn(lon, lat)
    times, counts = [], []
    for lon, lat in points:
        t0 = time.perf_counter()
        counts.append(fn(lon, lat))
        times.append(time.perf_counter() - t0)
    return np.asarray(times), float(np.mean(counts))


def interleaved(
    first: Callable[[float, float], int],
    second: Callable[[float, float], int],
    points: np.ndarray,
    *,
    block: int = 25,
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Per-call seconds of two functions taking turns on blocks of ``block`` points (each
    block answered by one, then the same block by the other, after a short warm-up), and their
    mean result counts. Turns of a block, not of a point: a call right after the other side's
    (another process's) work would find the CPU caches full of it, which is not how either
    runs when it serves; turns at all: whatever else loads the machine weighs on both alike."""
    for lon, lat in points[:5]:
        first(lon, lat)
        second(lon, lat)
    t1: list[float] = []
    t2: list[float] = []
    c1: list[int] = []
    c2: list[int] = []
    for start in range(0, len(points), block):
        chunk = points[start : start + block]
        for fn, times, counts in ((first, t1, c1), (second, t2, c2)):
            for lon, lat in chunk:
                t0 = time.perf_counter()
                counts.append(fn(lon, lat))
                times.append(time.perf_counter() - t0)
    return np.asarray(t1), np.asarray(t2), float(np.mean(c1)), float(np.mean(c2))


def explain(raw: Any, mode: str, params: dict[str, float]) -> str:
    with raw.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + BASELINE_SQL[mode], params)
        return "\n".join(row[0] for row in cur.fetchall())


def fmt_ms(times: np.ndarray) -> str:
    return f"{np.median(times) * 1e3:7.2f} / {np.percentile(times, 99) * 1e3:7.2f}"


def run(url: URL, settings: Settings, args: argparse.Namespace) -> None:
    engine = connect(url)
    if not args.reuse_db:
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pgrouting"))
            loaded = load_data(conn, settings, quick=args.quick)
        with engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
        print(
            f"loaded {loaded['segments']:,} road segments in {loaded['roads_s']:.0f} s, "
            f"{loaded['cameras']:,} cameras with coverage in {loaded['cameras_s']:.0f} s"
        )

    with engine.connect() as conn:
        t0 = time.perf_counter()
        networks = load_road_networks(conn, crs=settings.working_crs)
        network = networks[0].roads
        t_roads = time.perf_counter() - t0
        t0 = time.perf_counter()
        cameras = load_cameras(conn)
        t_cams = time.perf_counter() - t0
    gc.collect()
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    index = build_coverage_index(
        cameras, max_range_m=settings.max_coverage_range_m, crs=settings.working_crs
    )
    build_s = time.perf_counter() - t0
    gc.collect()
    index_mb = (rss_bytes() - rss0) / 1e6
    print(
        f"snapshot: {network.n_segments:,} segments read and built in {t_roads:.1f} s;"
        f" {len(cameras):,} cameras read in {t_cams:.1f} s"
    )
    print(
        f"coverage index for {len(index):,} cameras: built in {build_s:.1f} s (goal < 30 s),"
        f" RSS +{index_mb:,.0f} MB (goal < 1,500 MB)"
    )

    points = incident_points(network, args.queries)
    raw = engine.raw_connection().driver_connection
    assert raw is not None
    raw.autocommit = True
    rows: list[tuple[str, int, np.ndarray, float, float, np.ndarray, float, str]] = []
    for mode in ("network", "euclidean"):
        for radius in (500, 2000):

            def gilmok(lon: float, lat: float, mode: str = mode, radius: int = radius) -> int:
                answer = answer_incident(
                    network, index, (lon, lat), CordonOptions(radius_m=radius, mode=mode)
                )
                return len(answer.watchers)

            def baseline(lon: float, lat: float, mode: str = mode, radius: int = radius) -> int:
                with raw.cursor() as cur:
                    cur.execute(BASELINE_SQL[mode], {"lon": lon, "lat": lat, "r": radius})
                    return sum(1 for row in cur.fetchall() if row[3] is not None)

            # JIT on or off, whichever is faster on a sample, then both sides taking turns
            sample = points[: max(10, len(points) // 10)]
            jit_times = {}
            for jit in ("on", "off"):
                raw.execute(f"SET jit = {jit}")
                jit_times[jit] = float(np.median(timed(baseline, sample)[0]))
            jit = min(jit_times, key=jit_times.__getitem__)
            raw.execute(f"SET jit = {jit}")
            g_times, b_times, g_counts, b_counts = interleaved(gilmok, baseline, points)
            qps = len(points) / float(np.sum(g_times))
            rows.append((mode, radius, g_times, qps, g_counts, b_times, b_counts, jit))
            print(
                f"  {mode:9} R={radius:>4} m: gilmok {fmt_ms(g_times)} ms, {qps:,.0f} q/s;"
                f" baseline {fmt_ms(b_times)} ms (jit {jit}); load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        raw.execute("SET jit = off")
        plan = explain(raw, mode, {"lon": points[0, 0], "lat": points[0, 1], "r": 500})
        used = [name for name in GIST_INDEXES[mode] if name in plan]
        print(f"\nEXPLAIN ANALYZE, {mode}, R = 500 m (GiST indexes used: {', '.join(used)}):")
        print(plan)

    print(f"\n{len(points)} incidents on roads; median / p99 ms; watchers = (approach, camera)")
    print(
        f"{'mode':10}{'R (m)':>6}  {'gilmok med / p99':>17} {'q/s':>6}"
        f"  {'baseline med / p99':>19} {'jit':>4}  {'ratio':>6}  {'watchers g/b':>13}"
    )
    for mode, radius, g, qps, gc_, b, bc, jit in rows:
        ratio = statistics.median(b.tolist()) / statistics.median(g.tolist())
        print(
            f"{mode:10}{radius:>6}  {fmt_ms(g):>17} {qps:>6,.0f}  {fmt_ms(b):>19} {jit:>4}"
            f"  {ratio:>5.1f}x  {gc_:>6.1f}/{bc:<6.1f}"
        )
    engine.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="real Seoul data only (< 2 min)")
    parser.add_argument("--queries", type=int, default=None, help="incidents (300; quick 100)")
    parser.add_argument("--db", default=None, help="database name (default gilmok_bench[_quick])")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    parser.add_argument("--reuse-db", action="store_true", help="answer from a kept database")
    args = parser.parse_args(argv)
    args.queries = args.queries or (100 if args.quick else 300)
    name = args.db or ("gilmok_bench_quick" if args.quick else "gilmok_bench")
    # a reused database stays: it took minutes to load
    with bench_database(name, fresh=not args.reuse_db, keep=args.keep_db or args.reuse_db) as url:
        run(url, load_settings(), args)


if __name__ == "__main__":
    main()
