"""Import batches: the readers' cameras and road networks written in, one transaction a file.

Cameras and their coverage go straight into their tables by binary ``COPY`` (see
:mod:`geo.store._copy`), after the keys already present are set aside; road networks go by
``COPY`` into temporary staging tables, then one set-based ``INSERT … SELECT``. Importing the
same file twice creates nothing new, and a failure anywhere rolls the whole file back.
Positions arrive as lon/lat (EPSG:4326) and are stored in the working CRS.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import shapely
from numpy.typing import NDArray
from sqlalchemy import func, literal, select, text
from sqlalchemy import table as table_clause
from sqlalchemy.engine import Connection

from geo.admin_locate import locate_admin_units
from geo.coverage import DEFAULT_MAX_RANGE_M
from geo.crs import lonlat_to_xy
from geo.domain import DEFAULT_DORI_LEVEL
from geo.index import camera_coverage
from geo.ingest._csvfile import gc_paused
from geo.ingest.cameras import CameraRead
from geo.ingest.manifest import file_sha256
from geo.ingest.osm import RoadNetworkRead
from geo.ingest.report import ReadReport
from geo.store._copy import (
    Column,
    bytes_column,
    constant_column,
    copy_columns,
    copy_in_statement,
    float_column,
    int_column,
    points_ewkb,
    polygons_ewkb,
    text_column,
)
from geo.store.models import WORKING_SRID
from geo.store.queries import query

#: The CRS of the stored geometries (the schema's SRID).
WORKING_CRS = f"EPSG:{WORKING_SRID}"
#: The version byte before the JSON text of a binary jsonb value.
JSONB_VERSION = b"\x01"


@dataclass
class ImportSummary:
    """What one import did; rows add up: read = imported + merged + rejected + already present.

    Rows are input rows (a CCTV-standard row is a site of one or more cameras; a road file's
    rows are its ways or GraphML edges).
    """

    kind: str
    file_name: str
    batch_id: int
    rows_read: int
    rows_imported: int
    rows_merged: int
    rows_rejected: int
    rows_already_present: int
    created: dict[str, int] = field(default_factory=dict)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def adds_up(self) -> bool:
        return self.rows_read == (
            self.rows_imported + self.rows_merged + self.rows_rejected + self.rows_already_present
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _copy_frame(conn: Connection, table: str, frame: pd.DataFrame | pa.Table) -> None:
    """COPY a DataFrame into ``table`` (columns named like the frame's); NA becomes NULL.

    Arrow's C++ CSV writer renders the rows (1.6 million in about 0.6 s here, 40 times faster
    than a Python loop over rows). In PostgreSQL's CSV format an unquoted empty field is NULL
    and a quoted one an empty string, which is exactly how Arrow writes null and "".
    """
    buf = io.BytesIO()
    arrow = (
        frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
    )
    pa_csv.write_csv(arrow, buf, pa_csv.WriteOptions(include_header=False, quoting_style="needed"))
    raw = conn.connection.driver_connection
    assert raw is not None
    statement = copy_in_statement(table, arrow.column_names, fmt="csv")
    with raw.cursor() as cur, cur.copy(statement) as copy:
        copy.write(buf.getbuffer())


#: A load at least this large, and larger than what the table holds, rebuilds the table's
#: secondary indexes and foreign keys once instead of updating them row by row.
BULK_MIN_ROWS = 100_000


@contextlib.contextmanager
def _bulk_mode(conn: Connection, table: str, incoming: int) -> Iterator[bool]:
    """Drop ``table``'s secondary indexes, unique and foreign keys for a large load; rebuild after.

    Yields whether bulk mode is on. Everything happens inside the caller's transaction, so a
    failure restores the indexes with the data; the table is locked for the load's duration
    (a first national load, not the everyday update). The primary key and CHECK constraints
    stay.
    """
    sample = select(literal(1)).select_from(table_clause(table)).limit(incoming)
    present = conn.execute(select(func.count()).select_from(sample.subquery())).scalar_one()
    if incoming < BULK_MIN_ROWS or present >= incoming:
        yield False
        return
    # The catalog writes the drop and re-create statements itself (names quoted by format's
    # %I and regclass), so none is assembled here.
    constraints = conn.execute(query("imports/bulk_constraints"), {"t": table}).all()
    indexes = conn.execute(query("imports/bulk_indexes"), {"t": table}).all()
    for drop, _ in [*constraints, *indexes]:
        conn.execute(text(drop))
    yield True
    conn.execute(query("imports/bulk_work_mem"))
    for _, definition in indexes:
        conn.execute(text(definition))
    for _, definition in reversed(constraints):  # unique keys before the foreign keys
        conn.execute(text(definition))


def _open_batch(conn: Connection, *, kind: str, path: Path, sha256: str) -> int:
    """Create the import batch row first, so loaded rows can point at it as they go in."""
    return int(
        conn.execute(
            query("imports/open_batch"),
            {"kind": kind, "file_name": path.name, "sha": sha256},
        ).scalar_one()
    )


def _close_batch(
    conn: Connection,
    batch_id: int,
    *,
    kind: str,
    path: Path,
    report: ReadReport,
    imported: int,
    already_present: int,
    created: dict[str, int],
    t0: float,
) -> ImportSummary:
    """Write the batch's final counts and report; the counts must add up (a CHECK enforces it)."""
    rejected = [
        {"line": r.line, "field": r.field, "reason": r.reason, "value": r.value}
        for r in report.rejected
    ]
    summary = ImportSummary(
        kind=kind,
        file_name=path.name,
        batch_id=batch_id,
        rows_read=report.rows_read,
        rows_imported=imported,
        rows_merged=report.rows_merged,
        rows_rejected=len(report.rejected),
        rows_already_present=already_present,
        created=created,
        rejected=rejected,
        warnings=list(report.warnings),
    )
    body = {
        "created": created,
        "rejected": rejected,
        "merged": [list(pair) for pair in report.merged],
        "warnings": summary.warnings,
        "extra": report.extra,
    }
    conn.execute(
        query("imports/close_batch"),
        {
            "id": batch_id,
            "read": summary.rows_read,
            "imported": imported,
            "merged": summary.rows_merged,
            "rejected": summary.rows_rejected,
            "present": already_present,
            "report": json.dumps(body, ensure_ascii=False, default=str),
        },
    )
    summary.seconds = time.perf_counter() - t0
    return summary


