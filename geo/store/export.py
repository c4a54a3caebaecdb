"""The registry out of PostGIS into a GeoPackage, for planners who work with no database.

The layers are those described in :mod:`geo.gpkg`; geometries in the working CRS (EPSG:5179)
unless another is asked for. The camera source URL is never selected.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import TextClause
from sqlalchemy.engine import Connection

from geo.coverage import DEFAULT_MAX_RANGE_M
from geo.gpkg import coverage_at_every_level, typed_camera_table, write_registry_gpkg
from geo.store.models import WORKING_SRID
from geo.store.queries import query

_CRS = f"EPSG:{WORKING_SRID}"


def _frame(conn: Connection, statement: TextClause) -> gpd.GeoDataFrame:
    """Rows of ``statement`` whose column ``wkb`` holds the geometry as WKB."""
    rows = conn.execute(statement)
    frame = pd.DataFrame(rows.all(), columns=list(rows.keys()))
    geometry = shapely.from_wkb([bytes(b) for b in frame.pop("wkb")])
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=_CRS)


def camera_table(conn: Connection) -> gpd.GeoDataFrame:
    """Every camera with its owner, coverage parameters and provenance flags (``kind_assumed``);
    never the source URL."""
    return _frame(conn, query("export/cameras"))


def import_batches(conn: Connection) -> pd.DataFrame:
    """Every import run: file, counts (read = imported + merged + rejected + already present)
    and its report (rejected rows by line, merged duplicates, warnings)."""
    rows = conn.execute(query("export/import_batches"))
    table = pd.DataFrame(rows.all(), columns=list(rows.keys()))
    for column in ("started_at", "finished_at"):
        table[column] = table[column].astype(str)
    return table


def export_geopackage(
    conn: Connection,
    path: Path | str,
    *,
    crs: str | None = None,
    max_range_m: float = DEFAULT_MAX_RANGE_M,
) -> dict[str, int]:
    """Write the registry (roads, cameras, coverage at every DORI level, import reports) to a
    GeoPackage in ``crs`` (default: the working CRS), with its QGIS layer styles.

    Returns the number of rows written per layer.
    """
    cameras = typed_camera_table(camera_table(conn))
    layers: dict[str, pd.DataFrame] = {
        "road_network": _frame(conn, query("export/road_networks")),
        "road_segment": _frame(conn, query("export/road_segments")),
        "camera": cameras,
        "coverage": coverage_at_every_level(cameras, max_range_m=max_range_m, crs=_CRS),
    }
    table = import_batches(conn)
    table["report"] = [json.dumps(r, ensure_ascii=False, default=str) for r in table["report"]]
    layers["import_batch"] = table
    write_registry_gpkg(path, layers, crs=crs)
    return {name: len(frame) for name, frame in layers.items()}
