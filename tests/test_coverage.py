"""Camera coverage: DORI ranges and coverage polygons against the geometry they stand for."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.coverage import (
    ARC_TOLERANCE_M,
    arc_step_deg,
    coverage_polygons,
    coverage_spans,
    dori_level_index,
    dori_range_m,
    fill_camera_defaults,
    sector_polygons,
)
from geo.crs import north_azimuth_deg
from geo.errors import InvalidInput
from geo.index import camera_coverage, sector_bounds


def test_dori_range_follows_iec_62676_4():
    # 1920 px over a 90° lens: 1920 / (2·tan 45°·px_per_m)
    got = [float(dori_range_m(1920, 90.0, level=lv)[()]) for lv in ("observe", "recognise")]
    assert got == pytest.approx([15.36, 7.68])
    assert float(dori_range_m(1920, 90.0, level="detect")[()]) == pytest.approx(38.4)
    assert float(dori_range_m(1920, 90.0, level="identify")[()]) == pytest.approx(3.84)
    # capped, and the cap is configurable
    assert float(dori_range_m(3840, 5.0, level="detect")[()]) == 200.0
    assert float(dori_range_m(3840, 5.0, level="detect", max_range_m=80)[()]) == 80.0
    # a fixed panoramic lens spreads its pixels over the circumference
    assert float(dori_range_m(2560, 360.0, level="detect")[()]) == pytest.approx(
        2560 / (2 * math.pi * 25)
    )
    assert dori_level_index(1920, 90.0, [1.0, 7.0, 15.0, 38.0, 39.0]).tolist() == [3, 2, 1, 0, -1]


def test_invalid_level_kind_or_lens_is_refused():
    with pytest.raises(InvalidInput, match="unknown DORI level"):
        dori_range_m(1920, 90.0, level="recognize-ish")
    with pytest.raises(InvalidInput, match="unknown camera kind"):
        fill_camera_defaults(["bullet"], [1920], [90.0])
    with pytest.raises(InvalidInput, match="fov_deg"):
        dori_range_m(1920, 0.0)


def test_defaults_by_kind_and_the_all_round_dome():
    pixels, fov = fill_camera_defaults(
        ["fixed", "ptz", "dome", "dome", "fixed"],
        [np.nan, 0, 1280, np.nan, 2560],
        [np.nan, np.nan, 360.0, 75.0, 360.0],
    )
    assert pixels.tolist() == [1920, 1920, 1280, 1920, 2560]
    # a dome listed at 360° looks all round: its range comes from the default zoom lens
    assert fov.tolist() == [60.0, 30.0, 30.0, 75.0, 360.0]


def _polar(cx, cy, azimuth_deg, distance):
    a = math.radians(azimuth_deg)
    return cx + distance * math.sin(a), cy + distance * math.cos(a)


@settings(max_examples=50, deadline=None)
@given(
    heading=st.floats(0, 359.99),
    fov=st.floats(1, 359),
    radius=st.floats(1, 200),
    probes=st.lists(st.tuples(st.floats(-180, 180), st.floats(0, 1.5)), min_size=20, max_size=20),
)
def test_fixed_sector_is_the_field_of_view(heading, fov, radius, probes):
    polys, confidence = coverage_polygons(
        [500.0], [800.0], [heading], [fov], [radius], kind=["fixed"]
    )
    poly = polys[0]
    assert poly.is_valid
    assert confidence.tolist() == ["high"]
    step = math.radians(float(arc_step_deg(radius)))
    chord = math.cos(step / 2)  # the arc is drawn with chords
    for off, frac in probes:
        x, y = _polar(500.0, 800.0, heading + off, frac * radius)
        point = shapely.Point(x, y)
        if abs(off) < fov / 2 - 0.5 and 0.01 < frac < chord - 0.01:
            assert poly.contains(point)
        elif abs(off) > fov / 2 + 0.5 or frac > 1.01:
            assert not poly.contains(point)
    # Chords cut off at most the circular segments: area ratio sin(step)/step at worst.
    inscribed = math.sin(step) / step
    assert poly.area == pytest.approx(math.pi * radius**2 * fov / 360, rel=1 - inscribed + 0.002)


def test_heading_unknown_gives_a_low_confidence_disk_never_a_sector():
    polys, confidence = coverage_polygons(
        [0.0, 0.0, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0],
        [np.nan, 45.0, np.nan, 45.0],
        [60.0, 60.0, 60.0, 60.0],
        [20.0, 20.0, 20.0, 20.0],
        kind=["fixed", "fixed", "ptz", "fixed"],
        heading_source=["unknown", "surveyed", "unknown", "inferred"],
    )
    assert confidence.tolist() == ["low", "high", "high", "low"]
    disk = math.pi * 400
    ratios = [p.area / disk for p in polys]
    # A disk's chords stay within ARC_TOLERANCE_M of the circle: it loses under 2·tol/r of its area.
    for i in (0, 2):
        assert 1 - 2 * ARC_TOLERANCE_M / 20 < ratios[i] < 1
    assert [ratios[1], ratios[3]] == pytest.approx([1 / 6, 1 / 6], abs=0.002)


def test_pan_limited_sector_is_widened_by_half_the_lens_on_each_side():
    start, span, _ = coverage_spans(
        [np.nan, np.nan, np.nan],
        [40.0, 40.0, 40.0],
        kind=["ptz", "ptz", "dome"],
        pan_min_deg=[350.0, 0.0, np.nan],
        pan_max_deg=[20.0, 340.0, np.nan],
    )
    assert start.tolist() == [330.0, 0.0, 0.0]
    assert span.tolist() == [70.0, 360.0, 360.0]  # 340° of pan + 40° lens: all round
    poly = coverage_polygons(
        [0.0],
        [0.0],
        [np.nan],
        [40.0],
        [50.0],
        kind=["ptz"],
        pan_min_deg=[350.0],
        pan_max_deg=[20.0],
    )[0][0]
    assert poly.contains(shapely.Point(*_polar(0, 0, 335, 30)))  # 350 - 15
    assert poly.contains(shapely.Point(*_polar(0, 0, 35, 30)))  # 20 + 15
    assert not poly.contains(shapely.Point(*_polar(0, 0, 180, 30)))


def test_vectorised_polygons_equal_one_at_a_time():
    rng = np.random.default_rng(3)
    n = 200
    args = {
        "x": rng.uniform(0, 1000, n),
        "y": rng.uniform(0, 1000, n),
        "heading_deg": np.where(rng.uniform(size=n) < 0.2, np.nan, rng.uniform(0, 360, n)),
        "fov_deg": np.where(rng.uniform(size=n) < 0.2, np.nan, rng.uniform(5, 360, n)),
        "range_m": rng.uniform(5, 200, n),
    }
    kind = rng.choice(["fixed", "ptz", "dome"], n)
    pan_min = np.where(rng.uniform(size=n) < 0.3, rng.uniform(0, 360, n), np.nan)
    pan_max = np.mod(pan_min + 90, 360)
    together, conf = coverage_polygons(**args, kind=kind, pan_min_deg=pan_min, pan_max_deg=pan_max)
    for i in range(n):
        alone, c = coverage_polygons(
            *(args[k][i : i + 1] for k in ("x", "y", "heading_deg", "fov_deg", "range_m")),
            kind=kind[i : i + 1],
            pan_min_deg=pan_min[i : i + 1],
            pan_max_deg=pan_max[i : i + 1],
        )
        assert shapely.equals_exact(alone[0], together[i], tolerance=0)
        assert c[0] == conf[i]
    assert shapely.is_valid(together).all()


def test_sector_bounds_hold_every_polygon_tightly():
    rng = np.random.default_rng(5)
    n = 500
    x, y = rng.uniform(0, 1e3, n), rng.uniform(0, 1e3, n)
    start, span, radius = rng.uniform(0, 360, n), rng.uniform(1, 360, n), rng.uniform(1, 200, n)
    boxes = sector_bounds(x, y, start, span, radius)
    polys = shapely.bounds(sector_polygons(x, y, start, span, radius))
    assert np.all(polys[:, :2] >= boxes[:, :2] - 1e-9)
    assert np.all(polys[:, 2:] <= boxes[:, 2:] + 1e-9)
    slack = radius * (1 - np.cos(np.radians(arc_step_deg(radius)) / 2))
    assert np.all(np.abs(polys - boxes).max(axis=1) <= slack + 1e-9)


def test_camera_coverage_turns_compass_headings_to_grid_azimuths():
    lon, lat = 126.5, 37.5  # a degree west of UTM-K's central meridian
    cov = camera_coverage(
        [lon], [lat], kind=["fixed"], heading_deg=[0.0], fov_deg=[10.0], resolution_px_h=[3840]
    )
    north = float(north_azimuth_deg([lon], [lat])[0])
    assert north > 0.5
    assert cov.grid_heading_deg[0] == pytest.approx(north)
    # the sector's axis points at grid azimuth `north`
    centroid = cov.polygons[0].centroid
    axis = math.degrees(math.atan2(centroid.x - cov.x[0], centroid.y - cov.y[0]))
    assert axis == pytest.approx(north, abs=1e-6)
