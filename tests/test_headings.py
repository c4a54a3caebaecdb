"""Heading inference: one-way roads give a heading facing the traffic; two-way roads only an axis."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.headings import MAX_ROAD_DISTANCE_M, infer_headings
from geo.ingest.cctv import read_cctv
from geo.ingest.osm import read_road_network
from geo.network import build_road_network
from geo.store.headings import infer_registry_headings
from geo.store.imports import import_cameras, import_road_network


def _net():  # type: ignore[no-untyped-def]
    roads = pd.DataFrame(
        {
            "u": [1, 3],
            "v": [2, 4],
            "oneway": [True, False],
            # a one-way street running east, a two-way one running north, 300 m apart
            "geometry": [
                shapely.LineString([(0, 0), (200, 0)]),
                shapely.LineString([(500, 0), (500, 200)]),
            ],
        }
    )
    return build_road_network(roads, segments_crs="EPSG:5179")


def test_one_way_faces_oncoming_traffic_two_way_keeps_both_senses() -> None:
    out = infer_headings(_net(), [100.0, 510.0, 300.0], [8.0, 100.0, 100.0])
    assert out.senses.tolist() == [1, 2, 0]
    assert out.heading_deg[0] == pytest.approx(270.0)  # traffic goes east: the camera looks west
    assert out.axis_deg[1] in (pytest.approx(0.0), pytest.approx(180.0))
    assert np.isnan(out.heading_deg[1])
    assert np.isnan(out.heading_deg[2])
    assert out.confidence[1] == 0
    assert out.confidence[2] == 0
    assert 0.35 <= out.confidence[0] <= 0.7


def test_confidence_falls_with_distance_and_stops_at_the_limit() -> None:
    ys = [0.5, 10.0, MAX_ROAD_DISTANCE_M - 0.1, MAX_ROAD_DISTANCE_M + 1]
    out = infer_headings(_net(), [100.0] * 4, ys)
    assert out.senses.tolist() == [1, 1, 1, 0]
    assert out.confidence[0] > out.confidence[1] > out.confidence[2] > 0


@pytest.mark.db
def test_registry_inference_adds_up_and_redraws_coverage(db: Connection, data_dir: Path) -> None:
    roads = data_dir / "seoul_central_drive.graphml"
    import_road_network(db, read_road_network(roads), path=roads)
    cctv = data_dir / "seoul_cctv_2018.csv"
    import_cameras(db, read_cctv(cctv), path=cctv)
    report = infer_registry_headings(db, crs="EPSG:5179")
    assert report.looked_at == report.inferred + report.both_senses + report.no_road
    assert report.inferred > 50
    assert report.both_senses > 100
    rows = db.execute(
        text(
            "SELECT c.heading_source, c.heading_deg IS NOT NULL AS has_heading,"
            " (c.provenance->'heading_inference'->>'senses')::int AS senses,"
            " v.confidence, ST_Area(v.geom) / (pi() * v.range_m ^ 2) AS share"
            " FROM camera c JOIN coverage v ON v.camera_id = c.id"
            " WHERE c.provenance ? 'heading_inference'"
        )
    ).all()
    assert len(rows) == report.inferred + report.both_senses
    for source, has_heading, senses, confidence, share in rows:
        if senses == 1:  # a sector (60° by default), marked low confidence
            assert (source, has_heading, confidence) == ("inferred", True, "low")
            assert share < 0.5
        else:  # still a disk: the heading stays unknown
            assert (source, has_heading, confidence) == ("unknown", False, "low")
            assert share > 0.9
    again = infer_registry_headings(db, crs="EPSG:5179")
    assert again.inferred == 0
    assert again.both_senses == report.both_senses
