"""Coverage at the DORI levels the store does not keep, drawn on demand for the OGC API.

The import stores each camera's coverage at *observe* only; ``coverage-detect``,
``coverage-recognise`` and ``coverage-identify`` are drawn here from the cameras' stored
parameters by :func:`geo.index.camera_coverage`, the function the import draws *observe* with.
A page takes the cameras not retired within the longest coverage radius of the bbox, in id
order after the cursor, draws their polygons and keeps those meeting the bbox, until the page is
full. These collections page forward only, and give no ``numberMatched`` (which would mean
drawing every polygon of the box; the standard makes it optional).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import shapely

from geo.crs import transform_geometry
from geo.index import camera_coverage
from geo.store import features
from geo.store.models import WORKING_SRID

#: Cameras drawn per round trip to the database.
CHUNK = 1000


def _nan(rows: list[dict[str, Any]], name: str) -> list[float]:
    return [np.nan if r[name] is None else float(r[name]) for r in rows]


def _draw(rows: list[dict[str, Any]], level: str, max_range_m: float) -> Any:
    return camera_coverage(
        [r["lon"] for r in rows], [r["lat"] for r in rows],
        kind=[r["kind"] for r in rows], heading_deg=_nan(rows, "heading_deg"),
        fov_deg=_nan(rows, "fov_deg"), resolution_px_h=_nan(rows, "resolution_px_h"),
        pan_min_deg=_nan(rows, "pan_min_deg"), pan_max_deg=_nan(rows, "pan_max_deg"),
        heading_source=[r["heading_source"] for r in rows], level=level,
        max_range_m=max_range_m, crs=f"EPSG:{WORKING_SRID}",
    )  # fmt: skip


def _features(
    rows: list[dict[str, Any]], drawn: Any, keep: list[int], level: str, out: features.Output
) -> list[str]:
    polygons = np.asarray(drawn.polygons, dtype=object)[keep]
    if out.srid != WORKING_SRID:
        polygons = transform_geometry(polygons, source=f"EPSG:{WORKING_SRID}",
                                      target=f"EPSG:{out.srid}")  # fmt: skip
    digits = out.digits

    def shape(coords: Any) -> Any:
        coords = np.round(coords, digits)
        return coords[:, ::-1] if out.flip else coords

    polygons = shapely.transform(polygons, shape)
    texts = []
    for i, polygon in zip(keep, polygons, strict=True):
        row = rows[i]
        properties = {
            "camera_id": row["id"], "level": level, "range_m": float(drawn.range_m[i]),
            "confidence": str(drawn.confidence[i]), "kind": row["kind"], "status": row["status"],
            "heading_deg": row["heading_deg"], "owner_id": row["owner_id"],
        }  # fmt: skip
        geometry = json.loads(shapely.to_geojson(polygon))
        feature = {"type": "Feature", "id": row["id"], "geometry": geometry,
                   "properties": properties}  # fmt: skip
        texts.append(json.dumps(feature, ensure_ascii=False, separators=(",", ":")))
    return texts


def coverage_page(
    conn: Any,
    level: str,
    *,
    box: features.Box | None,
    after: int | None,
    limit: int,
    out: features.Output,
    max_range_m: float,
) -> features.Page:
    """Up to ``limit`` coverage polygons at ``level`` meeting ``box``, after camera ``after``."""
    found: list[str] = []
    ids: list[int] = []
    cursor = after
    more = False
    while True:
        rows = features.camera_parameters(
            conn, box=box, reach_m=max_range_m, after=cursor, limit=CHUNK
        )
        if not rows:
            break
        drawn = _draw(rows, level, max_range_m)
        meets = (
            np.ones(len(rows), dtype=bool)
            if box is None
            else shapely.intersects(np.asarray(drawn.polygons, dtype=object), box.outline)
        )
        keep = [int(i) for i in np.flatnonzero(meets)]
        room = limit - len(ids)
        full = len(keep) >= room
        keep = keep[:room]
        found.extend(_features(rows, drawn, keep, level, out))
        ids.extend(int(rows[i]["id"]) for i in keep)
        if full:
            # more: a polygon further on in this chunk, or cameras past it (maybe none of
            # them meeting the box: the next page may then be empty)
            more = bool(meets[keep[-1] + 1 :].any()) or len(rows) == CHUNK
            break
        if len(rows) < CHUNK:
            break
        cursor = int(rows[-1]["id"])
    return features.Page(
        features=found, ids=ids, number_matched=None, more_after=more, more_before=False
    )


def coverage_feature(
    conn: Any, level: str, camera_id: int, *, out: features.Output, max_range_m: float
) -> str | None:
    """Camera ``camera_id``'s coverage at ``level`` as a GeoJSON Feature, or None."""
    rows = features.camera_parameters(conn, camera_id=camera_id, limit=1)
    if not rows:
        return None
    return _features(rows, _draw(rows, level, max_range_m), [0], level, out)[0]
