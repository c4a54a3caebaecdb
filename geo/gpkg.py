"""Files planners and drill designers hand around: the registry as a GeoPackage, scenario points,
drill exports (GeoPackage, CSV, GeoJSON).

A registry GeoPackage (written by :func:`geo.store.export.export_geopackage`, read by
:func:`load_registry_gpkg`) holds, in the working CRS (EPSG:5179) or the CRS asked for:

- ``road_network``: one polygon per imported network (its extent), ``id``, ``name``;
- ``road_segment``: ``network_id``, ``u``/``v`` (OSM node ids), ``oneway``, ``name``,
  ``highway``, ``ref``, ``osm_way_id``, ``bridge``, ``tunnel``, the line running u→v;
- ``camera``: position (and ``lon``, ``lat``), what coverage needs as typed numbers (REAL
  ``heading_deg``, ``pan_min_deg``, ``pan_max_deg``, ``mount_height_m``, …), owner, 시군구 /
  읍면동 and provenance flags, and its state as of the export: ``status`` (online / offline /
  maintenance / retired), ``status_reason``, ``status_since`` (ISO 8601 UTC, empty: as
  imported), ``heading_source`` (surveyed, osm_tag, inferred, unknown) and
  ``last_change_seq`` (its newest change in the registry's change sequence, 0: none),
  ``heading_change_seq`` and ``heading_via`` (the newest change that set its heading and how it
  came: ``api``, ``survey``, ``cli``; 0 and empty when the heading is the import's) — never
  the source URL;
- ``coverage``: each camera's coverage at every DORI level (``camera_id``, ``level``,
  ``px_per_m``, ``range_m``, ``confidence``), drawn as the import draws it
  (:func:`coverage_at_every_level`);
- ``layer_styles``: QGIS's default style of ``camera`` and ``coverage`` (:mod:`geo.gpkg_styles`);
- ``import_batch`` (no geometry): each import's counts and its report as JSON.

:func:`load_registry_gpkg` builds from it the same in-memory objects
:func:`geo.store.snapshot.load_snapshot` builds from PostGIS, so notebooks and drills run on
either with no database. This module does file I/O only; the math stays in the core.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from geo.crs import DEFAULT_WORKING_CRS, LONLAT_CRS, transform_geometry
from geo.domain import DORI_PX_PER_M
from geo.drill_export import DrillTables
from geo.errors import ImportFileError, InvalidInput
from geo.export_files import write_csv, write_geojson
from geo.gpkg_styles import write_layer_styles
from geo.index import camera_coverage
from geo.network import build_road_network
from geo.registry import (
    NetworkSnapshot,
    RegistrySnapshot,
    cameras_in_space_order,
    segments_in_space_order,
)

#: Layers of a registry GeoPackage, in the order they are written.
REGISTRY_LAYERS = ("road_network", "road_segment", "camera", "coverage", "import_batch")
#: Drill export formats, by file suffix.
DRILL_FORMATS = {".gpkg": "GPKG", ".csv": "CSV", ".geojson": "GeoJSON", ".json": "GeoJSON"}


def write_registry_gpkg(
    path: Path | str, layers: dict[str, pd.DataFrame], *, crs: str | None = None
) -> Path:
    """Write the registry's layers (GeoDataFrames, or DataFrames for tables) to ``path``, their
    geometries in ``crs`` (default: as given), with the QGIS layer styles.

    An existing file is replaced: a GeoPackage export is a snapshot, not an append log.
    """
    path = Path(path)
    if path.suffix.lower() != ".gpkg":
        raise InvalidInput(f"{path.name}: a registry export is a GeoPackage (.gpkg)")
    path.unlink(missing_ok=True)
    for name in REGISTRY_LAYERS:
        frame = layers[name]
        if "source_url" in frame.columns:  # a secret: it goes to the relay, never to a file
            raise ValueError("the camera source URL must never be exported")
        pyogrio.write_dataframe(_in_crs(frame, crs), path, layer=name, driver="GPKG")
    write_layer_styles(path, list(REGISTRY_LAYERS))
    return path


def _in_crs(frame: pd.DataFrame, crs: str | None) -> pd.DataFrame:
    if crs is None or not isinstance(frame, gpd.GeoDataFrame) or frame.crs is None:
        return frame
    return frame.to_crs(crs)


#: Camera columns written as REAL whatever the rows hold (all NULL in a file without them).
CAMERA_REAL_COLUMNS = ("heading_deg", "heading_uncertainty_deg", "fov_deg", "pan_min_deg",
                       "pan_max_deg", "mount_height_m", "megapixels")  # fmt: skip
CAMERA_INTEGER_COLUMNS = ("resolution_px_h",)


def typed_camera_table(cameras: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The camera table with its numbers typed (REAL, nullable INTEGER) and ``lon``, ``lat``
    (degrees, 7 decimals) after the id: a column no row fills is still a number column."""
    out = cameras.copy()
    for column in CAMERA_REAL_COLUMNS:
        if column in out.columns:
            out[column] = pd.to_numeric(out[column], errors="coerce").astype("float64")
    for column in CAMERA_INTEGER_COLUMNS:
        if column in out.columns:
            out[column] = pd.to_numeric(out[column], errors="coerce").astype("Int64")
    lonlat = transform_geometry(np.asarray(out.geometry), source=out.crs, target=LONLAT_CRS)
    out.insert(1, "lon", np.round(shapely.get_x(lonlat), 7))
    out.insert(2, "lat", np.round(shapely.get_y(lonlat), 7))
    return out


