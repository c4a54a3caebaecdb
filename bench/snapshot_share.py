"""Benchmark: a worker's start to its first answer on the shared registry snapshot, beside
today's per-process build, and the memory each extra worker adds.

Usage: ``.venv/bin/python bench/snapshot_share.py [--db gilmok_bench] [--workers 3]
[--starts 3] [--baseline-runs 1]`` (the snapshot folder is a temporary one, removed after)

It answers from a kept national bench database (``bench/core_query.py --keep-db``: 1.6 M
cameras, 2.0 M road segments), in worker processes started afresh as gunicorn would start
them (each its own Python, importing gilmok), all asked the same incident:

- **build**: a worker on an empty snapshot folder builds the version (PostGIS read, road
  graph and coverage index, arrays written and renamed into place), then maps it;
- **baseline**: a worker building its own snapshot from PostGIS, as every process did before
  (:func:`geo.store.snapshot.load_snapshot`);
- **forked**: a master loaded as ``gilmok serve``'s is (:func:`api.serve.preload_for_workers`)
  forks ``--starts`` workers one after another, as gunicorn starts (and restarts) them; each
  maps the version and answers; all alive at once, their USS is read;
- **camera import**: an empty import batch recorded (the version moves, the rows stay, the
  batch is removed after), a worker builds the new version, carrying the road arrays over;
- **shared**: ``--starts`` workers, one after another, mapping the version already built
  (:func:`geo.store.snapshot.load_shared_snapshot`); then ``--workers`` of them alive at
  once, whose memory is read from ``/proc/<pid>/smaps_rollup``: PSS (mapped pages shared by
  N processes count 1/N each) and USS (pages no other process shares), before the snapshot
  (imports only) and after the first answer.

Seconds are from the process's start (``exec``) to its first answer, so they include the
imports (the same in both); every figure is printed with the load average.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def smaps(pid: int | str = "self") -> dict[str, int]:
    """The kB fields of ``/proc/<pid>/smaps_rollup`` (Rss, Pss, Private_Clean, …)."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1])
    return out


def uss_kb(fields: dict[str, int]) -> int:
    """Unique set size: the pages only this process holds."""
    return fields["Private_Clean"] + fields["Private_Dirty"]


def load_and_answer(args: argparse.Namespace, t0: float) -> dict[str, Any]:
    """Load the snapshot the way ``args.worker`` says, answer one incident: the report (times
    from ``t0``, memory before and after)."""
    from api.settings import load_settings
    from geo.cordon import CordonOptions
    from geo.crs import xy_to_lonlat
    from geo.incident import answer_incident
    from geo.store import connect
    from geo.store.snapshot import load_shared_snapshot, load_snapshot

    settings = load_settings()
    engine = connect(settings.owner_database_url.set(database=args.db))
    before = smaps()
    t_load = time.time()
    with engine.connect() as conn:
        if args.worker == "baseline":
            snapshot = load_snapshot(
                conn, crs=settings.working_crs, max_range_m=settings.max_coverage_range_m
            )
            built = True
        else:
            shared = load_shared_snapshot(
                conn,
                folder=Path(args.folder),
                crs=settings.working_crs,
                max_range_m=settings.max_coverage_range_m,
            )
            assert shared is not None
            snapshot, built = shared.snapshot, shared.built
    engine.dispose()
    loaded = time.time()
    network = snapshot.networks[0].roads
    seg = network.n_segments // 2
    x, y, _ = network.points_along([seg], [float(network.seg_length[seg]) / 2])
    lon, lat = xy_to_lonlat(x, y, crs=network.crs)
    answer = answer_incident(
        network, snapshot.index, (float(lon[0]), float(lat[0])), CordonOptions(radius_m=500.0)
    )
    done = time.time()
    body = json.dumps(answer.to_geojson(), sort_keys=True, default=str)
    return {
        "mode": args.worker,
        "pid": os.getpid(),
        "built": built,
        "start_to_answer_s": done - t0,
        "imports_s": t_load - t0,
        "load_s": loaded - t_load,
        "answer_hash": hashlib.sha256(body.encode()).hexdigest(),
        "watchers": body.count('"role": "camera"'),
        "before": before,
        "after": smaps(),
        "load": os.getloadavg()[0],
    }


def worker(args: argparse.Namespace) -> None:
    """One worker started afresh (``exec``): load, answer, report (one JSON line), then wait
    for a line on stdin before exiting (so memory can be read)."""
    print(json.dumps(load_and_answer(args, args.t0)), flush=True)
    sys.stdin.readline()


