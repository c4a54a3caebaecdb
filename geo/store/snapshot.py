"""Read the registry out of PostGIS into the in-memory core (:mod:`geo.registry`): road
networks and the coverage index.

The API, the serves and the drill workers answer from a snapshot built once per registry
version on the machine and mapped by each of them (:func:`load_shared_snapshot`, on
:mod:`geo.snapshot_file`). :func:`load_snapshot` builds it from the tables: ``COPY … TO
STDOUT`` parsed by Arrow, the segments' WKB decoded and parsed with numpy
(:func:`read_road_networks`: no geometry object per segment), plain columns handed to
:mod:`geo.network` and :mod:`geo.index`. :func:`load_road_networks` is the reader before it
(shapely decodes each segment), kept as its check and as the benchmarks' baseline. The PostGIS
twin of the watching query, :func:`watching_pairs_sql`, answers the same question from the
stored coverage polygons with the GiST index, so the two paths can be checked against each
other.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import shapely
from numpy.typing import NDArray
from psycopg import sql
from sqlalchemy import TextClause
from sqlalchemy.engine import Connection

from geo.errors import InvalidInput
from geo.index import CoverageIndex, build_coverage_index
from geo.network import (
    build_road_network,
    hilbert_order,
    road_network_from_vertices,
    segment_bounds,
)
from geo.registry import (
    NetworkSnapshot,
    RegistrySnapshot,
    segments_in_space_order,
)
from geo.snapshot_arrays import networks_from_arrays, snapshot_arrays, snapshot_from_arrays
from geo.snapshot_file import (
    Built,
    SnapshotFile,
    SnapshotFileInvalid,
    SnapshotVersion,
    kindred_versions,
    open_or_build,
    open_snapshot_file,
)
from geo.store import packed
from geo.store.camera_changes import latest_seq
from geo.store.cameras import registry_version
from geo.store.queries import query


def _copy_out(
    conn: Connection,
    statement: TextClause,
    params: dict[str, Any],
    types: dict[str, pa.DataType],
) -> pa.Table:
    """Run ``statement`` (a ``COPY (…) TO STDOUT (FORMAT csv, HEADER)``) with ``params``; parse
    the CSV with Arrow.

    COPY takes no server-side parameters: psycopg merges ``params`` into the statement on the
    client, quoting each value, as SQLAlchemy compiled it for psycopg (``:name`` become
    ``%(name)s``, a ``%`` is doubled); a statement without parameters goes as written.
    """
    raw = conn.connection.driver_connection
    assert raw is not None
    buf = io.BytesIO()
    copy_out = statement.compile(dialect=conn.dialect).string if params else statement.text
    with raw.cursor() as cur, cur.copy(sql.SQL(copy_out), params or None) as copy:
        for chunk in copy:
            buf.write(chunk)
    buf.seek(0)
    return pa_csv.read_csv(
        buf,
        convert_options=pa_csv.ConvertOptions(
            column_types=types,
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            # PostgreSQL's CSV writes booleans as t/f, which Arrow does not know by default
            true_values=["t"],
            false_values=["f"],
        ),
    )


_SEGMENT_TYPES = {
    "u": pa.int64(),
    "v": pa.int64(),
    "osm_way_id": pa.int64(),
    "oneway": pa.bool_(),
    "bridge": pa.bool_(),
    "tunnel": pa.bool_(),
    "wkb": pa.string(),
}


def load_road_networks(conn: Connection, *, crs: str) -> list[NetworkSnapshot]:
    """Every imported road network as a :class:`geo.network.RoadNetwork`, largest first; its
    segments numbered in spatial order (:func:`geo.network.spatial_order`)."""
    networks = conn.execute(query("snapshot/road_networks")).all()
    out = []
    for net in networks:
        table = _copy_out(
            conn, query("snapshot/road_segments"), {"network_id": int(net.id)}, _SEGMENT_TYPES
        )
        frame = table.drop(["wkb"]).to_pandas()
        frame["geometry"] = shapely.from_wkb(table["wkb"].to_numpy(zero_copy_only=False))
        for column in ("name", "highway", "ref"):
            frame[column] = frame[column].fillna("")
        frame = segments_in_space_order(frame)
        extent = shapely.from_wkb(bytes(net.extent))
        graph = build_road_network(frame, crs=crs, extent=extent, segments_crs=crs)
        out.append(NetworkSnapshot(id=int(net.id), name=str(net.name), extent=extent, roads=graph))
    return out


#: The fixed record of each road segment (snapshot/road_segment_blocks.sql).
_SEGMENT_RECORD = (
    ("id", "int8"), ("source", "int8"), ("target", "int8"), ("osm_way_id", "int8"),
    ("name_len", "int4"), ("highway_len", "int4"), ("ref_len", "int4"),
    ("oneway", "bool"), ("bridge", "bool"), ("tunnel", "bool"),
)  # fmt: skip
#: The fixed record of each camera (snapshot/camera_blocks.sql).
_CAMERA_RECORD = (
    ("id", "int8"), ("x", "float8"), ("y", "float8"), ("heading_deg", "float8"),
    ("fov_deg", "float8"), ("pan_min_deg", "float8"), ("pan_max_deg", "float8"),
    ("resolution_px_h", "float8"), ("owner_id", "int8"), ("kind_len", "int4"),
    ("heading_source_len", "int4"), ("status_len", "int4"), ("source_len", "int4"),
)  # fmt: skip
#: The snapshot's camera columns, in order.
CAMERA_COLUMNS = ("id", "x", "y", "kind", "heading_deg", "heading_source", "fov_deg",
                  "pan_min_deg", "pan_max_deg", "resolution_px_h", "status", "owner_id",
                  "owner_name", "source")  # fmt: skip


def load_cameras(conn: Connection) -> pd.DataFrame:
    """Every camera that is not retired: position (working CRS) and what coverage needs, in
    the order of a Hilbert curve through their positions (:func:`geo.network.hilbert_order`),
    so that the few hundred cameras one query looks at lie close together in memory; read as
    packed blocks (:mod:`geo.store.packed`).

    Never the source URL.
    """
    blocks = packed.read_blocks(conn, query("snapshot/camera_blocks"), {})
    rec = packed.records(blocks, _CAMERA_RECORD)
    # by id (as rows may come within a block), then along the Hilbert curve: one permutation
    by_id = np.argsort(rec["id"], kind="stable")
    order = by_id[hilbert_order(rec["x"][by_id], rec["y"][by_id])]
    owners = {int(r.id): str(r.name) for r in conn.execute(query("snapshot/organization_names"))}
    owner_ids = np.fromiter(owners, dtype=np.int64, count=len(owners))
    columns: dict[str, Any] = {}
    for name in CAMERA_COLUMNS:
        if name == "owner_name":  # the owners' names, as categories of the owner ids
            at = np.searchsorted(owner_ids, columns["owner_id"])
            codes, names = pd.factorize(pd.Index(list(owners.values()), dtype="str"))
            columns[name] = pd.Categorical.from_codes(codes[at], categories=names)
        elif name in rec:
            columns[name] = rec[name][order]
        else:  # a text of few values (kind, status, …): categories, reordered by their codes
            text = pd.Categorical(packed.texts(blocks, name, rec[f"{name}_len"]))
            columns[name] = pd.Categorical.from_codes(text.codes[order], categories=text.categories)
    return pd.DataFrame(columns)


def read_road_networks(conn: Connection, *, crs: str) -> list[NetworkSnapshot]:
    """:func:`load_road_networks` without a row or a geometry object per segment: the segments
    read as packed blocks (:mod:`geo.store.packed`), their vertices cut out of the WKB with
    numpy, ordered in space on their boxes and built into the graph from vertices
    (:func:`geo.network.road_network_from_vertices`). The same networks, row for row."""
    out = []
    for net in conn.execute(query("snapshot/road_networks")).all():
        params = {"network_id": int(net.id)}
        blocks = packed.read_blocks(conn, query("snapshot/road_segment_blocks"), params)
        nodes = packed.read_blocks(conn, query("snapshot/road_node_ids"), params)
        rec = packed.records(blocks, _SEGMENT_RECORD)
        wkb = b"".join(bytes(row.wkb) for row in blocks)
        coords, npoints = packed.linestring_vertices(wkb)
        if npoints.shape[0] != rec["id"].shape[0]:
            raise InvalidInput("the road segments' geometries and rows do not match")
        node = packed.records(nodes, (("id", "int8"), ("osm_id", "int8")))
        frame = pd.DataFrame({
            "id": rec["id"],
            "u": _osm_ids(node, rec["source"]),
            "v": _osm_ids(node, rec["target"]),
            "oneway": rec["oneway"],
            "name": packed.texts(blocks, "name", rec["name_len"]),
            "highway": packed.texts(blocks, "highway", rec["highway_len"]),
            "ref": packed.texts(blocks, "ref", rec["ref_len"]),
            "osm_way_id": rec["osm_way_id"],
            "bridge": rec["bridge"],
            "tunnel": rec["tunnel"],
        })  # fmt: skip
        # by id (the blocks come in any order), then along the Hilbert curve through the
        # centres of their boxes, as segments_in_space_order orders geometries
        by_id = np.argsort(frame["id"].to_numpy(), kind="stable")
        bounds = segment_bounds(coords, npoints)[by_id]
        order = by_id[
            hilbert_order((bounds[:, 0] + bounds[:, 2]) / 2, (bounds[:, 1] + bounds[:, 3]) / 2)
        ]
        starts = np.zeros(npoints.shape[0] + 1, dtype=np.int64)
        np.cumsum(npoints, out=starts[1:])
        counts = npoints[order]
        first = np.repeat(starts[:-1][order], counts)
        within = np.arange(first.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts)
        frame = frame.take(order).reset_index(drop=True)
        extent = shapely.from_wkb(bytes(net.extent))
        graph = road_network_from_vertices(
            frame, coords[first + within], counts, crs=crs, extent=extent
        )
        out.append(NetworkSnapshot(id=int(net.id), name=str(net.name), extent=extent, roads=graph))
    return out


def _osm_ids(node: dict[str, NDArray[np.int64]], ids: NDArray[np.int64]) -> NDArray[np.int64]:
    """The OSM ids of the road_node ``ids``, from the network's nodes (ascending ids)."""
    known = node["id"]
    at = np.minimum(np.searchsorted(known, ids), max(known.shape[0] - 1, 0))
    if known.shape[0] == 0 or np.any(known[at] != ids):
        raise InvalidInput("a road segment names a node its network does not hold")
    return node["osm_id"][at]