def coverage_at_every_level(
    cameras: gpd.GeoDataFrame, *, max_range_m: float, crs: str = DEFAULT_WORKING_CRS
) -> gpd.GeoDataFrame:
    """Coverage of every camera at each DORI level, as the import draws it (observe is the
    stored polygon; detect reaches farther, recognise and identify less far).

    ``cameras`` is :func:`typed_camera_table`'s (``id``, ``lon``, ``lat`` and the coverage
    parameters). Returns ``camera_id``, ``level``, ``px_per_m``, ``range_m`` (metres),
    ``confidence`` and the polygon in ``crs``, detect first (the widest, drawn underneath).
    """
    parts = []
    for level, px in DORI_PX_PER_M.items():
        cov = camera_coverage(
            cameras["lon"].to_numpy(dtype=float),
            cameras["lat"].to_numpy(dtype=float),
            kind=cameras["kind"].to_numpy(dtype=object),
            heading_deg=cameras["heading_deg"].to_numpy(dtype=float),
            fov_deg=cameras["fov_deg"].to_numpy(dtype=float),
            resolution_px_h=cameras["resolution_px_h"].astype("float64").to_numpy(na_value=np.nan),
            pan_min_deg=cameras["pan_min_deg"].to_numpy(dtype=float),
            pan_max_deg=cameras["pan_max_deg"].to_numpy(dtype=float),
            heading_source=cameras["heading_source"].to_numpy(dtype=object),
            level=level,
            max_range_m=max_range_m,
            crs=crs,
        )
        parts.append(
            gpd.GeoDataFrame(
                {
                    "camera_id": cameras["id"].to_numpy(),
                    "level": level,
                    "px_per_m": px,
                    "range_m": np.asarray(cov.range_m, dtype=float),
                    "confidence": np.asarray(cov.confidence, dtype=object),
                },
                geometry=np.asarray(cov.polygons, dtype=object),
                crs=crs,
            )
        )
    return gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs=crs)


def read_layer(path: Path | str, layer: str) -> gpd.GeoDataFrame | pd.DataFrame:
    """One layer of a GeoPackage (a DataFrame when it has no geometry)."""
    try:
        return pyogrio.read_dataframe(path, layer=layer)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise ImportFileError(f"{Path(path).name}: cannot read layer {layer!r}: {exc}") from exc


