"""Files that open right elsewhere (geo/export_files.py): CSV with a BOM and one boolean
spelling, RFC 7946 GeoJSON from any CRS, the output CRS checked."""

from __future__ import annotations

import io
import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from geo.errors import InvalidInput
from geo.export_files import (
    CSV_FALSE,
    CSV_TRUE,
    UTF8_BOM,
    csv_text,
    output_crs,
    write_csv,
    write_geojson,
)


def test_csv_has_a_bom_and_one_boolean_spelling(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "road": ["율곡로", "사직로", "세종대로"],
            "main": [True, False, True],
            "incomplete": pd.array([True, None, False], dtype="boolean"),
            "blind": [True, None, False],
            "n": [1, 2, 3],
        }
    )
    path = tmp_path / "t.csv"
    write_csv(frame, path)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    # Excel-compatible: the Hangul round-trips through the BOM-aware decoder
    back = pd.read_csv(path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert back["road"].tolist() == ["율곡로", "사직로", "세종대로"]
    assert back["main"].tolist() == [CSV_TRUE, CSV_FALSE, CSV_TRUE]
    assert back["incomplete"].tolist() == [CSV_TRUE, "", CSV_FALSE]
    assert back["blind"].tolist() == [CSV_TRUE, "", CSV_FALSE]
    assert back["n"].tolist() == ["1", "2", "3"]
    buf = io.StringIO()
    write_csv(frame, buf)
    assert buf.getvalue().startswith(UTF8_BOM)
    assert buf.getvalue().encode("utf-8") == raw.replace(b"\r\n", b"\n")
    text = csv_text(["id", "main"], [["A1", True], ["A2", False]])
    assert text == f"{UTF8_BOM}id,main\r\nA1,true\r\nA2,false\r\n"


def test_geojson_is_rfc7946_from_any_crs(tmp_path: Path) -> None:
    clockwise = shapely.Polygon([(0, 0), (0, 100), (100, 100), (100, 0)])  # metres, EPSG:5179
    assert not clockwise.exterior.is_ccw
    frame = gpd.GeoDataFrame(
        {"name": ["광화문"], "main": [True]},
        geometry=[shapely.affinity.translate(clockwise, 953000, 1954000)],
        crs="EPSG:5179",
    )
    path = tmp_path / "t.geojson"
    write_geojson(frame, path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert "crs" not in doc
    assert "name" not in doc
    ring = doc["features"][0]["geometry"]["coordinates"][0]
    assert shapely.LinearRing(ring).is_ccw  # the right-hand rule
    lon, lat = ring[0]
    assert 126 < lon < 128
    assert 37 < lat < 38
    assert all(len(str(v).split(".")[-1]) <= 7 for v in ring[0])
    assert doc["features"][0]["properties"] == {"name": "광화문", "main": True}


def test_output_crs() -> None:
    assert output_crs("EPSG:5186") == "EPSG:5186"
    assert output_crs(" 4326 ") == "EPSG:4326"
    with pytest.raises(InvalidInput) as unknown:
        output_crs("EPSG:99999")
    assert unknown.value.details == {"crs": "EPSG:99999"}