def forking_master(args: argparse.Namespace) -> None:
    """A master as ``gilmok serve`` runs one (:func:`api.serve.preload_for_workers`: the app's
    modules, the compiled loops, the boundaries, loaded before any worker), which then forks
    ``args.starts`` workers one after another as gunicorn does; each maps the shared snapshot
    and answers. All stay alive until every one has answered, so that their memory is read
    together. Reports one JSON line: each worker's report and its smaps then."""
    from api.serve import preload_for_workers
    from api.settings import load_settings

    preload_for_workers(load_settings())
    reports, kids = [], []
    for _ in range(args.starts):
        read, write = os.pipe()
        t0 = time.time()
        pid = os.fork()
        if pid == 0:  # the worker
            os.close(read)
            args.worker = "shared"
            with os.fdopen(write, "w") as out:
                out.write(json.dumps(load_and_answer(args, t0)) + "\n")
            time.sleep(3600)  # until the master ends it
            os._exit(0)
        os.close(write)
        with os.fdopen(read) as got:
            reports.append(json.loads(got.readline()))
        kids.append(pid)
    memory = {str(pid): smaps(pid) for pid in kids}
    for pid in kids:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    print(json.dumps({"mode": "forks", "reports": reports, "memory": memory}), flush=True)
    sys.stdin.readline()


def start(mode: str, db: str, folder: Path, starts: int = 1) -> subprocess.Popen[str]:
    """A worker process, started now."""
    cmd = [
        sys.executable, __file__, "--worker", mode, "--db", db, "--folder", str(folder),
        "--t0", repr(time.time()), "--starts", str(starts),
    ]  # fmt: skip
    return subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)


def report_of(proc: subprocess.Popen[str], *, keep: bool = False) -> dict[str, Any]:
    """The worker's JSON line (it is then told to exit unless ``keep``)."""
    assert proc.stdout is not None
    assert proc.stdin is not None
    line = proc.stdout.readline()
    if not line:
        raise SystemExit(f"worker {proc.pid} ended without an answer (exit {proc.wait()})")
    got: dict[str, Any] = json.loads(line)
    if not keep:
        stop(proc)
    return got


