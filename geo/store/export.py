"""The registry out of PostGIS into a GeoPackage, for planners who work with no database.

The layers are those described in :mod:`geo.gpkg`; geometries stay in the working CRS
(EPSG:5179). The camera source URL is never selected.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.gpkg import write_registry_gpkg
from geo.store.models import WORKING_SRID

_CRS = f"EPSG:{WORKING_SRID}"


def _frame(conn: Connection, query: str) -> gpd.GeoDataFrame:
    """Rows of ``query`` whose column ``wkb`` holds the geometry as WKB."""
    rows = conn.execute(text(query))
    frame = pd.DataFrame(rows.all(), columns=list(rows.keys()))
    geometry = shapely.from_wkb([bytes(b) for b in frame.pop("wkb")])
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=_CRS)


def camera_table(conn: Connection) -> gpd.GeoDataFrame:
    """Every camera with its owner, coverage parameters and provenance flags (``kind_assumed``);
    never the source URL."""
    return _frame(
        conn,
        "SELECT c.id, c.source, c.source_key, c.site_key, c.owner_id, o.name AS owner_name,"
        " c.kind, c.heading_deg, c.heading_source, c.heading_uncertainty_deg, c.fov_deg,"
        " c.pan_min_deg, c.pan_max_deg, c.resolution_px_h, c.mount_height_m, c.purpose,"
        " c.status, c.address, c.direction_text,"
        " coalesce((c.provenance->>'kind_assumed')::boolean, false) AS kind_assumed,"
        " c.import_batch_id, ST_AsBinary(c.position) AS wkb"
        " FROM camera c JOIN organization o ON o.id = c.owner_id ORDER BY c.id",
    )


def import_batches(conn: Connection) -> pd.DataFrame:
    """Every import run: file, counts (read = imported + merged + rejected + already present)
    and its report (rejected rows by line, merged duplicates, warnings)."""
    rows = conn.execute(
        text(
            "SELECT id, kind, file_name, file_sha256, rows_read, rows_imported, rows_merged,"
            " rows_rejected, rows_already_present, report, started_at, finished_at"
            " FROM import_batch ORDER BY id"
        )
    )
    table = pd.DataFrame(rows.all(), columns=list(rows.keys()))
    for column in ("started_at", "finished_at"):
        table[column] = table[column].astype(str)
    return table


def export_geopackage(conn: Connection, path: Path | str) -> dict[str, int]:
    """Write the registry (roads, cameras, coverage, import reports) to a GeoPackage.

    Returns the number of rows written per layer.
    """
    layers: dict[str, pd.DataFrame] = {
        "road_network": _frame(
            conn,
            "SELECT id, name, source_format, ST_AsBinary(extent) AS wkb FROM road_network"
            " ORDER BY id",
        ),
        "road_segment": _frame(
            conn,
            "SELECT s.id, s.network_id, a.osm_id AS u, b.osm_id AS v, s.oneway, s.name,"
            " s.highway, s.ref, s.osm_way_id, s.bridge, s.tunnel, s.length_m,"
            " ST_AsBinary(s.geom) AS wkb"
            " FROM road_segment s JOIN road_node a ON a.id = s.source"
            " JOIN road_node b ON b.id = s.target ORDER BY s.network_id, s.id",
        ),
        "camera": camera_table(conn),
        "coverage": _frame(
            conn,
            "SELECT camera_id, level, range_m, confidence, ST_AsBinary(geom) AS wkb"
            " FROM coverage ORDER BY camera_id, level",
        ),
    }
    table = import_batches(conn)
    table["report"] = [json.dumps(r, ensure_ascii=False, default=str) for r in table["report"]]
    layers["import_batch"] = table
    write_registry_gpkg(path, layers)
    return {name: len(frame) for name, frame in layers.items()}
