"""Heading inference applied to the registry: fixed cameras of unknown heading, nearest road.

The inference itself is pure (:func:`geo.headings.infer_headings`); this module reads the
cameras and roads, writes what was inferred — a heading marked ``inferred`` with its
uncertainty where the road is one-way, only the road axis in the camera's provenance where
both senses remain possible — and redraws the coverage of every camera whose heading changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from sqlalchemy.engine import Connection

from geo.coverage import DEFAULT_MAX_RANGE_M
from geo.crs import north_azimuth_deg, xy_to_lonlat
from geo.headings import INFERRED_UNCERTAINTY_DEG, infer_headings
from geo.store.imports import refresh_coverage
from geo.store.queries import query
from geo.store.snapshot import load_road_networks


@dataclass(frozen=True)
class HeadingReport:
    """Fixed cameras of unknown heading looked at, and what became of them."""

    looked_at: int
    inferred: int  # one-way road: heading set, marked inferred
    both_senses: int  # two-way road: axis recorded, heading still unknown
    no_road: int  # outside every road network, or no road within range


def infer_registry_headings(
    conn: Connection, *, crs: str, max_range_m: float = DEFAULT_MAX_RANGE_M
) -> HeadingReport:
    """Infer headings for every fixed camera whose heading is unknown; idempotent."""
    cams = pd.DataFrame(
        conn.execute(query("headings/fixed_unknown")).all(),
        columns=["id", "x", "y"],
    )
    if cams.empty:
        return HeadingReport(0, 0, 0, 0)
    done = np.zeros(len(cams), dtype=bool)
    inferred_ids: list[int] = []
    updates: list[dict[str, object]] = []
    both = 0
    ids = cams["id"].to_numpy(dtype=np.int64)
    x, y = cams["x"].to_numpy(dtype=float), cams["y"].to_numpy(dtype=float)
    points = shapely.points(x, y)
    lon, lat = xy_to_lonlat(x, y, crs=crs)
    grid_north = north_azimuth_deg(lon, lat, crs=crs)
    for net in load_road_networks(conn, crs=crs):  # largest first
        inside = ~done & shapely.covers(net.extent, points)
        if not inside.any():
            continue
        rows = np.flatnonzero(inside)
        result = infer_headings(net.roads, x[rows], y[rows])
        for k, row in enumerate(rows):
            if result.senses[k] == 0:
                continue
            done[row] = True
            segment = int(result.segment[k])
            axis = float(np.mod(result.axis_deg[k] - grid_north[row], 360))
            note = {
                "road_network": net.name,
                "road": str(net.roads.seg_name[segment] or net.roads.seg_highway[segment]),
                "osm_way_id": int(net.roads.seg_way[segment]),
                "distance_m": round(float(result.distance_m[k]), 1),
                "axis_deg": round(axis, 1),
                "senses": int(result.senses[k]),
                "confidence": round(float(result.confidence[k]), 2),
            }
            heading = None
            if result.senses[k] == 1:
                heading = round(float(np.mod(result.heading_deg[k] - grid_north[row], 360)), 1)
                inferred_ids.append(int(ids[row]))
            else:
                both += 1
            updates.append({"id": int(ids[row]), "heading": heading, "note": json.dumps(note)})
    if updates:
        conn.execute(
            query("headings/set_inferred"),
            [{**update, "uncertainty": INFERRED_UNCERTAINTY_DEG} for update in updates],
        )
    if inferred_ids:
        refresh_coverage(conn, inferred_ids, max_range_m=max_range_m)
    return HeadingReport(
        looked_at=len(cams),
        inferred=len(inferred_ids),
        both_senses=both,
        no_road=int((~done).sum()),
    )
