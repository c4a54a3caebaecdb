"""Benchmark: importing a national CCTV file (1.6 million cameras) against a row-by-row insert.

Usage: ``.venv/bin/python bench/import_national.py [--cameras 1600000] [--baseline-rows 5000]``

Both run in a database made for the run (dropped at the end). gilmok's import is the real
``gilmok import cctv`` path (read, binary COPY of cameras and coverage, indexes). The
baseline is what a straightforward importer does: one INSERT per camera and one per coverage
polygon, committed once, measured on the first ``--baseline-rows`` cameras of the same file
and extrapolated linearly (it would take the better part of an hour on the whole file).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import pandas as pd
import shapely
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.settings import load_settings
from bench.national import make_national_cctv
from geo.ingest.cctv import read_cctv
from geo.store import connect
from geo.store.imports import import_cameras, observe_coverage
from geo.store.migrate import upgrade

BENCH_DIR = Path("/tmp/gilmok-bench")


def row_by_row(conn, cams, *, max_range_m: float) -> float:
    """Seconds to insert ``cams`` one camera (and its coverage) per statement."""
    computed = observe_coverage(cams, max_range_m=max_range_m)
    coverage = pd.DataFrame(  # one polygon per camera, as a naive importer
        {
            "range_m": computed.range_m[computed.keys],
            "confidence": computed.confidence[computed.keys],
            "wkb": shapely.to_wkb(computed.polygons[computed.keys], hex=True),
        }
    )
    owner = conn.execute(
        text("INSERT INTO organization (name, kind) VALUES ('bench owner', 'municipal_centre')"
             " RETURNING id")
    ).scalar_one()  # fmt: skip
    insert_camera = text(
        "INSERT INTO camera (source, source_key, site_key, owner_id, position, kind, heading_deg,"
        " heading_source, fov_deg, resolution_px_h, purpose, address)"
        " VALUES ('cctv_standard', :key, :site, :owner,"
        " ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 5179), :kind, :heading,"
        " :heading_source, :fov, :px, :purpose, :address) RETURNING id"
    )
    insert_coverage = text(
        "INSERT INTO coverage (camera_id, level, range_m, confidence, geom) VALUES"
        " (:camera, 'observe', :range, :confidence,"
        " ST_SetSRID(ST_GeomFromWKB(decode(:wkb, 'hex')), 5179))"
    )
    t0 = time.perf_counter()
    for cam, cov in zip(cams.itertuples(), coverage.itertuples(), strict=True):
        heading = None if cam.heading_deg != cam.heading_deg else cam.heading_deg
        camera_id = conn.execute(
            insert_camera,
            {
                "key": f"rowwise:{cam.source_key}", "site": cam.site_key, "owner": owner,
                "lon": cam.lon, "lat": cam.lat, "kind": cam.kind, "heading": heading,
                "heading_source": cam.heading_source,
                "fov": None if cam.fov_deg != cam.fov_deg else cam.fov_deg,
                "px": None if cam.resolution_px_h is None or str(cam.resolution_px_h) == "<NA>"
                else int(cam.resolution_px_h),
                "purpose": cam.purpose, "address": cam.address,
            },
        ).scalar_one()  # fmt: skip
        conn.execute(
            insert_coverage,
            {"camera": camera_id, "range": cov.range_m, "confidence": cov.confidence,
             "wkb": cov.wkb},
        )  # fmt: skip
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=1_600_000)
    parser.add_argument("--baseline-rows", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=1, help="gilmok imports to time")
    args = parser.parse_args()

    settings = load_settings()
    BENCH_DIR.mkdir(exist_ok=True)
    path = make_national_cctv(BENCH_DIR / f"national_cctv_{args.cameras // 1000}k.csv",
                              target_cameras=args.cameras)  # fmt: skip
    admin = connect(
        settings.owner_database_url.set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    gilmok_s, read_s, load_s, loadavg, cameras = [], [], [], [], 0
    baseline_s, baseline_n = 0.0, 0
    for _ in range(args.repeats):
        name = f"gilmok_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = settings.owner_database_url.set(database=name)
        try:
            upgrade(url)
            engine = connect(url)
            loadavg.append(os.getloadavg()[0])
            t0 = time.perf_counter()
            read = read_cctv(path, country_bounds=settings.country_bounds)
            t1 = time.perf_counter()
            with engine.begin() as conn:
                summary = import_cameras(
                    conn, read, path=path, max_range_m=settings.max_coverage_range_m
                )
            t2 = time.perf_counter()
            read_s.append(t1 - t0)
            load_s.append(t2 - t1)
            gilmok_s.append(t2 - t0)
            cameras = summary.created["cameras"]
            if not baseline_n:
                sample = read.cameras.iloc[: args.baseline_rows]
                with engine.connect() as conn, conn.begin() as tx:
                    baseline_s = row_by_row(conn, sample, max_range_m=settings.max_coverage_range_m)
                    tx.rollback()
                baseline_n = len(sample)
            engine.dispose()
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    total = statistics.median(gilmok_s)
    rate = cameras / total
    base_rate = baseline_n / baseline_s
    print(f"file: {path.name}, {path.stat().st_size / 1e6:.0f} MB, {cameras} cameras created")
    print(f"{'':28}{'seconds':>10}{'cameras/s':>12}")
    print(
        f"{'gilmok import (read+load)':28}{total:>10.1f}{rate:>12,.0f}"
        f"   (read {statistics.median(read_s):.1f} s, load {statistics.median(load_s):.1f} s)"
    )
    print(
        f"{'row-by-row insert':28}{cameras / base_rate:>10.0f}{base_rate:>12,.0f}"
        f"   (measured on {baseline_n} cameras, extrapolated)"
    )
    print(f"ratio: gilmok {rate / base_rate:.1f}x the row-by-row rate; goal: < 120 s for the file")
    for i, (g, r, lo, avg) in enumerate(zip(gilmok_s, read_s, load_s, loadavg, strict=True), 1):
        print(f"run {i}: {g:.1f} s (read {r:.1f} s, load {lo:.1f} s), 1-min load average {avg:.2f}")
    print(f"on {os.cpu_count()} cores; load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