def load_snapshot(conn: Connection, *, crs: str, max_range_m: float) -> RegistrySnapshot:
    """Build the in-memory snapshot of roads and cameras from the database.

    When ``conn``'s transaction has written nothing, the cameras are read and indexed on a
    second connection in a thread while the roads are read and built on this one (PostgreSQL
    works on both at once); a transaction holding its own writes reads both itself, since
    another connection would not see them.
    """
    t0 = time.perf_counter()
    if not conn.execute(query("snapshot/reads_alone")).scalar_one():
        networks = read_road_networks(conn, crs=crs)
        return RegistrySnapshot.build(
            networks, load_cameras(conn), crs=crs, max_range_m=max_range_m, started=t0
        )

    def cameras_and_index() -> tuple[pd.DataFrame, CoverageIndex]:
        with conn.engine.connect() as other:
            cameras = load_cameras(other)
        return cameras, build_coverage_index(cameras, max_range_m=max_range_m, crs=crs)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="snapshot-cameras") as pool:
        pending = pool.submit(cameras_and_index)
        networks = read_road_networks(conn, crs=crs)
        cameras, index = pending.result()
    return RegistrySnapshot.assemble(networks, cameras, index, crs=crs, started=t0)


@dataclass(frozen=True)
class SharedSnapshot:
    """A process's registry snapshot mapped from the machine's snapshot folder.

    ``version`` is what it reflects (``version.registry`` is
    :func:`geo.store.cameras.registry_version` as read before the build, ``version.changes`` the
    change sequence the base includes); ``path`` the folder mapped; ``built`` whether this
    process built it (else it found it built); ``seconds`` from the call to a snapshot ready
    to answer.
    """

    snapshot: RegistrySnapshot
    version: SnapshotVersion
    path: Path
    built: bool
    seconds: float


