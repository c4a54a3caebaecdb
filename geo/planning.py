"""Planners' questions over many sites: how well are approaches watched, and where would a new
camera help most. Pure functions over a registry snapshot; the notebooks plot what they return.

- :func:`approach_coverage`: one row per (site, approach) with the best DORI level any online
  camera reaches on its watch stretch, hence whether it is watched at each level.
- :func:`greedy_new_sites`: a greedy maximal-covering choice of new camera sites on road edges
  that make the most blind approaches watched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import shapely

from geo.admin_locate import locate_admin_units, locate_lonlat
from geo.cordon import DEFAULT_CORDON, CordonOptions
from geo.coverage import DORI_LEVELS, dori_range_m, fill_camera_defaults
from geo.crs import xy_to_lonlat
from geo.errors import GilmokError
from geo.incident import answer_incident


@dataclass
class Workbench:
    """What a planner's notebook works on: the snapshot, the camera table with its provenance
    flags, the import reports, and where they came from."""

    registry: Any
    cameras: pd.DataFrame
    batches: pd.DataFrame
    source: str


def open_workbench(*, gpkg: str | Path | None = None) -> Workbench:
    """The registry from a GeoPackage export (``gpkg``, else the settings' ``GILMOK_GPKG``) or,
    with neither, from PostGIS (``GILMOK_DATABASE_URL``)."""
    import os

    from geo.settings import RegistrySettings

    settings = RegistrySettings.from_environ(os.environ)
    gpkg = gpkg or settings.gpkg
    if gpkg:
        from geo.gpkg import import_batches_gpkg, load_registry_gpkg, read_layer

        registry = load_registry_gpkg(
            gpkg, max_range_m=settings.max_coverage_range_m, crs=settings.working_crs
        )
        return Workbench(
            registry, pd.DataFrame(read_layer(gpkg, "camera")), import_batches_gpkg(gpkg),
            f"GeoPackage {Path(gpkg).name}",
        )  # fmt: skip
    from geo.store import connect
    from geo.store.export import camera_table, import_batches
    from geo.store.settings import DatabaseSettings
    from geo.store.snapshot import load_snapshot

    database = DatabaseSettings.from_environ(os.environ)
    engine = connect(database.database_url)
    with engine.connect() as conn:
        registry = load_snapshot(
            conn, crs=settings.working_crs, max_range_m=settings.max_coverage_range_m
        )
        cameras, batches = pd.DataFrame(camera_table(conn)), import_batches(conn)
    engine.dispose()
    return Workbench(registry, cameras, batches, f"PostGIS {database.safe_database_url}")


def approach_coverage(
    registry: Any,
    sites: pd.DataFrame,
    cordon: CordonOptions = DEFAULT_CORDON,
    *,
    index: Any = None,
) -> pd.DataFrame:
    """One row per approach of each site's cordon, with how well online cameras watch it.

    ``sites`` has ``name``, ``lon``, ``lat`` and optionally ``district``. Each site is asked
    once at the weakest level (``detect``): the best level an online camera reaches on the
    watch stretch (its pixel density at the nearest watched point) says at which levels the
    approach is watched. Columns: ``site``, ``site_district`` (the site's), ``sigungu_code``,
    ``district``, ``emd_code`` and ``emd_name`` (the 시군구 and 읍면동 where the road crosses
    the cordon, :mod:`geo.admin_locate`), ``approach``, ``road``, ``highway``,
    ``main``, ``bearing_deg``, ``lon``, ``lat``, ``best_level`` ("" when none),
    ``watched_<level>`` for each DORI level, ``blind`` (not watched at ``observe``),
    ``incomplete``, and ``stretch`` (working CRS). Sites the registry cannot answer are left
    out. ``cordon`` is every site's cordon (default 500 m along the roads, approaches);
    ``index`` replaces the registry's coverage index (e.g. with new cameras added).
    """
    index = registry.index if index is None else index
    rows: list[dict[str, Any]] = []
    for site in sites.itertuples(index=False):
        lon_lat = (float(site.lon), float(site.lat))  # type: ignore[arg-type]
        try:
            network = registry.network_for(*lon_lat).roads
            answer = answer_incident(network, index, lon_lat, cordon, level="detect")
        except GilmokError:
            continue
        a, w = answer.cordon.approaches, answer.watchers
        best = np.full(len(a), -1)
        online = w.online
        if online.any():
            levels = np.array([DORI_LEVELS.index(str(v)) for v in w.level[online]])
            np.maximum.at(best, w.approach[online], levels)
        lon, lat = xy_to_lonlat(a.x, a.y, crs=network.crs)
        areas = locate_admin_units(a.x, a.y, crs=network.crs)
        for j in range(len(a)):
            row = {
                "site": site.name,
                "site_district": getattr(site, "district", ""),
                "sigungu_code": areas.sigungu_code[j],
                "district": areas.sigungu_name[j],
                "emd_code": areas.emd_code[j],
                "emd_name": areas.emd_name[j],
                "approach": f"A{j + 1}",
                "road": a.name[j] or a.ref[j] or f"way {a.osm_way_id[j]}",
                "highway": a.highway[j],
                "main": bool(a.main[j]),
                "bearing_deg": round(float(a.bearing_deg[j]), 1),
                "lon": round(float(lon[j]), 6),
                "lat": round(float(lat[j]), 6),
                "best_level": DORI_LEVELS[best[j]] if best[j] >= 0 else "",
            }
            for i, level in enumerate(DORI_LEVELS):
                row[f"watched_{level}"] = bool(best[j] >= i)
            row["blind"] = not row["watched_observe"]
            row["incomplete"] = bool(answer.cordon.incomplete)
            row["stretch"] = a.stretch[j]
            rows.append(row)
    return pd.DataFrame(rows)


def greedy_new_sites(
    network: Any,
    stretches: Any,
    *,
    k: int = 10,
    spacing_m: float = 25.0,
    kind: str = "dome",
    level: str = "observe",
    max_range_m: float = 200.0,
) -> tuple[pd.DataFrame, list[np.ndarray]]:
    """Greedy maximal covering: ``k`` new camera sites on road edges that watch the most of the
    given (blind) approaches' watch stretches.

    Candidates are points every ``spacing_m`` metres along every segment that comes within the
    new camera's range of a stretch; a new camera of ``kind`` (default resolution and lens)
    watches a stretch at ``level`` when the stretch passes within its range (a dome sees all
    round). Each step takes the candidate that watches the most stretches not yet watched.

    Returns the chosen sites (``x``, ``y``, ``lon``, ``lat``, ``new``: stretches it adds,
    ``total``: running total) and, per site, the positions of the stretches it adds.
    """
    geoms = np.asarray(stretches, dtype=object)
    pixels, fov = fill_camera_defaults(np.array([kind], dtype=object), np.array([np.nan]),
                                       np.array([np.nan]))  # fmt: skip
    reach = float(dori_range_m(pixels, fov, level=level, max_range_m=max_range_m)[0])
    # a disk's polygon is drawn with chords: stay inside it so the index agrees
    reach *= 0.99
    segs = np.unique(network.seg_tree.query(shapely.buffer(geoms, reach))[1])
    lengths = network.seg_length[segs]
    counts = np.maximum(np.floor(lengths / spacing_m).astype(int), 0) + 1
    seg_rep = np.repeat(segs, counts)
    offset = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    x, y, _ = network.points_along(seg_rep, offset * spacing_m)
    points = shapely.points(x, y)
    tree = shapely.STRtree(geoms)
    cand, stretch = tree.query(points, predicate="dwithin", distance=reach)
    covers: dict[int, set[int]] = {}
    for c, j in zip(cand.tolist(), stretch.tolist(), strict=True):
        covers.setdefault(c, set()).add(j)
    watched: set[int] = set()
    chosen: list[dict[str, Any]] = []
    added: list[np.ndarray] = []
    for _ in range(k):
        best, gain = -1, set[int]()
        for c, sset in covers.items():
            new = sset - watched
            if len(new) > len(gain):
                best, gain = c, new
        if best < 0:
            break
        watched |= gain
        lon, lat = xy_to_lonlat([x[best]], [y[best]], crs=network.crs)
        chosen.append({"x": float(x[best]), "y": float(y[best]), "lon": float(lon[0]),
                       "lat": float(lat[0]), "new": len(gain), "total": len(watched)})  # fmt: skip
        added.append(np.array(sorted(gain), dtype=np.int64))
    return pd.DataFrame(chosen, columns=["x", "y", "lon", "lat", "new", "total"]), added


#: Key sites of central Seoul a planner checks first (lon, lat, degrees).
LANDMARKS: dict[str, tuple[float, float]] = {
    "광화문": (126.9769, 37.5759),
    "서울시청": (126.9780, 37.5665),
    "서울역": (126.9723, 37.5547),
    "종로3가": (126.9918, 37.5704),
    "을지로3가": (126.9918, 37.5663),
    "명동": (126.9860, 37.5636),
    "창덕궁": (126.9910, 37.5794),
}


def key_sites(
    registry: Any, cameras: pd.DataFrame, *, every: int = 4, margin_m: float = 600.0
) -> pd.DataFrame:
    """The landmarks, then every ``every``-th distinct CCTV site at least ``margin_m`` inside
    the road data: ``name``, ``lon``, ``lat``, ``sigungu_code`` and ``district`` (the 시군구
    the site lies in, :mod:`geo.admin_locate`), ``kind`` (``landmark`` or ``cctv site``).

    ``cameras`` is the camera table of :class:`Workbench` (point geometry, ``site_key``).
    """
    crs = registry.crs
    rows = []
    for name, (lo, la) in LANDMARKS.items():
        rows.append({"name": name, "lon": lo, "lat": la, "kind": "landmark"})
    sites = cameras.drop_duplicates("site_key").sort_values("site_key")
    geoms = np.asarray(sites.geometry)
    source_crs = getattr(cameras, "crs", None) or crs
    from geo.crs import transform_geometry

    points = transform_geometry(geoms, source=source_crs, target=crs)
    x, y = shapely.get_x(points), shapely.get_y(points)
    inside = np.zeros(len(sites), dtype=bool)
    for net in registry.networks:
        inside |= shapely.contains_xy(shapely.buffer(net.extent, -margin_m), x, y)
    keep = np.flatnonzero(inside)[::every]
    lon, lat = xy_to_lonlat(x[keep], y[keep], crs=crs)
    keys = sites["site_key"].to_numpy()[keep]
    for key, lo, la in zip(keys.tolist(), lon.tolist(), lat.tolist(), strict=True):
        rows.append({"name": f"site {key}", "lon": float(lo), "lat": float(la),
                     "kind": "cctv site"})  # fmt: skip
    frame = pd.DataFrame(rows)
    located = locate_lonlat(frame.lon, frame.lat, crs=crs)
    frame.insert(3, "sigungu_code", located.sigungu_code)
    frame.insert(4, "district", located.sigungu_name)
    return frame