def _text(series: pd.Series) -> pd.Series:
    return series.fillna("").astype(str)


def load_registry_gpkg(
    path: Path | str, *, max_range_m: float, crs: str = DEFAULT_WORKING_CRS
) -> RegistrySnapshot:
    """The registry snapshot (road graphs, cameras, coverage index) from a GeoPackage export.

    Returns a :class:`geo.registry.RegistrySnapshot`, as
    :func:`geo.store.snapshot.load_snapshot` does from PostGIS; retired cameras are left out.
    """
    t0 = time.perf_counter()
    path = Path(path)
    if not path.is_file():
        raise ImportFileError(f"{path}: no such GeoPackage")
    nets = read_layer(path, "road_network")
    segments = read_layer(path, "road_segment")
    file_crs = str(segments.crs) if getattr(segments, "crs", None) is not None else crs
    networks = []
    extents = transform_geometry(np.asarray(nets.geometry), source=file_crs, target=crs)
    order = np.argsort(-shapely.area(extents), kind="stable")
    for i in order:
        net = nets.iloc[int(i)]
        frame = pd.DataFrame(segments[segments["network_id"] == net["id"]])
        for column in ("name", "highway", "ref"):
            frame[column] = _text(frame[column])
        frame["geometry"] = np.asarray(frame.geometry)
        frame = segments_in_space_order(frame)
        graph = build_road_network(frame, crs=crs, extent=extents[i], segments_crs=file_crs)
        networks.append(
            NetworkSnapshot(
                id=int(net["id"]), name=str(net["name"]), extent=extents[i], roads=graph
            )
        )
    cameras = read_layer(path, "camera")
    cameras = cameras[cameras["status"] != "retired"].reset_index(drop=True)
    points = transform_geometry(np.asarray(cameras.geometry), source=file_crs, target=crs)
    table = pd.DataFrame(cameras.drop(columns="geometry"))
    table.insert(1, "x", shapely.get_x(points))
    table.insert(2, "y", shapely.get_y(points))
    table = cameras_in_space_order(table)
    return RegistrySnapshot.build(networks, table, crs=crs, max_range_m=max_range_m, started=t0)


def import_batches_gpkg(path: Path | str) -> pd.DataFrame:
    """The ``import_batch`` table of a registry GeoPackage, with ``report`` parsed from JSON."""
    frame = pd.DataFrame(read_layer(path, "import_batch"))
    frame["report"] = [json.loads(r) if isinstance(r, str) else {} for r in frame["report"]]
    return frame


