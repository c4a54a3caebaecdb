"""The real data files of the manifest (``data/manifest.toml``) imported into PostGIS, in order.

What ``gilmok import all`` does with the files the manifest marks ``import_all``: each goes
through its importer's reader (:mod:`geo.ingest`) and into the database
(:mod:`geo.store.imports`) in a transaction of its own, so that a file that fails keeps the
ones before it; the manifest lists the road networks first, then the cameras.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy.engine import Connection, Engine

from geo.coverage import DEFAULT_MAX_RANGE_M
from geo.ingest.cameras import CameraRead
from geo.ingest.cctv import read_cctv
from geo.ingest.enforcement import read_enforcement
from geo.ingest.manifest import DataFile
from geo.ingest.osm import read_road_network
from geo.store.imports import ImportSummary, import_cameras, import_road_network

#: The camera readers of the manifest's ``importer`` names (the other one: ``roads``).
CAMERA_READERS: dict[str, Callable[..., CameraRead]] = {
    "cctv": read_cctv,
    "enforcement": read_enforcement,
}


def import_data_file(
    conn: Connection,
    path: Path,
    importer: str,
    *,
    country_bounds: tuple[float, float, float, float] | None,
    max_range_m: float = DEFAULT_MAX_RANGE_M,
) -> ImportSummary:
    """Read the file at ``path`` with the manifest's ``importer`` and load it, in the caller's
    transaction (see :func:`import_data_files` for the options)."""
    if importer == "roads":
        return import_road_network(conn, read_road_network(path), path=path)
    read = CAMERA_READERS[importer](path, country_bounds=country_bounds)
    return import_cameras(conn, read, path=path, max_range_m=max_range_m)


def import_data_files(
    engine: Engine,
    data_dir: Path,
    files: Iterable[DataFile],
    *,
    country_bounds: tuple[float, float, float, float] | None,
    max_range_m: float = DEFAULT_MAX_RANGE_M,
    on_import: Callable[[ImportSummary], None] | None = None,
) -> list[ImportSummary]:
    """Import each of ``files`` (manifest entries) from ``data_dir``, in their order, each in a
    transaction of its own on ``engine`` (the schema's owner: imports rebuild indexes).

    ``country_bounds`` (lon/lat) rejects cameras outside them; ``max_range_m`` (metres) caps
    the coverage computed for new cameras. ``on_import`` gets each file's summary as soon as it
    is in, before the next file is read. Returns the summaries, in the files' order.
    """
    summaries = []
    for entry in files:
        with engine.begin() as conn:
            summary = import_data_file(
                conn,
                data_dir / entry.name,
                entry.importer,
                country_bounds=country_bounds,
                max_range_m=max_range_m,
            )
        if on_import is not None:
            on_import(summary)
        summaries.append(summary)
    return summaries