def snapshot_version(
    conn: Connection, *, crs: str, max_range_m: float, changes: int = 0
) -> SnapshotVersion:
    """The version a snapshot of this database read now would reflect (see
    :class:`geo.snapshot_file.SnapshotVersion`); ``changes`` is the change sequence number the
    caller has applied up to (0 where changes are not sequenced)."""
    who = conn.execute(query("snapshot/database_identity")).one()
    return SnapshotVersion(
        database=f"postgresql://{who.host}:{who.port}/{who.name}#{who.oid}",
        registry=registry_version(conn),
        changes=changes,
        params={"crs": crs, "max_range_m": float(max_range_m)},
    )


def newest_version_on_disk(folder: Path, version: SnapshotVersion) -> SnapshotVersion | None:
    """Of the sound versions under ``folder`` of ``version``'s database, registry and build
    settings, the one with the greatest change sequence not past ``version.changes``; None
    when there is none."""
    found = [
        SnapshotVersion.from_json(manifest["version"])
        for _, manifest in kindred_versions(folder, version)
    ]
    fitting = [
        v for v in found if v.registry == tuple(version.registry) and v.changes <= version.changes
    ]
    return max(fitting, key=lambda v: v.changes, default=None)


def load_shared_snapshot(
    conn: Connection,
    *,
    folder: Path,
    crs: str,
    max_range_m: float,
    changes: int | None = None,
    wait: bool = True,
) -> SharedSnapshot | None:
    """The registry snapshot of the database's current version, mapped from ``folder``
    (:func:`geo.snapshot_file.open_or_build`): built from the tables first, by this process
    under the folder's lock, when no process on the machine has built it yet.

    A version is keyed by the import batches (the registry's version) and by the camera change
    sequence it includes (:attr:`SharedSnapshot.version`'s ``changes``: read before the
    tables, so the build holds every change up to it; the caller replays the changes after
    it). ``changes=None`` takes the version on disk with the most changes (built at the
    sequence now when there is none); a number asks for exactly that version (a worker whose
    live delta grew large asks for the sequence it has reached).

    The version is read before the tables (as :func:`load_snapshot` is used by the API): a
    change landing during a build is seen as a new version at the next check. With
    ``wait=False`` returns None at once when another process is building it.
    """
    t0 = time.perf_counter()
    if changes is None:
        now = snapshot_version(conn, crs=crs, max_range_m=max_range_m, changes=latest_seq(conn))
        version = newest_version_on_disk(folder, now) or now
    else:
        version = snapshot_version(conn, crs=crs, max_range_m=max_range_m, changes=changes)

    def build() -> Built:
        previous = _version_with_same_roads(conn, folder, version)
        if previous is None:
            return snapshot_arrays(load_snapshot(conn, crs=crs, max_range_m=max_range_m))
        # only cameras changed since that version: its road networks are carried over (their
        # files hard-linked), the cameras read and indexed anew
        networks = networks_from_arrays(previous.arrays, previous.meta)
        snapshot = RegistrySnapshot.build(
            networks, load_cameras(conn), crs=crs, max_range_m=max_range_m, started=t0
        )
        arrays, meta = snapshot_arrays(snapshot)
        return arrays, meta, previous

    mapped = open_or_build(folder, version, build, wait=wait)
    if mapped is None:
        return None
    snapshot = snapshot_from_arrays(mapped.arrays, mapped.meta, started=t0)
    snapshot.change_seq = version.changes
    return SharedSnapshot(snapshot, version, mapped.path, mapped.built, snapshot.seconds)