def _owner_ids(conn: Connection, names: pd.Series) -> tuple[NDArray[np.float64], int]:
    """Per camera, the organization id of its owner name (NaN where it has none), creating
    municipal centres for new names; and how many organizations were created."""
    codes, uniques = pd.factorize(names.to_numpy(dtype=object), use_na_sentinel=True)
    cleaned = [str(name).strip() for name in uniques]
    wanted = sorted({name for name in cleaned if name})
    created = conn.execute(query("imports/create_owners"), {"names": wanted}).all()
    rows = conn.execute(query("imports/owner_ids"), {"names": wanted}).all()
    ids = {str(name): float(oid) for name, oid in rows}
    # one id per distinct name, and NaN last for the missing names (code -1)
    per_name = np.array([ids.get(name, np.nan) for name in cleaned] + [np.nan])
    return per_name[codes], len(created)


def _provenance(cams: pd.DataFrame, file_name: str) -> Column:
    """jsonb provenance per camera (file, line, the install text and the site's attributes),
    rendered once per site: a site's cameras share it."""
    codes, _ = pd.factorize(cams["site_key"].to_numpy(dtype=object))
    first = np.unique(codes, return_index=True)[1]
    documents = [
        orjson.dumps(
            {"file": file_name, "line": int(line), "installed": installed, **(attrs or {})},
            default=str,
        )
        for line, installed, attrs in zip(
            cams["line"].to_numpy()[first].tolist(),
            cams["installed"].to_numpy(dtype=object)[first],
            cams["attributes"].to_numpy(dtype=object)[first],
            strict=True,
        )
    ]
    return bytes_column(documents, prefix=JSONB_VERSION).take(codes)


