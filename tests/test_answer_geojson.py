"""geo.answer's GeoJSON is exactly what it was when built through shapely.to_geojson + json.loads.

The reference below is the earlier implementation, kept as the oracle: every geometry written by
GEOS and parsed back, every property passed through one ``_clean``. The faster one must give the
same document — same values and same Python types (an ``np.float64`` left in would pass ``==``
but not every JSON encoder) — on real answers: the central-Seoul roads and the Seoul 2018 CCTV
registry, at random points, every mode, direction and travel, several radii and DORI levels.
One exception: a euclidean cordon's circle, a regular polygon, is written vertex by vertex (its
ring as drawn, on the 1e-7° grid) where GEOS's precision reduction may start the ring elsewhere.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import orjson
import pytest
import shapely
from spatial_helpers import DATA_DIR, seoul_segments

from geo.admin_locate import locate_admin_units
from geo.answer import CIRCLE_SIDES, answer_to_geojson, approach_label, cordon_geometry
from geo.approaches import Cordon, find_approaches
from geo.cordon import CordonOptions
from geo.crs import geometry_to_lonlat
from geo.domain import DORI_PX_PER_M
from geo.errors import GilmokError
from geo.incident import answer_incident
from geo.index import CoverageIndex, build_coverage_index
from geo.ingest.cctv import read_cctv
from geo.network import RoadNetwork, build_road_network
from geo.select import Watchers

JSON_TYPES = (dict, list, str, int, float, bool, type(None))


def _reference_geometries(geoms: Any, crs: str) -> list[dict[str, Any]]:
    lonlat = geometry_to_lonlat(geoms, crs=crs)
    lonlat = shapely.orient_polygons(shapely.set_precision(lonlat, 1e-7))
    return [json.loads(text) for text in shapely.to_geojson(lonlat)]


def _reference_circle(cordon: Cordon, network: RoadNetwork) -> dict[str, Any]:
    """The euclidean cordon as written vertex by vertex: the ring of ``cordon_geometry``
    (a regular polygon, counter-clockwise from due east) in lon/lat on the 1e-7° grid."""
    circle = cordon_geometry(network, cordon)
    assert shapely.get_num_coordinates(circle) == CIRCLE_SIDES + 1
    assert shapely.is_ccw(shapely.get_exterior_ring(circle))
    ring = shapely.get_coordinates(geometry_to_lonlat(np.array([circle]), crs=cordon.crs)[0])
    ring = np.rint(ring * 1e7) / 1e7
    return {"type": "Polygon", "coordinates": [ring.tolist()]}


def _reference_clean(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return round(value, 2) if math.isfinite(value) else None
    return value


def _points(x: Any, y: Any) -> Any:
    return np.asarray(shapely.points(x, y), dtype=object).reshape(-1)


def reference_answer_to_geojson(
    cordon: Cordon, watchers: Watchers | None = None, *, network: RoadNetwork
) -> dict[str, Any]:
    a = cordon.approaches
    k = len(a)
    online_watchers = np.zeros(k, dtype=np.int64)
    if watchers is not None and len(watchers):
        np.add.at(online_watchers, watchers.approach[watchers.online], 1)
    geoms = [
        shapely.Point(cordon.incident_x, cordon.incident_y),
        cordon_geometry(network, cordon),
        *_points(a.x, a.y),
        *a.stretch,
    ]
    if watchers is not None:
        geoms += list(_points(watchers.x, watchers.y))
    geometry = _reference_geometries(np.asarray(geoms, dtype=object), cordon.crs)
    if cordon.mode == "euclidean":
        geometry[1] = _reference_circle(cordon, network)

    def area(x: float, y: float) -> dict[str, str]:
        return locate_admin_units([x], [y], crs=cordon.crs).row(0)

    features: list[dict[str, Any]] = [
        {
            "role": "incident",
            "radius_m": cordon.radius_m,
            "mode": cordon.mode,
            "direction": cordon.direction,
            "travel": cordon.travel,
            "minutes": cordon.options.minutes,
            "speed_kmh": cordon.options.speed_kmh,
            "incomplete": cordon.incomplete,
            "level": None if watchers is None else watchers.requested_level,
            "snapped_road": network.seg_name[cordon.snap.segment],
            "snap_distance_m": cordon.snap.distance_m,
            **area(cordon.incident_x, cordon.incident_y),
        },
        {"role": "cordon", "radius_m": cordon.radius_m, "incomplete": cordon.incomplete},
    ]
    for j in range(k):
        features.append(
            {
                "role": "approach",
                "id": approach_label(j),
                "direction": a.direction[j],
                "name": a.name[j],
                "highway": a.highway[j],
                "ref": a.ref[j],
                "osm_way_id": a.osm_way_id[j],
                "main": a.main[j],
                "bearing_deg": a.bearing_deg[j],
                "blind": None if watchers is None else watchers.blind[j],
                "online_cameras": None if watchers is None else online_watchers[j],
                **area(a.x[j], a.y[j]),
            }
        )
    features += [{"role": "watch_stretch", "approach": approach_label(j)} for j in range(k)]
    if watchers is not None:
        for i in range(len(watchers)):
            features.append(
                {
                    "role": "camera",
                    "camera_id": watchers.camera_id[i],
                    "approach": approach_label(int(watchers.approach[i])),
                    "rank": watchers.rank[i],
                    "kind": watchers.kind[i],
                    "dori_level": watchers.level[i],
                    "px_per_m": watchers.px_per_m[i],
                    "facing": watchers.facing[i],
                    "distance_m": watchers.distance_m[i],
                    "online": watchers.online[i],
                    "status": watchers.status[i],
                    "status_since": watchers.status_since[i],
                    "confidence": watchers.confidence[i],
                    **area(watchers.x[i], watchers.y[i]),
                }
            )
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": geom,
                "properties": {key: _reference_clean(value) for key, value in props.items()},
            }
            for geom, props in zip(geometry, features, strict=True)
        ],
    }


def _json_types_only(value: Any, where: str = "$") -> None:
    assert type(value) in JSON_TYPES, f"{where}: {type(value).__name__}"
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str, f"{where}: key {key!r}"
            _json_types_only(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _json_types_only(item, f"{where}[{i}]")


def _same(new: dict[str, Any], old: dict[str, Any]) -> None:
    _json_types_only(new)
    assert json.dumps(new, sort_keys=True) == json.dumps(old, sort_keys=True)


@pytest.fixture(scope="module")
def network() -> RoadNetwork:
    return build_road_network(seoul_segments())


@pytest.fixture(scope="module")
def index() -> CoverageIndex:
    return build_coverage_index(read_cctv(DATA_DIR / "seoul_cctv_2018.csv").cameras)


def test_geojson_is_unchanged_on_real_answers(network: RoadNetwork, index: CoverageIndex) -> None:
    rng = np.random.default_rng(20260517)
    x0, y0, x1, y1 = shapely.total_bounds(seoul_segments().geometry.to_numpy())
    compared = cameras = 0
    while compared < 60:
        lon, lat = rng.uniform(x0, x1), rng.uniform(y0, y1)
        options: dict[str, Any] = {
            "mode": str(rng.choice(["network", "euclidean"])),
            "direction": str(rng.choice(["inbound", "outbound", "both"])),
            "travel": str(rng.choice(["drive", "foot"])),
            "level": str(rng.choice(list(DORI_PX_PER_M))),
        }
        if rng.uniform() < 0.2:
            options.update(minutes=float(rng.uniform(1, 4)), speed_kmh=20.0)
        else:
            options["radius_m"] = float(rng.choice([50, 200, 500, 1000, 1500]))
        try:
            level = options.pop("level")
            answer = answer_incident(
                network, index, (lon, lat), CordonOptions.from_dict(options), level=level
            )
        except GilmokError:
            continue
        _same(answer.to_geojson(), reference_answer_to_geojson(
            answer.cordon, answer.watchers, network=network
        ))  # fmt: skip
        _same(
            answer_to_geojson(answer.cordon, network=network),
            reference_answer_to_geojson(answer.cordon, network=network),
        )
        # the API's encoding: coordinates straight from numpy arrays, the same bytes
        assert orjson.dumps(
            answer.to_geojson(arrays=True),
            option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY,
        ) == orjson.dumps(answer.to_geojson(), option=orjson.OPT_SORT_KEYS)
        compared += 1
        cameras += len(answer.watchers)
    assert cameras > 300  # the answers were not all empty


def test_geojson_is_unchanged_for_a_cordon_without_approaches(network: RoadNetwork) -> None:
    """A small circle on one road: the cordon and the incident only, or a couple of approaches."""
    on_road = shapely.line_interpolate_point(
        seoul_segments().geometry.iloc[0], 0.5, normalized=True
    )
    cordon = find_approaches(
        network, (on_road.x, on_road.y), CordonOptions(radius_m=50, mode="euclidean")
    )
    _same(
        answer_to_geojson(cordon, network=network),
        reference_answer_to_geojson(cordon, network=network),
    )
