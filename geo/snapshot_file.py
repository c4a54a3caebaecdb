"""The registry snapshot on disk: named numpy arrays in a folder per registry version, mapped
read-only by every process on the machine, built once under a file lock.

A version's folder holds one ``.npy`` file per array and ``manifest.json``: the format, the
version it reflects (:class:`SnapshotVersion`), each array's file, dtype, shape and checksum
(:func:`checksum`), free metadata, and a CRC-32 of all of that. :func:`open_snapshot_file`
maps the arrays
(``mmap_mode="r"``: the page cache holds one copy for every process) and refuses a folder whose
manifest, any array's dtype, shape or checksum, or whose version is not the one asked for
(:class:`SnapshotFileInvalid`): a half-written, corrupted or foreign folder is never used.

:func:`open_or_build` is how a process gets a version: it maps the folder when it is there and
sound; otherwise it takes the scope's lock (``fcntl.flock``), looks again (another process may
have built it meanwhile), builds it by the caller's function, writes it to a temporary folder
beside the others, renames it into place (atomic), removes the versions older than the
previous one, and maps it. Nothing is fsynced: the files reach the disk as the kernel writes
them back (a national version is 1.5 GB; forcing it out took longer than building it). A
process that dies mid-write leaves only a partial folder, never opened; a machine that crashes
boots again, and every folder is verified before its first use in a boot
(:func:`open_snapshot_file`), so a file the crash tore is found and the version rebuilt. A
process that already answers from an older version asks with ``wait=False`` and gets None
while another builds: it keeps answering from what it has.

Nothing here knows what the arrays mean (:mod:`geo.snapshot_arrays` does) nor where they come
from (:mod:`geo.store.snapshot` reads PostGIS). Pure: no database, no web framework.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import shutil
import time
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: The manifest's ``format``: bumped whenever the layout of the arrays changes, so that a folder
#: written by another release of gilmok is rebuilt, not misread.
FORMAT = "gilmok-snapshot/1"
MANIFEST = "manifest.json"
LOCK = ".build.lock"
#: Prefix of the folders being written (never opened; removed when found under the lock).
PARTIAL = ".partial-"
#: Prefix of the stamp a process leaves once it has verified every array of a folder in this
#: boot (followed by the boot id): later openers in the same boot skip the full read.
VERIFIED = ".verified-"
#: Checksums are summed over blocks of this many bytes.
_CRC_BLOCK = 1 << 24

Arrays = Mapping[str, NDArray[Any]]
#: What a build returns: its arrays and metadata, and optionally the version it carried some
#: arrays over from (they are hard-linked, not written again).
Built = tuple[Arrays, Mapping[str, Any]] | tuple[Arrays, Mapping[str, Any], "SnapshotFile | None"]


class SnapshotFileInvalid(Exception):
    """A snapshot folder that must not be used: missing, half-written, corrupted or foreign."""


@dataclass(frozen=True)
class SnapshotVersion:
    """What a snapshot reflects, and so the name of its folder.

    ``database`` identifies the database it was read from (server, name and the database's
    oid, so a database dropped and made again is another one); ``registry`` is
    :func:`geo.store.cameras.registry_version` (last import batch, camera and road network
    ids); ``changes`` the last change sequence number the base includes (0 where camera
    changes are not sequenced); ``params`` the build settings the arrays depend on (working
    CRS, coverage cap).
    """

    database: str
    registry: tuple[int, ...]
    changes: int = 0
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def scope(self) -> str:
        """Folder of this database's versions (a digest: the identity may hold a host name)."""
        return "db-" + hashlib.sha256(self.database.encode()).hexdigest()[:16]

    @property
    def key(self) -> str:
        """Folder name of this version within its scope."""
        params = json.dumps(dict(self.params), sort_keys=True, default=str)
        digest = hashlib.sha256(f"{FORMAT}|{params}".encode()).hexdigest()[:10]
        registry = "-".join(str(int(v)) for v in self.registry)
        return f"v-{registry}-s{int(self.changes)}-{digest}"

    @classmethod
    def from_json(cls, recorded: Mapping[str, Any]) -> SnapshotVersion:
        """The version a manifest records (:meth:`as_json`)."""
        return cls(
            database=recorded["database"],
            registry=tuple(recorded["registry"]),
            changes=int(recorded["changes"]),
            params=recorded["params"],
        )

    def as_json(self) -> dict[str, Any]:
        """The version as the manifest records it."""
        return {
            "database": self.database,
            "registry": [int(v) for v in self.registry],
            "changes": int(self.changes),
            "params": json.loads(json.dumps(dict(self.params), sort_keys=True, default=str)),
        }