#: Camera columns that decide a coverage polygon: cameras alike in all of them share one.
COVERAGE_PARAMETERS = (
    "lon", "lat", "kind", "heading_deg", "heading_source", "fov_deg", "pan_min_deg",
    "pan_max_deg", "resolution_px_h",
)  # fmt: skip


def coverage_keys(cams: pd.DataFrame) -> NDArray[np.int64]:
    """Per camera, the number of its distinct coverage parameter set (0, 1, … in order seen).

    The cameras of one site (카메라대수 > 1) usually share position, kind and lens: the national
    file's 1.6 million cameras have about 1.0 million distinct coverages.
    """
    grouped = cams.groupby(list(COVERAGE_PARAMETERS), dropna=False, sort=False)
    return np.asarray(grouped.ngroup().to_numpy(), dtype=np.int64)


@dataclass(frozen=True)
class ObserveCoverage:
    """Coverage at the default DORI level of distinct parameter sets, and each camera's set.

    ``keys`` has one entry per camera (see :func:`coverage_keys`); the other arrays one per
    distinct set: radius (metres), confidence, polygon (working CRS) and the polygon's EWKB.
    """

    keys: NDArray[np.int64]
    range_m: NDArray[np.float64]
    confidence: NDArray[np.object_]
    polygons: NDArray[np.object_]
    ewkb: Column

    def columns(self, camera_ids: NDArray[np.int64]) -> dict[str, Column]:
        """The ``coverage`` rows of the cameras (``camera_ids`` in the order of ``keys``)."""
        return {
            "camera_id": int_column(camera_ids, bits=64),
            "level": constant_column(DEFAULT_DORI_LEVEL.encode(), len(self.keys)),
            "range_m": float_column(self.range_m[self.keys]),
            "confidence": text_column(self.confidence).take(self.keys),
            "geom": self.ewkb.take(self.keys),
        }


def observe_coverage(cams: pd.DataFrame, *, max_range_m: float) -> ObserveCoverage:
    """Coverage at the default DORI level, computed once per distinct parameter set."""
    keys = coverage_keys(cams)
    first = np.unique(keys, return_index=True)[1]
    distinct = cams.iloc[first]
    cov = camera_coverage(
        distinct["lon"].to_numpy(),
        distinct["lat"].to_numpy(),
        kind=distinct["kind"].to_numpy(dtype=object),
        heading_deg=distinct["heading_deg"].to_numpy(dtype=float),
        fov_deg=distinct["fov_deg"].to_numpy(dtype=float),
        resolution_px_h=distinct["resolution_px_h"].astype("float64").to_numpy(na_value=np.nan),
        pan_min_deg=distinct["pan_min_deg"].to_numpy(dtype=float),
        pan_max_deg=distinct["pan_max_deg"].to_numpy(dtype=float),
        heading_source=distinct["heading_source"].to_numpy(dtype=object),
        level=DEFAULT_DORI_LEVEL,
        max_range_m=max_range_m,
        crs=WORKING_CRS,
    )
    return ObserveCoverage(
        keys=keys,
        range_m=np.asarray(cov.range_m, dtype=np.float64),
        confidence=np.asarray(cov.confidence, dtype=object),
        polygons=cov.polygons,
        ewkb=polygons_ewkb(cov.polygons, srid=WORKING_SRID),
    )


