"""GeoPackages that open right (issue 16): the registry and a drill, read back through GDAL
(pyogrio) as QGIS would — layer geometry types, field types, the stored QGIS layer styles, the
output CRS — and the drill's CSV and GeoJSON files.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from click.testing import CliRunner
from real_registry import cctv_sites_on_roads, real_registry_url
from scratch_db import database_env
from sqlalchemy.engine import URL, Engine

from api.cli import main
from api.settings import Settings, load_settings
from geo.admin_locate import locate_lonlat
from geo.cordon import CordonOptions
from geo.crs import transform_geometry
from geo.domain import DORI_PX_PER_M
from geo.drills import DrillOptions, run_batch
from geo.export_files import UTF8_BOM
from geo.store import connect
from geo.store import drills as store
from geo.store.export import export_geopackage
from geo.store.snapshot import load_snapshot

pytestmark = [pytest.mark.db, pytest.mark.slow]

QGIS_FIELD_REF = '"'


@pytest.fixture(scope="module")
def registry_url(base_settings: Settings, data_dir: Path) -> URL:
    return real_registry_url(base_settings.owner_database_url, data_dir)


@pytest.fixture(scope="module")
def engine(registry_url: URL) -> Engine:  # type: ignore[misc]
    eng = connect(registry_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="module")
def gpkg(engine: Engine, tmp_path_factory: pytest.TempPathFactory, base_settings: Settings) -> Path:
    path = tmp_path_factory.mktemp("export") / "registry.gpkg"
    with engine.connect() as conn:
        export_geopackage(conn, path, max_range_m=base_settings.max_coverage_range_m)
    return path


def _layers(path: Path) -> dict[str, str | None]:
    return {str(name): kind for name, kind in pyogrio.list_layers(path).tolist()}


def _dtypes(path: Path, layer: str) -> dict[str, str]:
    info = pyogrio.read_info(path, layer=layer)
    return dict(zip(info["fields"].tolist(), info["dtypes"].tolist(), strict=True))


def test_registry_layers_and_field_types(gpkg: Path, engine: Engine) -> None:
    assert _layers(gpkg) == {
        "road_network": "Polygon",
        "road_segment": "LineString",
        "camera": "Point",
        "coverage": "Polygon",
        "import_batch": None,
        "layer_styles": None,
    }
    camera = _dtypes(gpkg, "camera")
    for column in ("pan_min_deg", "pan_max_deg", "mount_height_m", "heading_deg", "fov_deg",
                   "lon", "lat"):  # fmt: skip
        assert camera[column] == "float64", column
    assert camera["resolution_px_h"] in ("int32", "int64")
    assert camera["sigungu_code"] == "object"
    cameras = pyogrio.read_dataframe(gpkg, layer="camera")
    assert "source_url" not in cameras.columns
    # lon/lat columns are the point's own position
    lonlat = transform_geometry(
        np.asarray(cameras.geometry), source=cameras.crs, target="EPSG:4326"
    )
    assert np.allclose(shapely.get_x(lonlat), cameras["lon"], atol=1e-6)
    assert np.allclose(shapely.get_y(lonlat), cameras["lat"], atol=1e-6)
    # the stored 시군구 are those of the point
    sample = cameras.sample(50, random_state=1)
    located = locate_lonlat(sample["lon"], sample["lat"])
    assert sample["sigungu_code"].tolist() == located.sigungu_code.tolist()

    coverage = pyogrio.read_dataframe(gpkg, layer="coverage")
    assert _dtypes(gpkg, "coverage")["range_m"] == "float64"
    assert sorted(coverage["level"].unique()) == sorted(DORI_PX_PER_M)
    assert len(coverage) == 4 * len(cameras)
    ranges = coverage.pivot(index="camera_id", columns="level", values="range_m")
    assert (ranges["detect"] >= ranges["observe"]).all()
    assert (ranges["observe"] >= ranges["recognise"]).all()
    assert (ranges["recognise"] >= ranges["identify"]).all()
    assert (ranges["detect"] > ranges["identify"]).any()
    # the observe polygon is the one PostGIS stores
    with engine.connect() as conn:
        stored = pd.read_sql(
            "SELECT camera_id, range_m FROM coverage WHERE level = 'observe'", conn
        ).set_index("camera_id")["range_m"]
    assert np.allclose(ranges["observe"].loc[stored.index], stored, atol=1e-6)


def _fields_in(expression: str) -> set[str]:
    return set(expression.split(QGIS_FIELD_REF)[1::2])


def test_stored_layer_styles_read_back(gpkg: Path) -> None:
    styles = pyogrio.read_dataframe(gpkg, layer="layer_styles")
    assert sorted(styles["f_table_name"]) == ["camera", "coverage"]
    assert styles["useAsDefault"].astype(bool).all()
    assert set(styles["f_geometry_column"]) == {"geom"}
    by_layer = styles.set_index("f_table_name")
    for layer in ("camera", "coverage"):
        qml = ET.fromstring(by_layer.loc[layer, "styleQML"].split("\n", 1)[1])
        renderer = qml.find("renderer-v2")
        assert renderer is not None
        assert renderer.get("type") == "RuleRenderer"
        columns = set(_dtypes(gpkg, layer))
        rules = renderer.findall("rules/rule")
        symbols = {s.get("name") for s in renderer.findall("symbols/symbol")}
        assert {r.get("symbol") for r in rules} == symbols
        for rule in rules:
            assert _fields_in(rule.get("filter", "")) <= columns
        sld = ET.fromstring(by_layer.loc[layer, "styleSLD"].encode())
        assert sld.tag.endswith("StyledLayerDescriptor")
    camera = ET.fromstring(by_layer.loc["camera", "styleQML"].split("\n", 1)[1])
    rotated = [o.get("value") for o in camera.iter("Option") if o.get("name") == "field"]
    assert rotated == ["heading_deg"]  # the arrows turn with the heading
    coverage = ET.fromstring(by_layer.loc["coverage", "styleQML"].split("\n", 1)[1])
    filters = [r.get("filter") for r in coverage.iter("rule")]
    for level in DORI_PX_PER_M:
        for confidence in ("high", "low"):
            assert any(f"'{level}'" in f and f"'{confidence}'" in f for f in filters)
    fills = {o.get("value") for o in coverage.iter("Option") if o.get("name") == "style"}
    assert fills == {"solid", "b_diagonal"}  # low confidence hatched


def test_output_crs_is_a_choice(registry_url: URL, tmp_path: Path, gpkg: Path) -> None:
    path = tmp_path / "central_belt.gpkg"
    env = database_env(registry_url, load_settings())
    result = CliRunner().invoke(main, ["export", "gpkg", str(path), "--crs", "5186"], env=env)
    assert result.exit_code == 0, result.output
    assert "EPSG:5186" in result.output
    cameras = pyogrio.read_dataframe(path, layer="camera")
    assert cameras.crs.to_epsg() == 5186
    assert pyogrio.read_info(path, layer="coverage")["crs"] == "EPSG:5186"
    back = cameras.to_crs("EPSG:4326")
    assert np.allclose(back.geometry.x, cameras["lon"], atol=1e-6)
    wrong = CliRunner().invoke(main, ["export", "gpkg", str(path), "--crs", "EPSG:99999"], env=env)
    assert wrong.exit_code == 1
    assert "unknown CRS" in wrong.output
    assert "Traceback" not in wrong.output


def test_drill_files(registry_url: URL, engine: Engine, base_settings: Settings,
                     tmp_path: Path) -> None:  # fmt: skip
    sites = cctv_sites_on_roads(registry_url, every=40)[:12]
    options = DrillOptions(cordon=CordonOptions(radius_m=400), best=3)
    with engine.begin() as conn:
        drill_id, _ = store.ensure_drill(conn, "export_check", options=options.as_dict())
        names, lon, lat = zip(*sites, strict=True)
        store.add_scenarios(conn, drill_id, names, lon, lat)
        pending = store.pending_scenarios(conn, drill_id)
        registry = load_snapshot(
            conn, crs=base_settings.working_crs, max_range_m=base_settings.max_coverage_range_m
        )
        batch = list(pending.itertuples(index=False, name=None))
        store.save_results(conn, drill_id, run_batch(registry, batch, options.as_dict()))
        info = store.get_drill(conn, "export_check")
    assert info.approaches > 20
    env = database_env(registry_url, load_settings())

    def export(name: str, *extra: str) -> Path:
        path = tmp_path / name
        result = CliRunner().invoke(main, ["drills", "export", "export_check", str(path), *extra],
                                    env=env)  # fmt: skip
        if result.exc_info and result.exit_code:
            import traceback

            traceback.print_exception(*result.exc_info)
        assert result.exit_code == 0, result.output
        return path

    gpkg = export("drill.gpkg", "--crs", "EPSG:5179")
    assert _layers(gpkg) == {
        "scenario": "Point",
        "approach": "Point",
        "approach_camera": None,
        "cordon": "MultiLineString",
        "watch_stretch": "MultiLineString",
        "layer_styles": None,
    }
    approach = pyogrio.read_dataframe(gpkg, layer="approach")
    assert approach.crs.to_epsg() == 5179
    assert len(approach) == info.approaches
    assert approach["sigungu_code"].str.fullmatch(r"\d{5}").all()
    assert _dtypes(gpkg, "approach")["blind"] == "bool"
    cams = pyogrio.read_dataframe(gpkg, layer="approach_camera")
    assert _dtypes(gpkg, "approach_camera")["camera_id"] == "int64"
    assert len(cams) == approach["n_cameras"].sum()
    best = cams[cams["rank"] == 1].set_index(["scenario", "approach"])["camera_id"]
    watched = approach[approach["n_cameras"] > 0].set_index(["scenario", "approach"])
    assert best.loc[watched.index].tolist() == watched["best_camera"].tolist()
    cordon = pyogrio.read_dataframe(gpkg, layer="cordon")
    stretches = pyogrio.read_dataframe(gpkg, layer="watch_stretch")
    assert len(cordon) == info.done
    assert len(stretches) == info.approaches
    # each entry point lies on its own watch stretch
    joined = approach.merge(
        pd.DataFrame(stretches.drop(columns="geometry").assign(line=stretches.geometry.values)),
        on=["scenario", "approach"],
    )
    assert len(joined) == info.approaches
    assert (shapely.distance(joined.geometry.values, joined["line"].values) < 1.0).all()
    styles = pyogrio.read_dataframe(gpkg, layer="layer_styles")
    assert set(styles["f_table_name"]) == {"approach", "cordon", "watch_stretch"}

    csv_path = export("drill.csv")
    cameras_csv = csv_path.with_name("drill_cameras.csv")
    for path in (csv_path, cameras_csv):
        assert path.read_text(encoding="utf-8").startswith(UTF8_BOM)
    table = pd.read_csv(csv_path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert "cameras" not in table.columns  # no "20063;20071" strings
    assert set(table["main"]) - {""} <= {"true", "false"}
    assert set(table["scenario_incomplete"]) - {""} <= {"true", "false"}
    camera_rows = pd.read_csv(cameras_csv, encoding="utf-8-sig", dtype=str)
    assert set(camera_rows["facing"]) <= {"true", "false"}
    assert len(camera_rows) == len(cams)

    geojson = json.loads(export("drill.geojson").read_text())
    assert "crs" not in geojson
    assert len(geojson["features"]) == info.approaches
    x, y = geojson["features"][0]["geometry"]["coordinates"]
    assert 124 < x < 132
    assert 33 < y < 39
    assert isinstance(geojson["features"][0]["properties"]["blind"], bool)
