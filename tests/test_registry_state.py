"""A planner sees the registry's version, its cameras' state and its headings' origins as of an
export (:mod:`geo.registry_state`, notebooks/03_data_quality.ipynb).

On the real Mapo world (tests/mapo_world.py), inside one rolled-back transaction: 마포구's centre
reports cameras offline and in maintenance, surveys headings through the API and a survey upload,
adds a camera and retires one, all through the store the API calls. The GeoPackage exported then
must say, through the planner's functions, exactly what the database says: the newest import and
change, each status with its since-times, each heading's origin — and the data-quality notebook
run on that GeoPackage, with no database, must print it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from mapo_world import MAPO_POINT, MapoWorld, mapo_fixtures
from nbclient import NotebookClient
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.ingest.survey import read_survey
from geo.planning import open_workbench
from geo.registry_state import (
    cameras_by_status,
    heading_origins,
    not_online,
    registry_version,
)
from geo.store import camera_changes
from geo.store.export import export_geopackage

pytestmark = [pytest.mark.db]
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "03_data_quality.ipynb"


world = mapo_fixtures().world


@pytest.fixture(scope="module")
def changed(world: MapoWorld, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The centre's changes, then the export: what was done, and the GeoPackage's path."""
    conn: Connection = world.conn
    owner = world.orgs["municipal_centre"]
    who: dict[str, Any] = {"owner_id": owner, "organization_id": owner, "actor": "test"}
    cams = [
        int(r[0])
        for r in conn.execute(
            text("SELECT id FROM camera WHERE owner_id = :o ORDER BY id LIMIT 8"), {"o": owner}
        )
    ]
    camera_changes.set_statuses(
        conn, [(cams[0], "offline", "fibre cut"), (cams[1], "offline", "no video"),
               (cams[2], "maintenance", "pole work")], via="vms", **who,
    )  # fmt: skip
    camera_changes.correct_cameras(conn, [(cams[3], {"heading_deg": 45.0})], via="api", **who)
    survey = f"camera_id,heading_deg\n{cams[4]},90\n{cams[5]},180\n".encode()
    rows, report = read_survey(survey, "survey.csv")
    camera_changes.apply_survey(conn, rows, report, via="survey", **who)
    assert report.changed == 2
    lon, lat = MAPO_POINT
    added = camera_changes.add_camera(
        conn, lon=lon, lat=lat, kind="fixed", heading_deg=270.0, via="api",
        source_key=camera_changes.centre_source_key(owner, "MP-1"), **who,
    )  # fmt: skip
    camera_changes.remove_camera(conn, cams[6], via="api", reason="dismantled", **who)
    path = tmp_path_factory.mktemp("state") / "registry.gpkg"
    export_geopackage(conn, path)
    return {"cams": cams, "added": added.camera_id, "path": path,
            "seq": camera_changes.latest_seq(conn)}  # fmt: skip


def _db_counts(conn: Connection, sql: str) -> dict[str, int]:
    return {str(k): int(v) for k, v in conn.execute(text(sql)).all()}


def test_the_export_says_what_the_database_says(world: MapoWorld, changed: dict[str, Any]) -> None:
    conn = world.conn
    wb = open_workbench(gpkg=changed["path"])
    cams = wb.cameras
    version = registry_version(cams, wb.batches)
    newest_batch = conn.execute(text("SELECT max(id) FROM import_batch")).scalar_one()
    assert (version.import_batch, version.change_seq) == (newest_batch, changed["seq"])
    assert version.cameras == conn.execute(text("SELECT count(*) FROM camera")).scalar_one()
    assert version.retired == 1
    assert f"change sequence {changed['seq']}" in version.describe()

    by_status = cameras_by_status(cams)
    assert by_status["cameras"].to_dict() == {
        s: _db_counts(conn, "SELECT status, count(*) FROM camera GROUP BY status").get(s, 0)
        for s in ("online", "offline", "maintenance", "retired")
    }
    since = {
        str(k): v.strftime("%Y-%m-%dT%H:%M:%SZ")
        for k, v in conn.execute(
            text("SELECT status, min(status_since AT TIME ZONE 'UTC') FROM camera"
                 " WHERE status_since IS NOT NULL GROUP BY status")
        ).all()
    }  # fmt: skip
    for status, first in since.items():
        assert by_status.loc[status, "since_first"] == first
    assert by_status.loc["offline", "reported"] == 2
    out = not_online(cams)
    assert sorted(out["status_reason"]) == ["fibre cut", "no video", "pole work"]

    origins = heading_origins(cams)
    a, b, c = changed["cams"][3:6]
    assert origins.loc["surveyed", "centre, API"] == 2  # the corrected one and the added one
    assert origins.loc["surveyed", "centre, survey upload"] == 2
    imported = _db_counts(
        conn,
        "SELECT heading_source, count(*) FROM camera WHERE status <> 'retired' AND NOT EXISTS"
        " (SELECT 1 FROM camera_change x WHERE x.camera_id = camera.id"
        " AND x.current -> 'heading_deg' IS NOT NULL) GROUP BY heading_source",
    )
    assert origins["import"].drop("All").to_dict() == {
        s: imported.get(s, 0) for s in ("surveyed", "osm_tag", "inferred", "unknown")
    }
    assert origins.loc["All", "All"] == version.cameras - version.retired
    rows = cams.set_index("id")
    assert rows.loc[a, "heading_via"] == "api"
    assert rows.loc[b, "heading_via"] == rows.loc[c, "heading_via"] == "survey"
    assert rows.loc[b, "heading_change_seq"] > rows.loc[a, "heading_change_seq"]


def test_the_data_quality_notebook_prints_the_state_with_no_database(
    changed: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GILMOK_GPKG", str(changed["path"]))
    monkeypatch.setenv("GILMOK_DATABASE_URL", "postgresql://nobody:x@127.0.0.1:1/none")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    printed = "\n".join(
        out.get("text", "") or out.get("data", {}).get("text/plain", "")
        for cell in nb.cells
        for out in cell.get("outputs", [])
    )
    assert f"and change sequence {changed['seq']} (change {changed['seq']})" in printed
    assert "3 camera(s) out of service, longest first" in printed
    assert "fibre cut" in printed
    assert "pole work" in printed
    assert "headings surveyed by their centres since the import: 4" in printed
    assert "centre, survey upload" in printed