def refresh_coverage(
    conn: Connection, camera_ids: list[int], *, max_range_m: float = DEFAULT_MAX_RANGE_M
) -> int:
    """Redraw the stored (observe-level) coverage of these cameras from their columns now."""
    cams = pd.DataFrame(
        conn.execute(query("imports/coverage_parameters"), {"ids": camera_ids}).all(),
        columns=["id", "lon", "lat", "kind", "heading_deg", "heading_source", "fov_deg",
                 "pan_min_deg", "pan_max_deg", "resolution_px_h"],
    )  # fmt: skip
    if cams.empty:
        return 0
    for column in ("heading_deg", "fov_deg", "pan_min_deg", "pan_max_deg"):
        cams[column] = pd.to_numeric(cams[column]).astype("float64")
    cams["resolution_px_h"] = cams["resolution_px_h"].astype("Int64")
    coverage = observe_coverage(cams, max_range_m=max_range_m)
    conn.execute(
        query("imports/delete_coverage"),
        {"ids": camera_ids, "level": DEFAULT_DORI_LEVEL},
    )
    return copy_columns(conn, "coverage", coverage.columns(cams["id"].to_numpy(dtype=np.int64)))


def _present_cameras(conn: Connection, source: str, keys: pd.Series) -> NDArray[np.bool_]:
    """Which of these ``source_key`` values of ``source`` the camera table already holds."""
    present = np.zeros(len(keys), dtype=bool)
    if not conn.execute(query("imports/source_present"), {"source": source}).scalar_one():
        return present
    conn.execute(query("imports/create_camera_key_stage"))
    copy_columns(
        conn,
        "camera_key_stage",
        {"n": int_column(np.arange(len(keys)), bits=64), "source_key": text_column(keys)},
    )
    conn.execute(query("imports/analyze_camera_key_stage"))
    found = conn.execute(query("imports/present_keys"), {"source": source}).scalars()
    present[np.fromiter(found, dtype=np.int64)] = True
    conn.execute(query("imports/drop_camera_key_stage"))
    return present


def _reserve_ids(conn: Connection, table: str, n: int) -> NDArray[np.int64]:
    """``n`` consecutive ids from ``table``'s id sequence.

    The caller holds a lock that keeps every other writer of ``table`` (and so every other
    user of its sequence) out; ids handed out are never given back, as with ``nextval``.
    """
    last = conn.execute(query("imports/reserve_ids"), {"t": table, "n": n}).scalar_one()
    return np.arange(int(last) - n + 1, int(last) + 1, dtype=np.int64)


#: Cameras per block of the camera COPY: the server reads one block while the next is built.
CAMERAS_PER_BLOCK = 100_000


def _camera_blocks(
    cams: pd.DataFrame,
    *,
    ids: NDArray[np.int64],
    owner_ids: NDArray[np.float64],
    source: str,
    batch_id: int,
    file_name: str,
) -> Iterator[dict[str, Column]]:
    """The ``camera`` rows of the reader's cameras, block by block; positions projected to
    the working CRS, each with the 시군구 and 읍면동 it lies in (:mod:`geo.admin_locate`)."""
    for begin in range(0, len(cams), CAMERAS_PER_BLOCK):
        rows = slice(begin, begin + CAMERAS_PER_BLOCK)
        block = cams.iloc[rows]
        n = len(block)
        x, y = lonlat_to_xy(block["lon"].to_numpy(), block["lat"].to_numpy(), crs=WORKING_CRS)
        areas = locate_admin_units(x, y, crs=WORKING_CRS)
        yield {
            "id": int_column(ids[rows], bits=64),
            "source": constant_column(source.encode(), n),
            "source_key": text_column(block["source_key"]),
            "site_key": text_column(block["site_key"]),
            "owner_id": int_column(owner_ids[rows], bits=32),
            "position": points_ewkb(x, y, srid=WORKING_SRID),
            "kind": text_column(block["kind"]),
            "heading_deg": float_column(block["heading_deg"]),
            "heading_source": text_column(block["heading_source"]),
            "heading_uncertainty_deg": float_column(block["heading_uncertainty_deg"]),
            "heading_hint": text_column(block["heading_hint"], null_as=""),
            "fov_deg": float_column(block["fov_deg"]),
            "pan_min_deg": float_column(block["pan_min_deg"]),
            "pan_max_deg": float_column(block["pan_max_deg"]),
            "resolution_px_h": int_column(
                block["resolution_px_h"].to_numpy(dtype="float64", na_value=np.nan), bits=32
            ),
            "megapixels": float_column(block["megapixels"]),
            "mount_height_m": float_column(block["mount_height_m"]),
            "purpose": text_column(block["purpose"], null_as=""),
            "address": text_column(block["address"], null_as=""),
            "direction_text": text_column(block["direction_text"], null_as=""),
            "provenance": _provenance(block, file_name),
            "import_batch_id": int_column(np.full(n, batch_id), bits=32),
            **{name: text_column(values) for name, values in areas.columns().items()},
        }


