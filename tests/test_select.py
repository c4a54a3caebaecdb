"""Which cameras watch the approaches: the R-tree path against a loop over every camera."""

from __future__ import annotations

import itertools
import json
import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from spatial_helpers import seoul_segments

from geo.answer import answer_to_geojson, format_answer_table
from geo.approaches import find_approaches
from geo.cordon import CordonOptions
from geo.coverage import DORI_LEVELS, KIND_DEFAULTS
from geo.crs import lonlat_to_xy, xy_to_lonlat
from geo.domain import DORI_PX_PER_M
from geo.errors import OutsideCoverageArea
from geo.index import build_coverage_index, camera_coverage
from geo.network import build_road_network
from geo.select import cameras_watching

GWANGHWAMUN = (126.9769, 37.5759)


@pytest.fixture(scope="module")
def network():
    return build_road_network(seoul_segments())


def random_cameras(seed: int, centre_xy: tuple[float, float], spread_m: float, n: int = 400):
    """Cameras of every kind scattered around a point, with known parameters."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * np.pi, n)
    dist = spread_m * np.sqrt(rng.uniform(0, 1, n))
    lon, lat = xy_to_lonlat(
        centre_xy[0] + dist * np.sin(angle), centre_xy[1] + dist * np.cos(angle)
    )
    kind = rng.choice(["fixed", "fixed", "ptz", "dome"], n)
    heading = rng.uniform(0, 360, n)
    heading[(kind == "fixed") & (rng.uniform(0, 1, n) < 0.25)] = np.nan
    heading[kind != "fixed"] = np.nan
    fov = np.where(rng.uniform(0, 1, n) < 0.3, np.nan, rng.uniform(20, 120, n))
    fov[(kind == "dome") & (rng.uniform(0, 1, n) < 0.5)] = 360.0
    pan_limited = (kind == "ptz") & (rng.uniform(0, 1, n) < 0.4)
    pan_min = np.where(pan_limited, rng.uniform(0, 360, n), np.nan)
    pan_max = np.where(pan_limited, np.mod(pan_min + rng.uniform(10, 300, n), 360), np.nan)
    pixels = rng.choice([720.0, 1280.0, 1920.0, 2560.0, 3840.0, np.nan], n)
    status = rng.choice(["online"] * 17 + ["offline"] * 2 + ["retired"], n)
    source = np.where(np.isnan(heading), "unknown", rng.choice(["surveyed", "inferred"], n))
    return pd.DataFrame(
        {
            "id": rng.permutation(n) + 1000,
            "lon": lon,
            "lat": lat,
            "kind": kind,
            "heading_deg": heading,
            "heading_source": source,
            "fov_deg": fov,
            "pan_min_deg": pan_min,
            "pan_max_deg": pan_max,
            "resolution_px_h": pd.array(
                [None if np.isnan(p) else int(p) for p in pixels], dtype="Int64"
            ),
            "status": status,
        }
    )


def _lens_fov(kind: str, fov: float) -> float:
    default = KIND_DEFAULTS[kind][1]
    if not (0 < fov <= 360):
        return default
    return default if kind != "fixed" and fov >= 180 else fov


def brute_watchers(cameras: pd.DataFrame, approaches, level: str):
    """(approach, camera id) → (rank, level, facing, online), by a loop over every camera."""
    rows = []
    cov = camera_coverage(
        cameras["lon"], cameras["lat"], kind=cameras["kind"], heading_deg=cameras["heading_deg"],
        fov_deg=cameras["fov_deg"], resolution_px_h=cameras["resolution_px_h"],
        pan_min_deg=cameras["pan_min_deg"], pan_max_deg=cameras["pan_max_deg"],
        heading_source=cameras["heading_source"], level=level,
    )  # fmt: skip
    for i, cam in enumerate(cameras.itertuples()):
        if cam.status == "retired":
            continue
        polygon = cov.polygons[i]
        point = shapely.Point(cov.x[i], cov.y[i])
        pixels = KIND_DEFAULTS[cam.kind][0] if pd.isna(cam.resolution_px_h) else cam.resolution_px_h
        lens = _lens_fov(cam.kind, cam.fov_deg)
        width = 2 * math.tan(math.radians(lens) / 2) if lens < 180 else math.radians(lens)
        for j in range(len(approaches)):
            stretch = approaches.stretch[j]
            if not polygon.intersects(stretch):
                continue
            d = point.distance(polygon.intersection(stretch))
            density = math.inf if d == 0 else pixels / (width * d)
            reached = max(
                [i for i, name in enumerate(DORI_LEVELS) if DORI_PX_PER_M[name] <= density]
                + [DORI_LEVELS.index(level)]
            )
            target = (approaches.bearing_deg[j] + 180) % 360
            if cam.kind == "fixed":
                facing = not math.isnan(cam.heading_deg) and (
                    abs((cam.heading_deg - target + 180) % 360 - 180) <= 60
                )
            elif math.isnan(cam.pan_min_deg):
                facing = True
            else:
                facing = any(
                    abs((h - target + 180) % 360 - 180) <= 60
                    for h in np.arange(0, (cam.pan_max_deg - cam.pan_min_deg) % 360 + 0.01, 0.01)
                    + cam.pan_min_deg
                )
            distance = math.dist((cov.x[i], cov.y[i]), (approaches.x[j], approaches.y[j]))
            online = cam.status == "online"
            rows.append((j, not online, -reached, not facing, distance, cam.id, reached, facing))
    rows.sort()
    result, rank, last = {}, 0, None
    for j, offline, _, _, _, cam_id, reached, facing in rows:
        rank = rank + 1 if j == last else 1
        last = j
        result[(j, int(cam_id))] = (rank, DORI_LEVELS[reached], facing, not offline)
    blind = [not any(k[0] == j and v[3] for k, v in result.items()) for j in range(len(approaches))]
    return result, blind


def as_dict(watchers):
    return {
        (int(a), int(c)): (int(r), str(lv), bool(f), bool(o))
        for a, c, r, lv, f, o in zip(
            watchers.approach,
            watchers.camera_id,
            watchers.rank,
            watchers.level,
            watchers.facing,
            watchers.online,
            strict=True,
        )
    }


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 2**32 - 1),
    dlon=st.floats(-0.015, 0.015),
    dlat=st.floats(-0.012, 0.012),
    radius=st.floats(80, 600),
    mode=st.sampled_from(["network", "euclidean"]),
    direction=st.sampled_from(["inbound", "outbound", "both"]),
    level=st.sampled_from(DORI_LEVELS),
)
def test_watchers_match_brute_force(network, seed, dlon, dlat, radius, mode, direction, level):
    incident = (GWANGHWAMUN[0] + dlon, GWANGHWAMUN[1] + dlat)
    try:
        cordon = find_approaches(
            network, incident, CordonOptions(radius_m=radius, mode=mode, direction=direction)
        )
    except OutsideCoverageArea:
        assume(False)
    cameras = random_cameras(seed, (cordon.snap.x, cordon.snap.y), radius + 150)
    index = build_coverage_index(cameras)
    watchers = cameras_watching(index, cordon, level=level)
    expected, blind = brute_watchers(cameras, cordon.approaches, level)
    assert as_dict(watchers) == expected
    assert watchers.blind.tolist() == blind


@pytest.fixture(scope="module")
def gwanghwamun(network):
    cordon = find_approaches(network, GWANGHWAMUN, CordonOptions(radius_m=400, direction="both"))
    cameras = random_cameras(7, (cordon.snap.x, cordon.snap.y), 550, n=600)
    return cordon, cameras


def test_offline_cameras_rank_last_and_do_not_unblind(gwanghwamun):
    cordon, cameras = gwanghwamun
    index = build_coverage_index(cameras)
    w = cameras_watching(index, cordon, level="detect")
    assert len(w) > 0
    for j in np.unique(w.approach):
        mine = w.approach == j
        online = w.online[mine][np.argsort(w.rank[mine])]
        assert list(online) == sorted(online, reverse=True)  # online first
        assert w.blind[j] == (not online.any())
    all_offline = cameras.assign(status=cameras["status"].replace("online", "offline"))
    w_off = cameras_watching(build_coverage_index(all_offline), cordon, level="detect")
    assert len(w_off) == len(w)
    assert w_off.blind.all()
    assert not w_off.online.any()


def test_stronger_levels_watch_a_subset(gwanghwamun):
    cordon, cameras = gwanghwamun
    index = build_coverage_index(cameras)
    pairs = {
        level: set(
            zip(
                *(
                    cameras_watching(index, cordon, level=level).__dict__[k]
                    for k in ("approach", "camera_id")
                ),
                strict=True,
            )
        )
        for level in DORI_LEVELS
    }
    for weaker, stronger in itertools.pairwise(DORI_LEVELS):
        assert pairs[stronger] <= pairs[weaker]
    assert pairs["detect"] > pairs["identify"]


def test_facing_camera_outranks_a_closer_one_looking_away(network):
    cordon = find_approaches(network, GWANGHWAMUN, CordonOptions(radius_m=300))
    a = cordon.approaches
    j = int(np.argmax(a.main))
    # two fixed cameras 12 m to the side of the entry point, both covering it at one level;
    # one looks at the oncoming traffic, the other (closer) along with it
    bearing = math.radians(a.bearing_deg[j])
    side = (math.cos(bearing), -math.sin(bearing))  # to the left of travel
    xs = [a.x[j] + 12 * side[0], a.x[j] + 10 * side[0]]
    ys = [a.y[j] + 12 * side[1], a.y[j] + 10 * side[1]]
    lon, lat = xy_to_lonlat(xs, ys)
    toward_traffic = (a.bearing_deg[j] + 180) % 360
    cams = pd.DataFrame(
        {"id": [1, 2], "lon": lon, "lat": lat, "kind": ["fixed", "fixed"],
         "heading_deg": [toward_traffic, a.bearing_deg[j]], "fov_deg": [120.0, 120.0],
         "resolution_px_h": [1920, 1920]}
    )  # fmt: skip
    w = cameras_watching(build_coverage_index(cams), cordon, level="detect")
    mine = w.approach == j
    assert dict(zip(w.camera_id[mine], w.rank[mine], strict=True)) == {1: 1, 2: 2}
    assert dict(zip(w.camera_id[mine], w.facing[mine], strict=True)) == {1: True, 2: False}


def test_index_from_xy_or_geodataframe_gives_the_same_answer(gwanghwamun):
    cordon, cameras = gwanghwamun
    x, y = lonlat_to_xy(cameras["lon"], cameras["lat"])
    from_xy = cameras.drop(columns=["lon", "lat"]).assign(x=x, y=y)
    from_gdf = gpd.GeoDataFrame(
        cameras.drop(columns=["lon", "lat"]),
        geometry=gpd.points_from_xy(x, y),
        crs="EPSG:5179",
    )
    reference = as_dict(cameras_watching(build_coverage_index(cameras), cordon, level="detect"))
    assert reference
    for table in (from_xy, from_gdf):
        assert as_dict(cameras_watching(build_coverage_index(table), cordon, level="detect")) == (
            reference
        )


def test_no_cameras_means_every_approach_is_blind(network):
    cordon = find_approaches(network, GWANGHWAMUN, CordonOptions(radius_m=300))
    far = pd.DataFrame({"lon": [127.5], "lat": [36.0], "kind": ["ptz"]})
    w = cameras_watching(build_coverage_index(far), cordon)
    assert len(w) == 0
    assert w.blind.all()
    assert len(w.blind) == len(cordon.approaches)


def test_answer_as_geojson_and_table(network, gwanghwamun):
    cordon, cameras = gwanghwamun
    watchers = cameras_watching(build_coverage_index(cameras), cordon, level="observe")
    collection = answer_to_geojson(cordon, watchers, network=network)
    json.dumps(collection)  # serialisable as is
    assert collection["type"] == "FeatureCollection"
    roles = [f["properties"]["role"] for f in collection["features"]]
    assert roles.count("incident") == roles.count("cordon") == 1
    assert roles.count("approach") == roles.count("watch_stretch") == len(cordon.approaches)
    assert roles.count("camera") == len(watchers)
    for feature in collection["features"]:
        coords = shapely.get_coordinates(shapely.from_geojson(json.dumps(feature["geometry"])))
        assert np.all((coords[:, 0] > 126) & (coords[:, 0] < 128))  # lon first
        assert np.all((coords[:, 1] > 37) & (coords[:, 1] < 38))
    blind = [
        f["properties"]["blind"]
        for f in collection["features"]
        if f["properties"]["role"] == "approach"
    ]
    assert blind == watchers.blind.tolist()
    circle = answer_to_geojson(
        find_approaches(network, GWANGHWAMUN, CordonOptions(radius_m=300, mode="euclidean")),
        network=network,
    )["features"][1]["geometry"]
    assert circle["type"] == "Polygon"
    assert shapely.Polygon(circle["coordinates"][0]).exterior.is_ccw  # RFC 7946 winding

    table = format_answer_table(cordon, watchers, network=network)
    assert "network cordon 400 m (drive, both)" in table
    assert table.count("\nA") >= len(cordon.approaches)
    if watchers.blind.any():
        assert "BLIND" in table