def stop(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.write("\n")
    proc.stdin.flush()
    proc.wait(timeout=120)


def _owner_engine(db: str) -> Any:
    from api.settings import load_settings
    from geo.store import connect

    return connect(load_settings().owner_database_url.set(database=db))


def mark_import(db: str) -> int:
    """Record an empty camera import batch (committed): the registry's version moves on, its
    rows stay as they are. Returns its id, for :func:`unmark_import`."""
    from sqlalchemy import text

    engine = _owner_engine(db)
    with engine.begin() as conn:
        got = conn.execute(
            text(
                "INSERT INTO import_batch (kind, file_name, file_sha256, rows_read, rows_imported,"
                " rows_merged, rows_rejected, rows_already_present, report, started_at,"
                " finished_at) VALUES ('cctv', 'bench: version bump', repeat('0', 64), 0, 0, 0,"
                " 0, 0, '{}', now(), now()) RETURNING id"
            )
        ).scalar_one()
    engine.dispose()
    return int(got)


def unmark_import(db: str, batch: int) -> None:
    from sqlalchemy import text

    engine = _owner_engine(db)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM import_batch WHERE id = :id"), {"id": batch})
    engine.dispose()


def mb(kb: float) -> str:
    return f"{kb / 1024:,.0f} MB"


def run(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="gilmok-snapshot-bench-"))
    try:
        print(f"database {args.db}; snapshot folder {root}; load {os.getloadavg()[0]:.1f}")

        build = report_of(start("shared", args.db, root))
        assert build["built"], "the folder was empty: this worker should have built it"
        size = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
        print(
            f"build of a new version: {build['load_s']:.1f} s (PostGIS read, graph and index, "
            f"{size / 1e9:.2f} GB written), first answer at {build['start_to_answer_s']:.1f} s;"
            f" load {build['load']:.1f}",
            flush=True,
        )

        baseline = []
        for _ in range(args.baseline_runs):
            got = report_of(start("baseline", args.db, root))
            baseline.append(got)
            print(
                f"baseline (own build): first answer at {got['start_to_answer_s']:.1f} s"
                f" (load {got['load_s']:.1f} s); load {got['load']:.1f}",
                flush=True,
            )

        shared = []
        for _ in range(args.starts):
            got = report_of(start("shared", args.db, root))
            assert not got["built"]
            shared.append(got)
            print(
                f"shared (mapped): first answer at {got['start_to_answer_s']:.1f} s"
                f" (load {got['load_s']:.2f} s); load {got['load']:.1f}",
                flush=True,
            )
        forks = report_of(start("forks", args.db, root, args.starts))
        forked = forks["reports"]
        for got in forked:
            print(
                f"forked by a preloaded master (as gunicorn does): first answer at"
                f" {got['start_to_answer_s']:.2f} s (load {got['load_s']:.2f} s);"
                f" load {got['load']:.1f}",
                flush=True,
            )
        forked_uss = [uss_kb(m) for m in forks["memory"].values()]
        print(f"{len(forked)} forked workers alive at once: USS "
              f"{', '.join(map(mb, forked_uss))}", flush=True)  # fmt: skip

        # a camera import (an empty batch stands for one: the registry's version moves, the
        # rows stay) makes a new version whose roads are the previous one's
        bump = mark_import(args.db)
        try:
            camera_import = report_of(start("shared", args.db, root))
        finally:
            unmark_import(args.db, bump)
        assert camera_import["built"], "a new version should have been built"
        print(
            "new version after a camera import (roads carried over):"
            f" {camera_import['load_s']:.1f} s; load {camera_import['load']:.1f}",
            flush=True,
        )
        same = {r["answer_hash"] for r in baseline + shared + forked + [camera_import]} | {
            build["answer_hash"]
        }
        print(f"same answer in every worker: {'yes' if len(same) == 1 else 'NO'}")

        # memory: workers alive at once
        procs = [start("shared", args.db, root) for _ in range(args.workers)]
        alive = [report_of(p, keep=True) for p in procs]
        now = {r["pid"]: smaps(r["pid"]) for r in alive}
        for p in procs:
            stop(p)
        base_mem = baseline[0] if baseline else None

        def med(values: Sequence[float]) -> float:
            return statistics.median(values) if values else float("nan")

        pss = [now[r["pid"]]["Pss"] for r in alive]
        uss = [uss_kb(now[r["pid"]]) for r in alive]
        added_uss = [uss_kb(now[r["pid"]]) - uss_kb(r["before"]) for r in alive]
        added_pss = [now[r["pid"]]["Pss"] - r["before"]["Pss"] for r in alive]
        rss = [now[r["pid"]]["Rss"] for r in alive]
        print(f"\n{args.workers} shared workers alive at once: PSS {', '.join(map(mb, pss))};"
              f" USS {', '.join(map(mb, uss))}; RSS {', '.join(map(mb, rss))}")  # fmt: skip

        rows = [
            ("start to first answer (s, median)",
             med([r["start_to_answer_s"] for r in baseline]),
             med([r["start_to_answer_s"] for r in shared]), "< 5 s"),
            ("  forked by a preloaded master (s, median)",
             med([r["start_to_answer_s"] for r in baseline]),
             med([r["start_to_answer_s"] for r in forked]), "< 5 s"),
            ("  of which loading the snapshot (s)",
             med([r["load_s"] for r in baseline]), med([r["load_s"] for r in shared]), ""),
            ("build of a new version (s)", med([r["load_s"] for r in baseline]),
             build["load_s"], "< 20 s"),
            ("  after a camera import (roads carried over)", med([r["load_s"] for r in baseline]),
             camera_import["load_s"], "< 20 s"),
            ("memory added by a worker: USS (MB)",
             (uss_kb(base_mem["after"]) - uss_kb(base_mem["before"])) / 1024 if base_mem
             else float("nan"), med(added_uss) / 1024, "< 150 MB"),
            ("memory of a forked worker: USS (MB)",
             (uss_kb(base_mem["after"]) - uss_kb(base_mem["before"])) / 1024 if base_mem
             else float("nan"), med(forked_uss) / 1024, "< 150 MB"),
            ("memory added by a worker: PSS (MB)",
             (base_mem["after"]["Pss"] - base_mem["before"]["Pss"]) / 1024 if base_mem
             else float("nan"), med(added_pss) / 1024, ""),
        ]  # fmt: skip
        print(f"\n{'':38}{'per-process build':>18}{'shared snapshot':>17}{'ratio':>8}  goal")
        for name, base, ours, goal in rows:
            ratio = base / ours if ours else float("nan")
            print(f"{name:38}{base:>18,.1f}{ours:>17,.1f}{ratio:>7.1f}x  {goal}")
        print(
            f"(baseline runs {len(baseline)}, shared starts {len(shared)}, workers {args.workers};"
            f" PSS/USS read from /proc/<pid>/smaps_rollup after the first answer, minus the same"
            f" process before loading; load now {os.getloadavg()[0]:.1f})"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="gilmok_bench", help="kept bench database")
    parser.add_argument("--folder", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=3, help="workers alive for memory")
    parser.add_argument("--starts", type=int, default=3, help="shared worker starts timed")
    parser.add_argument("--baseline-runs", type=int, default=1, help="per-process builds")
    parser.add_argument("--worker", choices=["shared", "baseline", "forks"], help=argparse.SUPPRESS)
    parser.add_argument("--t0", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker == "forks":
        forking_master(args)
    elif args.worker:
        worker(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
