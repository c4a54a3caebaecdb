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
from sqlalchemy.engine import Connection

from geo.crs import projected_box
from geo.store.models import WORKING_SRID
from geo.store.queries import query


def _box_params(bbox: tuple[float, float, float, float]) -> dict[str, Any]:
    """The box's parameters of ``cameras/in_bbox`` and ``cameras/coverage_in_bbox`` (their .sql
    files say why): its projected outline as WKB, and the rectangle inside it (or NULLs)."""
    outline, inner = projected_box(bbox, crs=f"EPSG:{WORKING_SRID}")
    ix0, iy0, ix1, iy1 = inner or (None, None, None, None)
    return {"outline": shapely.to_wkb(outline), "ix0": ix0, "iy0": iy0, "ix1": ix1, "iy1": iy1}


def registry_version(conn: Connection) -> tuple[int, int, int]:
    """(last import batch, last camera, last road network) ids: three index lookups.

    Every import opens a batch and every camera or road network added gets a higher id, so the
    triple changes whenever an import or an added camera changes what a snapshot would hold.
    """
    row = conn.execute(query("cameras/registry_version")).one()
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
        query("cameras/in_bbox"), {**_box_params(bbox), "after": after_id or 0, "limit": limit}
    )
    out = []
    for row in rows:
        props = dict(row._mapping)
        geometry = props.pop("geometry")
        out.append(_feature(geometry, props))
    return out


def count_cameras_in_bbox(conn: Connection, bbox: tuple[float, float, float, float]) -> int:
    """How many non-retired cameras lie inside ``bbox`` (lon/lat): every page's total."""
    return int(conn.execute(query("cameras/count_in_bbox"), _box_params(bbox)).scalar_one())


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
        query("cameras/coverage_in_bbox"),
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
        query("cameras/by_id"),
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
        query("cameras/near"),
        {"ids": ids, "lon": lon, "lat": lat, "r": radius_m},
    )
    return {int(r[0]) for r in rows}
