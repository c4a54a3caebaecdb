"""The planners' notebooks run on a GeoPackage exported from a database loaded with the real
data, with no database in the notebooks, and say what the data says (a known blind approach).

The committed notebooks carry the outputs of a run on the current code: every cell tagged
``checked`` (approach counts, ids, the tables by 시군구) must print exactly what a fresh run
prints. ``GILMOK_WRITE_NOTEBOOKS=1`` writes the fresh run's outputs back into ``notebooks/``
(then commit them)."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from real_registry import real_registry_url

from api.settings import Settings
from geo.store import connect
from geo.store.export import export_geopackage

pytestmark = [pytest.mark.db, pytest.mark.slow]

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
NAMES = ("01_coverage_of_approaches", "02_where_a_new_camera_helps", "03_data_quality")


def _outputs(cell: nbformat.NotebookNode) -> str:
    text = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            text.append(out["text"])
        elif "data" in out:
            text.append(out["data"].get("text/plain", ""))
    return "\n".join(text)


def _execute(name: str, workdir: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    )
    client.execute()
    return nb


@pytest.fixture(scope="module")
def registry_gpkg(
    base_settings: Settings, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    url = real_registry_url(base_settings.owner_database_url, data_dir)
    path = tmp_path_factory.mktemp("gpkg") / "registry.gpkg"
    engine = connect(url)
    with engine.connect() as conn:
        export_geopackage(conn, path)
    engine.dispose()
    return path


def test_notebooks_run_on_a_geopackage_and_show_a_known_blind_approach(
    registry_gpkg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GILMOK_GPKG", str(registry_gpkg))
    # the notebooks must not need the database: point its URL nowhere
    monkeypatch.setenv("GILMOK_DATABASE_URL", "postgresql://nobody:x@127.0.0.1:1/none")
    assert os.environ["GILMOK_GPKG"] == str(registry_gpkg)
    t0 = time.perf_counter()
    with ThreadPoolExecutor(len(NAMES)) as pool:
        executed = dict(zip(NAMES, pool.map(lambda n: _execute(n, tmp_path), NAMES), strict=True))
    seconds = time.perf_counter() - t0
    assert seconds < 120, f"the three notebooks took {seconds:.0f} s"  # 2 shared cores

    if os.environ.get("GILMOK_WRITE_NOTEBOOKS") == "1":
        for name, nb in executed.items():
            nbformat.write(nb, NOTEBOOKS / f"{name}.ipynb")

    first = executed[NAMES[0]]
    (table,) = [c for c in first.cells if "blind-main" in c.metadata.get("tags", [])]
    text = _outputs(table)
    gwanghwamun = [line for line in text.splitlines() if line.strip().startswith("광화문")]
    # 광화문's approach on 율곡로 (secondary, from the east, in 종로구) has no camera at observe
    assert any("율곡로" in line and "secondary" in line and "종로구" in line
               for line in gwanghwamun), text  # fmt: skip
    # grouped by real 시군구 (codes and names of NGII's boundaries), not by camera owners
    (by_district,) = [c for c in first.cells if "by_district = " in c.source]
    districts = _outputs(by_district)
    assert "11110" in districts
    assert "서울특별시 종로구" in districts
    assert "서울지방경찰청" not in districts
    # the interactive map: the 시군구 drawn, no tile service
    html = "".join(
        o["data"].get("text/html", "") for c in first.cells for o in c.get("outputs", [])
        if "data" in o and "folium" in c.source
    )  # fmt: skip
    assert json.dumps("종로구")[1:-1] in html  # the map's GeoJSON escapes non-ASCII
    assert "tile.openstreetmap" not in html
    assert "tileLayer" not in html
    for name, nb in executed.items():
        committed = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
        checked = [i for i, c in enumerate(nb.cells) if "checked" in c.metadata.get("tags", [])]
        for i in checked:
            assert _outputs(committed.cells[i]) == _outputs(nb.cells[i]), (
                f"{name} cell {i}: the committed output is stale; run the notebook test with"
                " GILMOK_WRITE_NOTEBOOKS=1 and commit"
            )
        params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1, name
        # Hangul drawn with a Hangul font: matplotlib warns of no missing glyph
        stderr = "".join(
            o.get("text", "") for c in nb.cells for o in c.get("outputs", [])
            if o.get("name") == "stderr"
        )  # fmt: skip
        assert "Glyph" not in stderr, name
    for name, nb in executed.items():
        images = [
            o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})
        ]
        assert images, f"{name} shows no figure"
        errors = [
            o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"
        ]
        assert errors == [], name
    second = "\n".join(_outputs(c) for c in executed[NAMES[1]].cells)
    assert "the index confirms" in second