@dataclass(frozen=True)
class SnapshotFile:
    """A mapped snapshot folder: its arrays (read-only, backed by the files) and metadata."""

    path: Path
    version: SnapshotVersion
    arrays: dict[str, NDArray[Any]]
    meta: dict[str, Any]
    created: float
    built: bool = False  # True when this process built it


def checksum(array: NDArray[Any]) -> int:
    """The sum, modulo 2**64, of an array's bytes (C order) read as little-endian 64-bit words
    (the tail padded with zeros), block by block.

    It changes with any flipped bit or any one word changed, and reads at memory speed (a
    national snapshot's 1.5 GB in a fraction of a second, where CRC-32 took seconds): it
    guards against a damaged or truncated file, not against a forger.
    """
    flat = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
    total = 0
    for start in range(0, flat.shape[0], _CRC_BLOCK):
        block = flat[start : start + _CRC_BLOCK]
        whole = block.shape[0] // 8 * 8
        total += int(np.add.reduce(block[:whole].view("<u8"), dtype=np.uint64))  # wraps
        if whole < block.shape[0]:
            tail = np.zeros(8, dtype=np.uint8)
            tail[: block.shape[0] - whole] = block[whole:]
            total += int(tail.view("<u8")[0])
    return total % (1 << 64)


def _manifest_crc(body: Mapping[str, Any]) -> int:
    return zlib.crc32(json.dumps(body, sort_keys=True).encode())


