"""The snapshot folder (geo.snapshot_file): what is written is mapped back bit for bit; a
half-written, corrupted, foreign or other-version folder is rebuilt, never used; processes
racing for one version build it once and all map it; old versions are collected."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from geo.snapshot_file import (
    MANIFEST,
    PARTIAL,
    VERIFIED,
    SnapshotFileInvalid,
    SnapshotVersion,
    open_or_build,
    open_snapshot_file,
    versions_on_disk,
    write_snapshot_file,
)

VERSION = SnapshotVersion("postgresql://127.0.0.1:5432/t#1", (3, 40, 2), 0, {"crs": "EPSG:5179"})


def _arrays(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "x": rng.random(1000),
        "ids": rng.integers(0, 1 << 40, 1000),
        "flags": rng.random(1000) < 0.5,
        "grid": rng.random((250, 4)),
        "labels": np.array(["observe", "low", ""], dtype=np.str_),
        "empty": np.empty(0, dtype=np.int64),
    }


def _builder(calls: list[int], seed: int = 0) -> Any:
    def build() -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        calls.append(1)
        return _arrays(seed), {"note": "built", "seed": seed}

    return build


def test_written_arrays_come_back_mapped_and_equal(tmp_path: Path) -> None:
    path = tmp_path / "v"
    write_snapshot_file(path, VERSION, _arrays(), {"a": [1, 2]})
    mapped = open_snapshot_file(path, VERSION)
    assert mapped.meta == {"a": [1, 2]}
    for name, want in _arrays().items():
        got = mapped.arrays[name]
        assert got.dtype == want.dtype
        assert got.shape == want.shape
        assert np.array_equal(got, want)
        assert type(got) is np.ndarray  # a plain view, as the compiled loops take it
    # mapped from the file, not read into memory
    assert not mapped.arrays["x"].flags.owndata
    assert not list(tmp_path.glob(f"{PARTIAL}*"))


def test_object_arrays_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="Python objects"):
        write_snapshot_file(tmp_path / "v", VERSION, {"o": np.array(["a"], dtype=object)}, {})
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "damage",
    ["no manifest", "manifest edited", "array truncated", "bit flipped", "array missing"],
)
def test_unsound_folder_is_refused_then_rebuilt(tmp_path: Path, damage: str) -> None:
    calls: list[int] = []
    first = open_or_build(tmp_path, VERSION, _builder(calls))
    assert first is not None
    assert first.built
    assert len(calls) == 1
    path = first.path
    del first
    if damage == "no manifest":
        (path / MANIFEST).unlink()
    elif damage == "manifest edited":
        manifest = json.loads((path / MANIFEST).read_text())
        manifest["arrays"]["x"]["shape"] = [999]
        (path / MANIFEST).write_text(json.dumps(manifest))
    elif damage == "array truncated":
        with open(path / "x.npy", "r+b") as fh:
            fh.truncate(os.path.getsize(path / "x.npy") - 8)
    elif damage == "bit flipped":
        with open(path / "ids.npy", "r+b") as fh:
            fh.seek(-3, os.SEEK_END)
            byte = fh.read(1)
            fh.seek(-3, os.SEEK_END)
            fh.write(bytes([byte[0] ^ 0x10]))
    else:
        (path / "grid.npy").unlink()
    with pytest.raises(SnapshotFileInvalid):
        open_snapshot_file(path, VERSION)
    again = open_or_build(tmp_path, VERSION, _builder(calls))
    assert again is not None
    assert again.built
    assert len(calls) == 2
    assert np.array_equal(again.arrays["ids"], _arrays()["ids"])
    assert open_snapshot_file(path, VERSION).meta["note"] == "built"


def test_another_version_or_database_is_not_used(tmp_path: Path) -> None:
    calls: list[int] = []
    open_or_build(tmp_path, VERSION, _builder(calls, seed=1))
    newer = SnapshotVersion(VERSION.database, (4, 41, 2), 0, VERSION.params)
    other_db = SnapshotVersion("postgresql://127.0.0.1:5432/t#2", VERSION.registry)
    other_params = SnapshotVersion(VERSION.database, VERSION.registry, 0, {"crs": "EPSG:3857"})
    changed = SnapshotVersion(VERSION.database, VERSION.registry, 7, VERSION.params)
    for version in (newer, other_db, other_params, changed):
        got = open_or_build(tmp_path, version, _builder(calls, seed=2))
        assert got is not None
        assert got.built
        assert got.version == version
        assert np.array_equal(got.arrays["x"], _arrays(2)["x"])
    assert len(calls) == 5
    # a folder renamed to pose as another version is refused: the manifest says which it is
    old = tmp_path / VERSION.scope / changed.key
    posing = SnapshotVersion(VERSION.database, (9, 99, 9), 0, VERSION.params)
    old.rename(tmp_path / VERSION.scope / posing.key)
    with pytest.raises(SnapshotFileInvalid, match="holds version"):
        open_snapshot_file(tmp_path / VERSION.scope / posing.key, posing)


def test_old_versions_are_collected_keeping_the_previous(tmp_path: Path) -> None:
    calls: list[int] = []
    versions = [
        SnapshotVersion(VERSION.database, (k, 10 * k, 1), 0, VERSION.params) for k in range(1, 5)
    ]
    mapped = []
    for version in versions:
        got = open_or_build(tmp_path, version, _builder(calls, seed=version.registry[0]))
        assert got is not None
        mapped.append(got)
        time.sleep(0.01)
    assert versions_on_disk(tmp_path, VERSION) == [versions[3].key, versions[2].key]
    # a process still holding a removed version keeps reading it
    assert np.array_equal(mapped[0].arrays["x"], _arrays(1)["x"])


def _race(root: str, seed: int, start: float, out: Any) -> None:
    def build() -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        time.sleep(0.5)  # long enough that the other process arrives meanwhile
        return _arrays(seed), {"builder": os.getpid()}

    time.sleep(max(0.0, start - time.time()))
    got = open_or_build(Path(root), VERSION, build)
    assert got is not None
    out.put((os.getpid(), got.built, got.meta["builder"], float(got.arrays["x"].sum())))


def test_racing_processes_build_once_and_both_map_it(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    start = time.time() + 2.0
    procs = [ctx.Process(target=_race, args=(str(tmp_path), k, start, out)) for k in (5, 6)]
    for p in procs:
        p.start()
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert sorted(built for _, built, _, _ in results) == [False, True]
    builders = {builder for _, _, builder, _ in results}
    assert len(builders) == 1  # both map what the one builder wrote
    assert len({total for *_, total in results}) == 1
    assert versions_on_disk(tmp_path, VERSION) == [VERSION.key]
    assert not list((tmp_path / VERSION.scope).glob(f"{PARTIAL}*"))


def test_a_process_that_will_not_wait_is_told_a_build_is_running(tmp_path: Path) -> None:
    import fcntl

    folder = tmp_path / VERSION.scope
    folder.mkdir()
    with open(folder / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        assert open_or_build(tmp_path, VERSION, _builder([]), wait=False) is None
    assert open_or_build(tmp_path, VERSION, _builder([]), wait=False) is not None


def test_a_crashed_build_leaves_nothing_that_is_used(tmp_path: Path) -> None:
    def crash() -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        open_or_build(tmp_path, VERSION, crash)
    assert versions_on_disk(tmp_path, VERSION) == []
    # a partial folder left by a killed builder is swept by the next build
    stale = tmp_path / VERSION.scope / f"{PARTIAL}{VERSION.key}-1-1"
    stale.mkdir()
    (stale / "x.npy").write_bytes(b"half")
    got = open_or_build(tmp_path, VERSION, _builder([]))
    assert got is not None
    assert got.built
    assert not stale.exists()


def _flip_keeping_mtime(path: Path) -> None:
    """Flip a bit of ``path`` and set its modification time back, as damage no write made
    would look (a torn page, a bad disk)."""
    st = os.stat(path)
    with open(path, "r+b") as fh:
        fh.seek(-3, os.SEEK_END)
        byte = fh.read(1)
        fh.seek(-3, os.SEEK_END)
        fh.write(bytes([byte[0] ^ 0x10]))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_a_folder_is_verified_once_per_boot(tmp_path: Path) -> None:
    path = tmp_path / "v"
    write_snapshot_file(path, VERSION, _arrays(), {})
    boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    # a stamp left in another boot does not count: the damage is found
    (path / f"{VERIFIED}not-this-boot").write_text("{}")
    _flip_keeping_mtime(path / "ids.npy")
    with pytest.raises(SnapshotFileInvalid):
        open_snapshot_file(path, VERSION)
    assert not (path / f"{VERIFIED}{boot}").exists()

    write_snapshot_file(tmp_path / "w", VERSION, _arrays(), {})
    open_snapshot_file(tmp_path / "w", VERSION)  # verified: stamped for this boot
    assert (tmp_path / "w" / f"{VERIFIED}{boot}").exists()
    # a file written since (its time changed) is verified again
    with open(tmp_path / "w" / "x.npy", "r+b") as fh:
        fh.seek(-3, os.SEEK_END)
        fh.write(b"\x00\x01\x02")
    os.utime(tmp_path / "w" / "x.npy", ns=(1, 1))
    with pytest.raises(SnapshotFileInvalid):
        open_snapshot_file(tmp_path / "w", VERSION)
