"""A drill as the tables and geometries its files hold: scenarios, approaches (each with its
시군구 / 읍면동), a camera table (one row per approach and camera, not a ``"20063;20071"``
string), and — drawn again from the road network — each scenario's cordon and watch stretches.

The stored record of a scenario keeps its approaches' entry points, not the cordon's lines
(they would multiply a drill's size): :func:`drill_geometries` answers each scenario's cordon
again on the road network with the drill's options and keeps the geometry only where the
approaches found again are the stored ones (same count, entry points within
:data:`SAME_POINT_M`). A scenario whose roads changed since is listed, not drawn wrongly.

Pure: pandas, geopandas, shapely.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.admin_locate import ADMIN_COLUMNS, locate_lonlat
from geo.answer import approach_label, cordon_geometry
from geo.approaches import find_approaches
from geo.crs import LONLAT_CRS, lonlat_to_xy
from geo.drills import DrillOptions
from geo.errors import GilmokError
from geo.registry import NetworkSnapshot

#: A stored and a recomputed entry point closer than this are the same approach, metres.
SAME_POINT_M = 1.0

APPROACH_COLUMNS = ["scenario", "approach", "direction", "road_name", "ref", "highway", "main",
                    "bearing_deg", "blind", "lon", "lat", *ADMIN_COLUMNS, "n_cameras",
                    "best_camera", "best_level"]  # fmt: skip
CAMERA_COLUMNS = ["scenario", "approach", "rank", "camera_id", "dori_level", "px_per_m",
                  "facing", "distance_m", "online", "confidence"]  # fmt: skip


@dataclass
class DrillTables:
    """A drill for its files. ``scenarios``: ``name``, ``lon``, ``lat``, status and counts;
    ``approaches``: :data:`APPROACH_COLUMNS`; ``cameras``: :data:`CAMERA_COLUMNS`;
    ``cordons`` and ``stretches`` (GeoDataFrames, lon/lat) when drawn (:func:`drill_geometries`),
    ``not_drawn`` the scenarios whose roads no longer give the stored approaches."""

    scenarios: pd.DataFrame
    approaches: pd.DataFrame
    cameras: pd.DataFrame
    cordons: gpd.GeoDataFrame | None = None
    stretches: gpd.GeoDataFrame | None = None
    not_drawn: list[str] = field(default_factory=list)


def drill_tables(
    scenarios: pd.DataFrame, results: Sequence[list[dict[str, Any]] | None]
) -> DrillTables:
    """The tables of a drill from its scenarios (``name``, ``lon``, ``lat``, …) and each
    scenario's stored rows (:func:`geo.drill_records.record_rows`; None when not computed)."""
    approaches: list[dict[str, Any]] = []
    cameras: list[dict[str, Any]] = []
    for name, rows in zip(scenarios["name"].tolist(), results, strict=True):
        for a in rows or []:
            cams = a["cameras"]
            approaches.append(
                {
                    "scenario": name, "approach": a["id"], "direction": a["direction"],
                    "road_name": a["road_name"], "ref": a["ref"], "highway": a["highway"],
                    "main": bool(a["main"]), "bearing_deg": a["bearing_deg"],
                    "blind": bool(a["blind"]), "lon": a["lon"], "lat": a["lat"],
                    "n_cameras": len(cams),
                    "best_camera": cams[0]["camera_id"] if cams else None,
                    "best_level": cams[0]["dori_level"] if cams else "",
                }
            )  # fmt: skip
            cameras += [{"scenario": name, "approach": a["id"], **c} for c in cams]
    table = pd.DataFrame(approaches, columns=[c for c in APPROACH_COLUMNS
                                              if c not in ADMIN_COLUMNS])  # fmt: skip
    table["best_camera"] = table["best_camera"].astype("Int64")
    located = locate_lonlat(table["lon"].to_numpy(float), table["lat"].to_numpy(float))
    for name in ADMIN_COLUMNS:
        table[name] = getattr(located, name)
    camera_table = pd.DataFrame(cameras, columns=CAMERA_COLUMNS)
    camera_table["camera_id"] = camera_table["camera_id"].astype("int64")
    camera_table["rank"] = camera_table["rank"].astype("int64")
    for column in ("facing", "online"):
        camera_table[column] = camera_table[column].astype(bool)
    return DrillTables(scenarios, table[APPROACH_COLUMNS], camera_table)


def _network_for(networks: Sequence[NetworkSnapshot], point: shapely.Point) -> Any:
    for net in networks:
        if shapely.covers(net.extent, point):
            return net.roads
    return None


def drill_geometries(
    tables: DrillTables, networks: Sequence[NetworkSnapshot], options: DrillOptions, *, crs: str
) -> DrillTables:
    """``tables`` with each done scenario's cordon (network lines or circle) and its approaches'
    watch stretches, drawn again on ``networks`` (working CRS ``crs``) and kept where they give
    the stored approaches (module doc); in lon/lat."""
    groups = tables.approaches.groupby("scenario", sort=False)
    stored = {name: group for name, group in groups}  # noqa: C416 (a GroupBy has .keys)
    cordon_rows: list[dict[str, Any]] = []
    cordon_geoms: list[shapely.Geometry] = []
    stretch_rows: list[dict[str, Any]] = []
    stretch_geoms: list[shapely.Geometry] = []
    not_drawn: list[str] = []
    done = tables.scenarios[tables.scenarios["status"] == "done"]
    x, y = lonlat_to_xy(done["lon"].to_numpy(float), done["lat"].to_numpy(float), crs=crs)
    for name, lon, lat, px, py in zip(done["name"], done["lon"], done["lat"], x, y, strict=True):
        network = _network_for(networks, shapely.Point(px, py))
        if network is None:
            not_drawn.append(str(name))
            continue
        try:
            cordon = find_approaches(network, (float(lon), float(lat)), options.cordon)
        except GilmokError:
            not_drawn.append(str(name))
            continue
        mine = stored.get(name)
        a = cordon.approaches
        want_x, want_y = (
            lonlat_to_xy(mine["lon"].to_numpy(float), mine["lat"].to_numpy(float), crs=crs)
            if mine is not None
            else (np.empty(0), np.empty(0))
        )
        if len(a) != len(want_x) or (
            len(a) and np.max(np.hypot(a.x - want_x, a.y - want_y)) > SAME_POINT_M
        ):
            not_drawn.append(str(name))
            continue
        cordon_rows.append({"scenario": name, "mode": cordon.mode, "radius_m": cordon.radius_m,
                            "incomplete": bool(cordon.incomplete)})  # fmt: skip
        cordon_geoms.append(cordon_geometry(network, cordon))
        for j, stretch in enumerate(a.stretch):
            stretch_rows.append({"scenario": name, "approach": approach_label(j)})
            stretch_geoms.append(stretch)

    def frame(rows: list[dict[str, Any]], geoms: list[shapely.Geometry]) -> gpd.GeoDataFrame:
        return gpd.GeoDataFrame(
            pd.DataFrame(rows), geometry=np.asarray(geoms, dtype=object), crs=crs
        ).to_crs(LONLAT_CRS)

    tables.cordons = frame(cordon_rows, cordon_geoms)
    tables.stretches = frame(stretch_rows, stretch_geoms)
    tables.not_drawn = not_drawn
    return tables