def import_cameras(
    conn: Connection,
    read: CameraRead,
    *,
    path: str | Path,
    max_range_m: float = DEFAULT_MAX_RANGE_M,
) -> ImportSummary:
    """Load a camera reader's output and the new cameras' coverage, in the caller's transaction.

    New owner names become municipal-centre organizations. Cameras already present (same
    ``source`` and ``source_key``) are left as they are and counted as already present; only
    the cameras this batch created get coverage (at the default DORI level, ``observe``).

    The new cameras go straight into ``camera`` by binary COPY, with ids reserved first, and
    their coverage straight into ``coverage``. The camera table is locked against other
    writers until the transaction ends (``SHARE ROW EXCLUSIVE``: reads go on), so the keys
    found absent stay absent and the reserved ids stay this import's.
    """
    with gc_paused():
        return _import_cameras(conn, read, path=Path(path), max_range_m=max_range_m)


def _import_cameras(
    conn: Connection, read: CameraRead, *, path: Path, max_range_m: float
) -> ImportSummary:
    t0 = time.perf_counter()
    batch_id = _open_batch(conn, kind=read.source, path=path, sha256=file_sha256(path))
    owner_ids, orgs_created = _owner_ids(conn, read.cameras["owner_name"])
    conn.execute(query("imports/lock_cameras"))
    present = _present_cameras(conn, read.source, read.cameras["source_key"])
    cams = read.cameras
    if present.any():
        cams, owner_ids = cams[~present], owner_ids[~present]
    created = len(cams)
    coverage_rows = 0
    if created:
        ids = _reserve_ids(conn, "camera", created)
        pool = ThreadPoolExecutor(max_workers=1)
        try:
            with _bulk_mode(conn, "camera", created):
                blocks = _camera_blocks(
                    cams,
                    ids=ids,
                    owner_ids=owner_ids,
                    source=read.source,
                    batch_id=batch_id,
                    file_name=path.name,
                )
                copy_columns(conn, "camera", blocks)
                # Coverage is numpy/shapely work on the parsed rows, computed in a thread while
                # the server rebuilds the camera indexes. (Started earlier, it would slow the
                # building of the camera rows: both hold the GIL for much of their time.)
                coverage = pool.submit(observe_coverage, cams, max_range_m=max_range_m)
            with _bulk_mode(conn, "coverage", created):
                coverage_rows = copy_columns(conn, "coverage", coverage.result().columns(ids))
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        # Fresh statistics for what follows in this transaction and after: planned on the
        # empty table's, a join of cameras and coverage took minutes instead of milliseconds.
        conn.execute(query("imports/analyze_cameras"))
    sites_in_file = int(read.cameras["site_key"].nunique())
    imported = int(cams["site_key"].nunique())
    return _close_batch(
        conn,
        batch_id,
        kind=read.source,
        path=path,
        report=read.report,
        imported=imported,
        already_present=sites_in_file - imported,
        created={
            "cameras": created,
            "coverage_polygons": coverage_rows,
            "organizations": orgs_created,
        },
        t0=t0,
    )


#: Margin around the nodes' lon/lat box in a road network's extent, degrees (about 1 m).
EXTENT_MARGIN_DEG = 1e-5