def write_snapshot_file(
    path: Path,
    version: SnapshotVersion,
    arrays: Arrays,
    meta: Mapping[str, Any],
    *,
    reuse: SnapshotFile | None = None,
) -> None:
    """Write ``arrays`` and ``meta`` (JSON-able) as the folder ``path`` (which must not exist),
    through a temporary folder beside it renamed into place once every file is on disk.

    An array that *is* one of ``reuse``'s mapped arrays (the same object: a part of the
    snapshot carried over unchanged from that version, such as its road networks when only
    cameras changed) is hard-linked from that folder, with its recorded checksum, instead of
    being written again."""
    path = Path(path)
    tmp = path.parent / f"{PARTIAL}{path.name}-{os.getpid()}-{time.monotonic_ns()}"
    tmp.mkdir(parents=True)
    try:
        entries = {}
        carried = {id(a): n for n, a in reuse.arrays.items()} if reuse is not None else {}
        reused = read_manifest(reuse.path)["arrays"] if reuse is not None else {}
        for name, array in arrays.items():
            same = carried.get(id(array))
            if reuse is not None and same is not None and reuse.arrays[same] is array:
                entry = dict(reused[same])
                os.link(reuse.path / entry["file"], tmp / f"{name}.npy")
                entries[name] = {**entry, "file": f"{name}.npy"}
                continue
            arr = np.ascontiguousarray(array)
            if arr.dtype.hasobject:
                raise TypeError(f"array {name!r} holds Python objects: encode it first")
            file = f"{name}.npy"
            np.save(tmp / file, arr, allow_pickle=False)
            entries[name] = {
                "file": file,
                "dtype": arr.dtype.str,
                "shape": list(arr.shape),
                "sum64": checksum(arr),
            }
        body = {
            "format": FORMAT,
            "version": version.as_json(),
            "created": time.time(),
            "arrays": entries,
            "meta": json.loads(json.dumps(dict(meta))),
        }
        manifest = {**body, "checksum": _manifest_crc(body)}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        tmp.rename(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read_manifest(path: Path) -> dict[str, Any]:
    """The manifest of the folder ``path``, checked against its own checksum.

    Raises
    ------
    SnapshotFileInvalid
        when it is missing, unreadable, of another format or does not match its checksum.
    """
    try:
        manifest = json.loads((Path(path) / MANIFEST).read_text())
        body = {k: v for k, v in manifest.items() if k != "checksum"}
        ok = isinstance(manifest, dict) and manifest.get("checksum") == _manifest_crc(body)
    except (OSError, ValueError, AttributeError) as exc:
        raise SnapshotFileInvalid(f"{path}: no readable manifest ({exc})") from None
    if not ok:
        raise SnapshotFileInvalid(f"{path}: the manifest does not match its checksum")
    if manifest.get("format") != FORMAT:
        raise SnapshotFileInvalid(f"{path}: format {manifest.get('format')!r}, not {FORMAT!r}")
    return manifest


def open_snapshot_file(
    path: Path, version: SnapshotVersion | None = None, *, verify: bool = True
) -> SnapshotFile:
    """Map the snapshot folder ``path``: every array read-only from its file.

    ``version``, when given, must be the one the manifest records. ``verify`` recomputes each
    array's checksum (reading every page once: they stay in the page cache for the others),
    once per boot: the first process to verify a folder leaves a stamp naming this boot and
    every file's inode, size and modification time, and an opener finding it matching skips
    the read. A crash that could leave a file torn is a reboot, so the next boot verifies
    again; a file replaced or rewritten no longer matches its stamp.

    Raises
    ------
    SnapshotFileInvalid
        when the folder is not a complete, sound snapshot of that version.
    """
    path = Path(path)
    manifest = read_manifest(path)
    recorded = manifest["version"]
    if version is not None and recorded != version.as_json():
        raise SnapshotFileInvalid(f"{path}: holds version {recorded}, not {version.as_json()}")
    arrays: dict[str, NDArray[Any]] = {}
    stamp = _verified_stamp(path, manifest) if verify else None
    if stamp is not None and _read_stamp(path, stamp[0]) == stamp[1]:
        verify = False  # every file as it was when a process of this boot read all its pages
    for name, entry in manifest["arrays"].items():
        try:
            mapped = np.load(path / entry["file"], mmap_mode="c", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise SnapshotFileInvalid(f"{path}: array {name!r} cannot be read ({exc})") from None
        if mapped.dtype.str != entry["dtype"] or list(mapped.shape) != entry["shape"]:
            raise SnapshotFileInvalid(
                f"{path}: array {name!r} is {mapped.dtype.str}{list(mapped.shape)}, the manifest"
                f" says {entry['dtype']}{entry['shape']}"
            )
        # a plain ndarray view of the mapping: the compiled loops take it like any array
        array = np.asarray(mapped)
        if verify and checksum(array) != entry.get("sum64"):
            raise SnapshotFileInvalid(f"{path}: array {name!r} does not match its checksum")
        arrays[name] = array
    if verify and stamp is not None:
        _write_stamp(path, *stamp)
    found = SnapshotVersion.from_json(recorded)
    return SnapshotFile(path, version or found, arrays, manifest["meta"], manifest["created"])


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def _verified_stamp(path: Path, manifest: Mapping[str, Any]) -> tuple[str, str] | None:
    """(stamp file name, what it must hold) for the folder as it is now: this boot's id and
    every array file's inode, size and modification time. None where the boot cannot be
    told (then every open verifies)."""
    boot = _boot_id()
    if boot is None:
        return None
    files = {}
    for entry in manifest["arrays"].values():
        try:
            st = os.stat(path / entry["file"])
        except OSError:
            return None
        files[entry["file"]] = [st.st_ino, st.st_size, st.st_mtime_ns]
    return f"{VERIFIED}{boot}", json.dumps(files, sort_keys=True)


def _read_stamp(path: Path, name: str) -> str | None:
    try:
        return (path / name).read_text()
    except OSError:
        return None


def _write_stamp(path: Path, name: str, body: str) -> None:
    """Record that every array was read and matched its checksum in this boot (best effort: a
    folder this process cannot write is verified by every opener)."""
    tmp = path / f"{name}.{os.getpid()}.tmp"
    try:
        tmp.write_text(body)
        tmp.rename(path / name)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()


@contextlib.contextmanager
def _locked(folder: Path, *, wait: bool) -> Iterator[bool]:
    """Hold the scope's build lock (exclusive ``flock``); yields False, holding nothing, when
    ``wait`` is False and another process holds it."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                yield False
                return
            raise
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _created(path: Path) -> float:
    try:
        return float(read_manifest(path)["created"])
    except SnapshotFileInvalid:
        return -1.0


def collect_garbage(folder: Path, current: str, *, keep: int = 1) -> list[str]:
    """Remove the versions in ``folder`` but ``current`` and the ``keep`` newest others, and any
    partial folder; called under the build lock. Processes still mapping a removed version
    keep their pages (an unlinked file lives on while mapped). Returns the names removed."""
    others = [
        p for p in folder.iterdir() if p.is_dir() and p.name != current and p.name[:2] == "v-"
    ]
    others.sort(key=_created, reverse=True)
    doomed = others[keep:] + [p for p in folder.iterdir() if p.name.startswith(PARTIAL)]
    for path in doomed:
        shutil.rmtree(path, ignore_errors=True)
    return [p.name for p in doomed]


def open_or_build(
    root: Path,
    version: SnapshotVersion,
    build: Callable[[], Built],
    *,
    wait: bool = True,
    verify: bool = True,
) -> SnapshotFile | None:
    """The snapshot of ``version`` under ``root``, mapped: built first (once, by whichever
    process gets the lock) when it is not there or not sound.

    ``build`` returns the arrays and metadata, and optionally a version it carried arrays over
    from (:func:`write_snapshot_file`'s ``reuse``); it runs under the lock, so no two processes
    build the same scope at once. With ``wait=False`` a process finding the lock held returns
    None at once (it answers from the version it has and asks again later).
    """
    folder = Path(root) / version.scope
    path = folder / version.key
    with contextlib.suppress(SnapshotFileInvalid):
        return open_snapshot_file(path, version, verify=verify)
    with _locked(folder, wait=wait) as held:
        if not held:
            return None
        try:
            return open_snapshot_file(path, version, verify=verify)
        except SnapshotFileInvalid:
            if path.exists():
                # unsound: moved aside first so that no process opens it while it goes
                doomed = folder / f"{PARTIAL}bad-{path.name}-{time.monotonic_ns()}"
                path.rename(doomed)
                shutil.rmtree(doomed, ignore_errors=True)
        built = build()
        arrays, meta = built[0], built[1]
        reuse = built[2] if len(built) > 2 else None
        write_snapshot_file(path, version, arrays, meta, reuse=reuse)
        collect_garbage(folder, path.name)
    opened = open_snapshot_file(path, version, verify=False)
    return SnapshotFile(
        opened.path, opened.version, opened.arrays, opened.meta, opened.created, built=True
    )


def kindred_versions(root: Path, version: SnapshotVersion) -> Iterator[tuple[Path, dict[str, Any]]]:
    """(folder, manifest) of each sound version under ``root`` of ``version``'s database and
    build settings (any registry or change sequence), newest first."""
    same = version.as_json()
    for name in versions_on_disk(root, version):
        path = Path(root) / version.scope / name
        try:
            manifest = read_manifest(path)
        except SnapshotFileInvalid:
            continue
        recorded = manifest["version"]
        if (recorded["database"], recorded["params"]) == (same["database"], same["params"]):
            yield path, manifest


def versions_on_disk(root: Path, version: SnapshotVersion) -> list[str]:
    """Names of the version folders of ``version``'s database under ``root``, newest first."""
    folder = Path(root) / version.scope
    if not folder.is_dir():
        return []
    found = [p for p in folder.iterdir() if p.is_dir() and p.name[:2] == "v-"]
    return [p.name for p in sorted(found, key=_created, reverse=True)]
