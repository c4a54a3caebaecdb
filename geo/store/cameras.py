"""Cameras and their coverage read back out for callers: by bounding box, by id, never the URL.

Positions and polygons leave as lon/lat (EPSG:4326, RFC 7946 GeoJSON, 7 decimals); the
``source_url`` column is never selected here — it goes to the relay through the provisioning
code and nowhere else. :func:`registry_version` is the cheap question a long-lived snapshot
asks to know whether the registry changed under it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.crs import projected_box
from geo.store.models import WORKING_SRID

#: What a caller may see of a camera (no source_url, no provenance).
_PUBLIC_COLUMNS = (
    "c.id, c.owner_id, o.name AS owner_name, c.kind, c.status, c.heading_deg,"
    " c.heading_source, c.fov_deg, c.pan_min_deg, c.pan_max_deg, c.resolution_px_h,"
    " c.megapixels, c.mount_height_m, c.purpose, c.address, c.direction_text, c.source"
)
# The box arrives projected (geo.crs.projected_box): its outline and the rectangle inside it.
# Each is a scalar subquery (an InitPlan): built once per statement, and the GiST index
# condition takes its value. A projection written inline in the statement (as it was) cannot be
# folded to a constant in a generic plan (psycopg prepares a statement after its fifth run on a
# connection), and was computed again for every row the index returned: a 0.5° box over Seoul
# went from 35 ms to 6-7 s (issue 12). What lies in the inner rectangle needs no exact test.
_OUTLINE = f"(SELECT ST_GeomFromWKB(:outline, {WORKING_SRID}))"
_INNER = f"(SELECT ST_MakeEnvelope(:ix0, :iy0, :ix1, :iy1, {WORKING_SRID}))"


def _in_box(column: str) -> str:
    return (
        f"{column} && {_OUTLINE} AND ({column} @ {_INNER} OR ST_Intersects({column}, {_OUTLINE}))"
    )


# Each statement first pages the ids (index, filter, top-N by id) and only then joins and
# encodes the page: a join planned over every row in the box cost more than the search.
CAMERAS_IN_BBOX = text(
    "WITH page AS MATERIALIZED ("
    " SELECT c.id FROM camera c"
    f" WHERE {_in_box('c.position')} AND c.status <> 'retired'"
    " AND c.id > :after ORDER BY c.id LIMIT :limit)"
    f" SELECT {_PUBLIC_COLUMNS}, ST_AsGeoJSON(ST_Transform(c.position, 4326), 7) AS geometry"
    " FROM page JOIN camera c ON c.id = page.id JOIN organization o ON o.id = c.owner_id"
    " ORDER BY c.id"
)
COVERAGE_IN_BBOX = text(
    "WITH page AS MATERIALIZED ("
    " SELECT v.id FROM coverage v JOIN camera c ON c.id = v.camera_id"
    f" WHERE {_in_box('v.geom')} AND v.level = :level"
    " AND c.status <> 'retired' AND v.id > :after ORDER BY v.id LIMIT :limit)"
    " SELECT v.id, v.camera_id, v.level, v.range_m, v.confidence, c.kind, c.status,"
    " c.owner_id, ST_AsGeoJSON(ST_Transform(v.geom, 4326), 7) AS geometry"
    " FROM page JOIN coverage v ON v.id = page.id JOIN camera c ON c.id = v.camera_id"
    " ORDER BY v.id"
)


def _box_params(bbox: tuple[float, float, float, float]) -> dict[str, Any]:
    outline, inner = projected_box(bbox, crs=f"EPSG:{WORKING_SRID}")
    ix0, iy0, ix1, iy1 = inner or (None, None, None, None)
    return {"outline": shapely.to_wkb(outline), "ix0": ix0, "iy0": iy0, "ix1": ix1, "iy1": iy1}


def registry_version(conn: Connection) -> tuple[int, int, int]:
    """(last import batch, last camera, last road network) ids: three index lookups.

    Every import opens a batch and every camera or road network added gets a higher id, so the
    triple changes whenever an import or an added camera changes what a snapshot would hold.
    """
    row = conn.execute(
        text(
            "SELECT (SELECT coalesce(max(id), 0) FROM import_batch),"
            " (SELECT coalesce(max(id), 0) FROM camera),"
            " (SELECT coalesce(max(id), 0) FROM road_network)"
        )
    ).one()
    return (int(row[0]), int(row[1]), int(row[2]))


def _feature(geometry: str, props: dict[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "id": props["id"], "geometry": orjson.loads(geometry),
            "properties": props}  # fmt: skip


def cameras_in_bbox(
    conn: Connection,
    bbox: tuple[float, float, float, float],
    *,
    limit: int = 100,
    after_id: int | None = None,
) -> list[dict[str, Any]]:
    """GeoJSON Features of the non-retired cameras inside ``bbox`` (lon/lat), in id order.

    ``after_id`` pages (keyset): the features with a greater id. The GiST index on
    ``camera.position`` finds them.
    """
    rows = conn.execute(
        CAMERAS_IN_BBOX, {**_box_params(bbox), "after": after_id or 0, "limit": limit}
    )
    out = []
    for row in rows:
        props = dict(row._mapping)
        geometry = props.pop("geometry")
        out.append(_feature(geometry, props))
    return out


def coverage_in_bbox(
    conn: Connection,
    bbox: tuple[float, float, float, float],
    *,
    level: str = "observe",
    limit: int = 100,
    after_id: int | None = None,
) -> list[dict[str, Any]]:
    """GeoJSON Features of stored coverage polygons at ``level`` meeting ``bbox``, by id.

    Feature ids are the coverage rows' ids (the paging key); each names its camera.
    """
    rows = conn.execute(
        COVERAGE_IN_BBOX,
        {**_box_params(bbox), "level": level, "after": after_id or 0, "limit": limit},
    )
    out = []
    for row in rows:
        props = dict(row._mapping)
        geometry = props.pop("geometry")
        out.append(_feature(geometry, props))
    return out


@dataclass(frozen=True)
class CameraRef:
    """What routing a feed request needs of a camera: its owner and whether it may stream."""

    id: int
    owner_id: int
    owner_name: str
    status: str
    lon: float
    lat: float


def cameras_by_id(conn: Connection, ids: list[int]) -> dict[int, CameraRef]:
    """The cameras among ``ids`` that exist (retired ones included), keyed by id."""
    if not ids:
        return {}
    rows = conn.execute(
        text(
            "SELECT c.id, c.owner_id, o.name AS owner_name, c.status,"
            " ST_X(ST_Transform(c.position, 4326)) AS lon,"
            " ST_Y(ST_Transform(c.position, 4326)) AS lat"
            " FROM camera c JOIN organization o ON o.id = c.owner_id"
            " WHERE c.id = ANY(CAST(:ids AS bigint[]))"
        ),
        {"ids": ids},
    )
    return {int(r.id): CameraRef(**r._mapping) for r in rows}


def cameras_near(
    conn: Connection, ids: list[int], lon: float, lat: float, radius_m: float
) -> set[int]:
    """The cameras among ``ids`` within ``radius_m`` metres of (lon, lat)."""
    if not ids:
        return set()
    rows = conn.execute(
        text(
            "SELECT id FROM camera WHERE id = ANY(CAST(:ids AS bigint[])) AND ST_DWithin(position,"
            f" ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), {WORKING_SRID}), :r)"
        ),
        {"ids": ids, "lon": lon, "lat": lat, "r": radius_m},
    )
    return {int(r[0]) for r in rows}
