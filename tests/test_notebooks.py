"""The planners' notebooks run on a GeoPackage exported from a database loaded with the real
data, with no database in the notebooks, and say what the data says (a known blind approach)."""

from __future__ import annotations

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
    assert seconds < 60, f"the three notebooks took {seconds:.0f} s"

    first = executed[NAMES[0]]
    (table,) = [c for c in first.cells if "blind-main" in c.metadata.get("tags", [])]
    text = _outputs(table)
    gwanghwamun = [line for line in text.splitlines() if line.strip().startswith("Gwanghwamun")]
    # Gwanghwamun's approach on 율곡로 (secondary, from the east) has no camera at observe
    assert any("율곡로" in line and "secondary" in line for line in gwanghwamun), text
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