def _version_with_same_roads(
    conn: Connection, folder: Path, version: SnapshotVersion
) -> SnapshotFile | None:
    """The newest sound version on disk of this database, with the same build settings, whose
    road networks are the ones the database holds now (same ids, names and extents: a
    network's rows never change once imported; a new import is a new network), mapped; None
    when there is none."""
    want = [
        [int(r.id), str(r.name), shapely.to_wkb(shapely.from_wkb(bytes(r.extent)), hex=True)]
        for r in conn.execute(query("snapshot/road_networks")).all()
    ]
    for path, manifest in kindred_versions(folder, version):
        nets = manifest["meta"].get("networks", [])
        if [[n["id"], n["name"], n["net_extent"]] for n in nets] != want:
            continue
        with contextlib.suppress(SnapshotFileInvalid):
            return open_snapshot_file(path)
    return None


def watching_pairs_sql(
    conn: Connection, stretches: Sequence[shapely.Geometry] | np.ndarray, *, level: str = "observe"
) -> list[tuple[int, int]]:
    """(stretch position, camera id) pairs whose stored coverage intersects, by PostGIS.

    The GiST index on ``coverage.geom`` finds the candidates; ``ST_Intersects`` decides. Only
    levels stored in the ``coverage`` table can be asked (the import stores ``observe``).
    Retired cameras are left out, as in the in-memory index.
    """
    wkb = [shapely.to_wkb(g, hex=True) for g in stretches]
    rows = conn.execute(
        query("snapshot/watching_pairs"),
        {"wkb": wkb, "level": level},
    ).all()
    return [(int(pos), int(cam)) for pos, cam in rows]