def import_road_network(
    conn: Connection, read: RoadNetworkRead, *, path: str | Path, name: str | None = None
) -> ImportSummary:
    """Load a road network under ``name`` (default: the file's stem).

    The same file again changes nothing; a different file under an existing name replaces that
    network as a whole (nodes and segments), inside the caller's transaction.
    """
    path = Path(path)
    name = name or path.name.split(".")[0]
    t0 = time.perf_counter()
    sha = file_sha256(path)
    segments, nodes = read.segments, read.nodes
    existing = conn.execute(query("imports/network_by_name"), {"name": name}).one_or_none()
    batch_id = _open_batch(conn, kind="roads", path=path, sha256=sha)
    if existing is not None and existing.file_sha256 == sha:
        return _close_batch(
            conn,
            batch_id,
            kind="roads",
            path=path,
            report=read.report,
            imported=0,
            already_present=read.report.rows_kept,
            created={"road_nodes": 0, "road_segments": 0},
            t0=t0,
        )
    if existing is not None:
        conn.execute(query("imports/delete_network"), {"id": existing.id})

    # The extent is the nodes' lon/lat box as the working CRS sees it: its parallels and
    # meridians are curves there, so the box is densified every 0.05° (a 4-corner polygon cut
    # off nodes on its southern edge by metres at national scale; 5 km chords stray under
    # 0.5 m) and widened by EXTENT_MARGIN_DEG, so that the nodes that define it lie inside it,
    # not on its boundary. Few vertices: every node's distance to the boundary is measured.
    min_lon, min_lat, max_lon, max_lat = read.bounds
    m = EXTENT_MARGIN_DEG
    network_id = conn.execute(
        query("imports/insert_network"),
        {"name": name, "fmt": read.source_format, "x0": min_lon - m, "y0": min_lat - m,
         "x1": max_lon + m, "y1": max_lat + m, "batch": batch_id},
    ).scalar_one()  # fmt: skip
    conn.execute(query("imports/create_road_node_stage"))
    conn.execute(query("imports/create_road_segment_stage"))
    _copy_frame(conn, "road_node_stage", nodes[["osm_id", "lon", "lat"]])
    seg_stage = pd.DataFrame(
        {
            "u": segments["u"],
            "v": segments["v"],
            "osm_way_id": segments["osm_way_id"].astype("Int64"),
            "highway": segments["highway"],
            "name": segments["name"],
            "ref": segments["ref"],
            "oneway": segments["oneway"],
            "bridge": segments["bridge"],
            "tunnel": segments["tunnel"],
            "length_m": segments["length_m"],
            "maxspeed_kmh": segments["maxspeed_kmh"],
            "lanes": segments["lanes"],
            "attributes": [json.dumps(a or {}, ensure_ascii=False) for a in segments["attributes"]],
            "wkb": shapely.to_wkb(segments["geometry"].to_numpy(), hex=True),
        }
    )
    _copy_frame(conn, "road_segment_stage", seg_stage)
    conn.execute(query("imports/analyze_road_stages"))
    # a national network (millions of rows) rebuilds its indexes and keys once, not per row
    with _bulk_mode(conn, "road_node", len(nodes)):
        n_nodes = conn.execute(query("imports/insert_nodes"), {"net": network_id}).rowcount
    with _bulk_mode(conn, "road_segment", len(segments)):
        n_segments = _insert_segments(conn, network_id)
    if n_segments != len(segments):
        raise ValueError(
            f"{path.name}: {len(segments) - n_segments} segments name nodes the reader did not list"
        )
    conn.execute(query("imports/drop_road_stages"))
    conn.execute(query("imports/analyze_roads"))
    return _close_batch(
        conn,
        batch_id,
        kind="roads",
        path=path,
        report=read.report,
        imported=read.report.rows_kept,
        already_present=0,
        created={"road_nodes": n_nodes, "road_segments": n_segments},
        t0=t0,
    )


def _insert_segments(conn: Connection, network_id: int) -> int:
    """Staged segments into ``road_segment``, their ends resolved to node rows; the count."""
    return int(conn.execute(query("imports/insert_segments"), {"net": network_id}).rowcount)