def read_scenario_points(path: Path | str) -> pd.DataFrame:
    """Named scenario points from a CSV (columns ``name,lon,lat``), GeoPackage or GeoJSON.

    Returns a DataFrame ``name`` (text), ``lon``, ``lat`` (degrees, EPSG:4326). A GeoPackage or
    GeoJSON needs point geometries and a ``name`` attribute; its CRS is honoured.

    Raises
    ------
    ImportFileError
        when the file cannot be read or lacks the columns.
    InvalidInput
        for a missing or repeated name, or a position that is not lon/lat.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            frame = pd.read_csv(path, dtype={"name": str}, encoding="utf-8-sig")
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise ImportFileError(f"{path.name}: cannot read the CSV: {exc}") from exc
        missing = {"name", "lon", "lat"} - set(frame.columns)
        if missing:
            raise ImportFileError(
                f"{path.name}: a scenario CSV needs the columns name,lon,lat;"
                f" missing {', '.join(sorted(missing))}"
            )
        lon = pd.to_numeric(frame["lon"], errors="coerce").to_numpy(dtype=float)
        lat = pd.to_numeric(frame["lat"], errors="coerce").to_numpy(dtype=float)
        names = frame["name"]
    elif suffix in (".gpkg", ".geojson", ".json"):
        try:
            layer = pyogrio.read_dataframe(path)
        except pyogrio.errors.DataSourceError as exc:
            raise ImportFileError(f"{path.name}: cannot read: {exc}") from exc
        if "name" not in layer.columns:
            raise ImportFileError(f"{path.name}: scenario points need a 'name' attribute")
        geoms = np.asarray(layer.geometry)
        if not np.all(shapely.get_type_id(geoms) == 0):
            raise ImportFileError(f"{path.name}: every scenario must be a point")
        source = layer.crs or LONLAT_CRS
        points = transform_geometry(geoms, source=source, target=LONLAT_CRS)
        lon, lat = shapely.get_x(points), shapely.get_y(points)
        names = layer["name"]
    else:
        raise ImportFileError(f"{path.name}: scenarios come as .csv, .gpkg or .geojson")
    text = names.astype("string").str.strip()
    line_offset = 2 if suffix == ".csv" else 1
    blank = np.flatnonzero(text.isna().to_numpy() | (text.fillna("") == "").to_numpy())
    if blank.size:
        raise InvalidInput(f"{path.name}: scenario at row {blank[0] + line_offset} has no name")
    repeated = text[text.duplicated()]
    if len(repeated):
        raise InvalidInput(f"{path.name}: scenario name {repeated.iloc[0]!r} is repeated")
    bad = np.flatnonzero(
        ~(np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90))
    )
    if bad.size:
        raise InvalidInput(
            f"{path.name}: scenario {text.iloc[bad[0]]!r} has no lon/lat position in degrees"
        )
    return pd.DataFrame({"name": text.astype(str).to_numpy(), "lon": lon, "lat": lat})


def write_drill_file(path: Path | str, tables: DrillTables, *, crs: str | None = None) -> Path:
    """Write a drill (:class:`geo.drill_export.DrillTables`) to a file, by its suffix:

    - ``.gpkg``: layers ``scenario`` and ``approach`` (points), ``approach_camera`` (a table:
      one row per approach and camera), and when drawn ``cordon`` and ``watch_stretch``, in
      ``crs`` (default lon/lat, EPSG:4326), with QGIS layer styles;
    - ``.csv``: one row per approach (the scenario's columns repeated; a scenario without
      approaches keeps one row), and beside it ``<name>_cameras.csv``, the camera table;
      UTF-8 with a BOM, booleans ``true``/``false`` (:mod:`geo.export_files`);
    - ``.geojson``: the approaches' entry points, RFC 7946.

    The approaches carry their 시군구 / 읍면동 in each format.
    """
    path = Path(path)
    driver = DRILL_FORMATS.get(path.suffix.lower())
    if driver is None:
        raise InvalidInput(f"{path.name}: a drill exports to .gpkg, .csv or .geojson")
    path.unlink(missing_ok=True)
    scenarios, approaches = tables.scenarios, tables.approaches

    def points(frame: pd.DataFrame) -> gpd.GeoDataFrame:
        return gpd.GeoDataFrame(
            frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs=LONLAT_CRS
        )

    if driver == "GPKG":
        layers: dict[str, pd.DataFrame] = {
            "scenario": points(scenarios),
            "approach": points(approaches),
            "approach_camera": tables.cameras,
        }
        if tables.cordons is not None and tables.stretches is not None:
            layers["cordon"] = tables.cordons
            layers["watch_stretch"] = tables.stretches
        for name, frame in layers.items():
            pyogrio.write_dataframe(
                _in_crs(frame, crs), path, layer=name, driver="GPKG",
                promote_to_multi=name in ("cordon", "watch_stretch"),
            )  # fmt: skip
        write_layer_styles(path, list(layers))
    elif driver == "GeoJSON":
        write_geojson(points(approaches), path)
    else:
        renamed = scenarios.rename(
            columns={c: f"scenario_{c}" for c in scenarios.columns if c != "name"}
        )
        table = renamed.merge(
            approaches.rename(columns={"scenario": "name"}), on="name", how="left"
        ).rename(columns={"name": "scenario"})
        write_csv(table, path)
        write_csv(tables.cameras, path.with_name(f"{path.stem}_cameras.csv"))
    return path
