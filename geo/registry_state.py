"""What a registry export says about its cameras' state: the version it reflects, the cameras
by status and since when, and where each heading comes from.

Pure functions over the camera and import tables a planner's workbench holds
(:func:`geo.planning.open_workbench`: a GeoPackage from ``gilmok export gpkg`` or PostGIS),
whose columns are those of :mod:`geo.gpkg`'s ``camera`` layer: ``status``, ``status_reason``,
``status_since`` (ISO 8601 UTC, empty: as imported), ``heading_source``, ``last_change_seq``,
``heading_change_seq`` and ``heading_via``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from geo.domain import CAMERA_STATUSES, HEADING_SOURCES

#: How a heading reached the registry: with the import, or by a change of its centre (the
#: ``via`` of the change that set it).
HEADING_ORIGINS = {
    "": "import",
    "api": "centre, API",
    "survey": "centre, survey upload",
    "cli": "operator, command line",
    "vms": "centre, VMS",
    "relay": "relay",
}


@dataclass(frozen=True)
class RegistryVersion:
    """The registry a table reflects: its newest import and its newest camera change.

    ``import_batch`` is the newest import's id (0: none) and ``import_file`` its file;
    ``change_seq`` the newest change in the registry's change sequence (0: none since the
    imports); ``cameras`` how many cameras it holds, ``retired`` how many of them are retired.
    """

    import_batch: int
    import_file: str
    change_seq: int
    cameras: int
    retired: int

    def describe(self) -> str:
        """One line, e.g. ``import batch 2 (seoul.csv), change sequence 0: 5 cameras``."""
        changes = (
            "no camera changed since the imports"
            if self.change_seq == 0
            else f"change {self.change_seq}"
        )
        return (
            f"registry as of import batch {self.import_batch} ({self.import_file or 'none'}) and"
            f" change sequence {self.change_seq} ({changes}): {self.cameras} cameras,"
            f" {self.retired} retired"
        )


def registry_version(cameras: pd.DataFrame, batches: pd.DataFrame) -> RegistryVersion:
    """The version ``cameras`` (every camera, retired ones included) and ``batches`` (the import
    runs) reflect.

    Examples
    --------
    >>> cams = pd.DataFrame({"status": ["online", "retired"], "last_change_seq": [0, 7]})
    >>> runs = pd.DataFrame({"id": [1, 2], "file_name": ["roads.osm", "cctv.csv"]})
    >>> version = registry_version(cams, runs)
    >>> version.import_batch, version.import_file, version.change_seq, version.retired
    (2, 'cctv.csv', 7, 1)
    """
    batch, file_name = 0, ""
    if len(batches):
        newest = batches.sort_values("id").iloc[-1]
        batch, file_name = int(newest["id"]), str(newest["file_name"])
    seq = int(cameras["last_change_seq"].max()) if len(cameras) else 0
    return RegistryVersion(
        import_batch=batch,
        import_file=file_name,
        change_seq=seq,
        cameras=len(cameras),
        retired=int((cameras["status"] == "retired").sum()),
    )


def cameras_by_status(cameras: pd.DataFrame) -> pd.DataFrame:
    """One row per status (online, offline, maintenance, retired): how many cameras, how many
    of them reported since the import (a since-time), and the earliest and latest since-time
    (ISO 8601 UTC; empty where none).

    Examples
    --------
    >>> cams = pd.DataFrame({"status": ["online", "offline", "offline"],
    ...                      "status_since": ["", "2026-12-01T09:00:00Z", "2026-12-02T10:00:00Z"]})
    >>> cameras_by_status(cams).loc["offline"].to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'cameras': 2, 'reported': 2, 'since_first': '2026-12-01T09:00:00Z',
     'since_last': '2026-12-02T10:00:00Z'}
    """
    since = cameras["status_since"].fillna("").astype(str)
    rows = []
    for status in CAMERA_STATUSES:
        mine = since[cameras["status"] == status]
        reported = mine[mine != ""]
        rows.append(
            {
                "status": status,
                "cameras": len(mine),
                "reported": len(reported),
                "since_first": reported.min() if len(reported) else "",
                "since_last": reported.max() if len(reported) else "",
            }
        )
    return pd.DataFrame(rows).set_index("status")


def not_online(cameras: pd.DataFrame, *, limit: int = 20) -> pd.DataFrame:
    """The cameras out of service (offline or maintenance), longest out first: ``id``,
    ``owner_name``, ``status``, ``status_reason``, ``status_since``."""
    out = cameras[cameras["status"].isin(["offline", "maintenance"])]
    out = out.sort_values(["status_since", "id"])
    columns = ["id", "owner_name", "status", "status_reason", "status_since"]
    return pd.DataFrame(out[columns].head(limit)).reset_index(drop=True)


def heading_origins(cameras: pd.DataFrame) -> pd.DataFrame:
    """Cameras not retired by the heading's source (surveyed, osm_tag, inferred, unknown) and
    where it came from (:data:`HEADING_ORIGINS`: the import, or a centre's change through the
    API or a survey upload, …), with totals.

    Examples
    --------
    >>> cams = pd.DataFrame({"status": ["online"] * 3, "heading_source": ["surveyed"] * 2
    ...                      + ["unknown"], "heading_via": ["", "api", ""]})
    >>> heading_origins(cams).loc["surveyed"].to_dict()
    {'import': 1, 'centre, API': 1, 'All': 2}
    """
    live = cameras[cameras["status"] != "retired"]
    origin = live["heading_via"].fillna("").map(lambda v: HEADING_ORIGINS.get(v, v))
    source = pd.Categorical(live["heading_source"], categories=list(HEADING_SOURCES))
    table = pd.crosstab(source, origin, margins=True, dropna=False)
    table.index.name, table.columns.name = "heading_source", "origin"
    order = [o for o in HEADING_ORIGINS.values() if o in table.columns]
    extra = [c for c in table.columns if c not in order and c != "All"]
    return table[[*order, *extra, "All"]]
