"""Cordons and approaches on the real central-Seoul roads, against a brute-force implementation.

The brute force shares nothing with ``geo.network``/``geo.approaches`` but the projection: it
snaps by measuring every segment, runs networkx's Dijkstra on the whole graph, walks every
directed edge in Python and solves each circle crossing with scalar arithmetic.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
import shapely.ops
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spatial_helpers import seoul_segments

from geo.approaches import find_approaches
from geo.cordon import CordonOptions
from geo.crs import geometry_to_xy, lonlat_to_xy
from geo.domain import MAIN_ROAD_CLASSES
from geo.errors import InvalidInput, OutsideCoverageArea
from geo.network import build_road_network

GWANGHWAMUN = (126.9769, 37.5759)


@pytest.fixture(scope="module")
def network():
    return build_road_network(seoul_segments())


@dataclass(frozen=True)
class Expected:
    """One approach as the brute force sees it."""

    outbound: bool
    seg: int
    forward: bool
    offset: float
    x: float
    y: float
    bearing: float  # grid azimuth
    members: tuple[int, ...]
    stretch: shapely.Geometry


class BruteForce:
    """Approaches the slow, obvious way."""

    def __init__(self, segments: pd.DataFrame) -> None:
        self.geoms = geometry_to_xy(segments["geometry"].to_numpy())
        self.coords = [shapely.get_coordinates(g) for g in self.geoms]
        self.length = [
            float(sum(math.dist(c[i], c[i + 1]) for i in range(len(c) - 1))) for c in self.coords
        ]
        self.u = segments["u"].tolist()
        self.v = segments["v"].tolist()
        self.oneway = segments["oneway"].tolist()
        self.highway = segments["highway"].tolist()
        self.key = [
            ("n", n) if n else (("r", r) if r else ("w", w))
            for n, r, w in zip(
                segments["name"], segments["ref"], segments["osm_way_id"], strict=True
            )
        ]
        self.extent_boundary = shapely.box(*shapely.total_bounds(self.geoms)).boundary
        self.node_xy: dict[int, tuple[float, float]] = {}
        for i, c in enumerate(self.coords):
            self.node_xy.setdefault(self.u[i], tuple(c[0]))
            self.node_xy.setdefault(self.v[i], tuple(c[-1]))
        self.graphs = {}
        for travel in ("drive", "foot"):
            g = nx.MultiDiGraph()
            for i in range(len(self.u)):
                g.add_edge(self.u[i], self.v[i], key=(i, True), weight=self.length[i])
                if self.two_way(i, travel):
                    g.add_edge(self.v[i], self.u[i], key=(i, False), weight=self.length[i])
            self.graphs[travel] = g

    def two_way(self, seg: int, travel: str) -> bool:
        return travel == "foot" or not self.oneway[seg]

    def snap(self, x: float, y: float) -> tuple[int, float, float]:
        point = shapely.Point(x, y)
        distances = [shapely.distance(g, point) for g in self.geoms]
        seg = int(np.argmin(distances))
        # GEOS may place the point a rounding error beyond the end: the road has no more
        t = min(
            max(float(shapely.line_locate_point(self.geoms[seg], point)), 0.0), self.length[seg]
        )
        return seg, t, distances[seg]

    def distances(self, travel: str, seg: int, t: float, toward: bool) -> dict:
        g = self.graphs[travel].copy()
        g.remove_edges_from([(self.u[seg], self.v[seg], (seg, True))])
        if self.two_way(seg, travel):
            g.remove_edges_from([(self.v[seg], self.u[seg], (seg, False))])
            g.add_edge(self.v[seg], "P", weight=self.length[seg] - t)
            g.add_edge("P", self.u[seg], weight=t)
        g.add_edge(self.u[seg], "P", weight=t)
        g.add_edge("P", self.v[seg], weight=self.length[seg] - t)
        if toward:
            g = g.reverse(copy=False)
        return nx.single_source_dijkstra_path_length(g, "P", weight="weight")

    def point_and_bearing(self, seg: int, offset: float, forward: bool) -> tuple:
        c = self.coords[seg]
        cum = 0.0
        piece = len(c) - 2
        for i in range(len(c) - 1):
            step = math.dist(c[i], c[i + 1])
            if cum <= offset < cum + step:
                piece = i
                break
            cum += step
        (ax, ay), (bx, by) = c[piece], c[piece + 1]
        bearing = math.degrees(math.atan2(bx - ax, by - ay)) + (0 if forward else 180)
        point = shapely.line_interpolate_point(self.geoms[seg], offset)
        return point.x, point.y, bearing % 360

    def network_crossings(self, travel, seg_p, t, dist, *, outbound, r):
        found = []
        for seg in range(len(self.u)):
            length = self.length[seg]
            pieces = []  # (tail, head, start offset, length along travel, forward)
            for forward in (True, False):
                if not forward and not self.two_way(seg, travel):
                    continue
                tail, head = (self.u[seg], self.v[seg]) if forward else (self.v[seg], self.u[seg])
                start = 0.0 if forward else length
                if seg == seg_p:
                    before = t if forward else length - t
                    pieces.append((tail, "P", start, before, forward))
                    pieces.append(("P", head, t, length - before, forward))
                else:
                    pieces.append((tail, head, start, length, forward))
            for tail, head, start, piece_len, forward in pieces:
                d_tail = dist.get(tail, math.inf)
                d_head = dist.get(head, math.inf)
                sign = 1 if forward else -1
                if not outbound and d_tail > r >= d_head:
                    found.append((seg, forward, start + sign * (piece_len - (r - d_head))))
                if outbound and d_tail <= r < d_head:
                    found.append((seg, forward, start + sign * (r - d_tail)))
        return found

    def circle_crossings(self, travel, cx, cy, r, outbound):
        found = []
        for seg, c in enumerate(self.coords):
            length = self.length[seg]
            for forward in (True, False):
                if not forward and not self.two_way(seg, travel):
                    continue
                pts = list(map(tuple, c)) if forward else list(map(tuple, c[::-1]))
                pos = 0.0
                for (ax, ay), (bx, by) in itertools.pairwise(pts):
                    step = math.dist((ax, ay), (bx, by))
                    if step > 0:
                        ux, uy = (bx - ax) / step, (by - ay) / step
                        along = (cx - ax) * ux + (cy - ay) * uy
                        off2 = (cx - ax) ** 2 + (cy - ay) ** 2 - along**2
                        if off2 < r * r:
                            half = math.sqrt(r * r - off2)
                            hit = along + half if outbound else along - half
                            if (0 <= hit < step) if outbound else (0 < hit <= step):
                                travelled = pos + hit
                                found.append(
                                    (seg, forward, travelled if forward else length - travelled)
                                )
                    pos += step
        return found

    def approaches(self, incident_xy, *, r, mode, direction, travel, watch_m=50.0, merge_m=30.0):
        x, y = incident_xy
        seg_p, t, snap_distance = self.snap(x, y)
        if snap_distance > r:
            return None, None
        outbounds = {"inbound": [False], "outbound": [True], "both": [False, True]}[direction]
        cands = []
        incomplete = False
        for outbound in outbounds:
            if mode == "network":
                dist = self.distances(travel, seg_p, t, toward=not outbound)
                found = self.network_crossings(travel, seg_p, t, dist, outbound=outbound, r=r)
                for node, d in dist.items():
                    if d > r:
                        continue
                    p = (
                        shapely.line_interpolate_point(self.geoms[seg_p], t)
                        if node == "P"
                        else (shapely.Point(self.node_xy[node]))
                    )
                    incomplete |= shapely.distance(p, self.extent_boundary) <= r - d
            else:
                found = self.circle_crossings(travel, x, y, r, outbound)
                incomplete = shapely.distance(shapely.Point(x, y), self.extent_boundary) <= r
            cands += [(outbound, *f) for f in found]
        cands.sort(key=lambda c: (c[0], c[1], not c[2], c[3]))
        info = []
        for outbound, seg, forward, offset in cands:
            px, py, bearing = self.point_and_bearing(seg, offset, forward)
            sign = 1 if forward else -1
            a, b = (
                min(max(v, 0.0), self.length[seg])
                for v in (offset - sign * watch_m, offset + sign * watch_m)
            )
            stretch = shapely.ops.substring(self.geoms[seg], a, b)
            info.append((outbound, seg, forward, offset, px, py, bearing, stretch))
        # union-find over crossings of one road, one direction, within merge_m
        parent = list(range(len(info)))

        def find(i):
            while parent[i] != i:
                i = parent[i]
            return i

        for i in range(len(info)):
            for j in range(i + 1, len(info)):
                a, b = info[i], info[j]
                turn = abs((a[6] - b[6] + 180) % 360 - 180)
                if (a[0] == b[0] and self.key[a[1]] == self.key[b[1]] and turn < 90
                        and math.dist(a[4:6], b[4:6]) <= merge_m):  # fmt: skip
                    parent[find(i)] = find(j)
        groups: dict[int, list[int]] = {}
        for i in range(len(info)):
            groups.setdefault(find(i), []).append(i)
        result = []
        for members in groups.values():
            rep = min(members, key=lambda i: (self.highway[info[i][1]] not in MAIN_ROAD_CLASSES, i))
            lines = [info[i][7] for i in members]
            stretch = lines[0] if len(lines) == 1 else shapely.MultiLineString(lines)
            o, s, f, off, px, py, bearing, _ = info[rep]
            result.append(
                Expected(o, s, f, off, px, py, bearing, tuple(info[i][1] for i in members), stretch)
            )
        return sorted(
            result, key=lambda e: (e.outbound, e.seg, not e.forward, e.offset)
        ), incomplete


@pytest.fixture(scope="module")
def brute():
    return BruteForce(seoul_segments())


def _angle(a: float, b: float) -> float:
    return abs((a - b + 180) % 360 - 180)


def assert_same(cordon, expected, incomplete) -> None:
    got = cordon.approaches
    north = cordon_north(cordon)
    assert len(got) == len(expected), (
        [
            (a, b, c, round(d, 2))
            for a, b, c, d in zip(
                got.direction, got.segment, got.forward, got.offset_m, strict=True
            )
        ],
        [(e.outbound, e.seg, e.forward, round(e.offset, 2)) for e in expected],
    )
    for i, e in enumerate(expected):
        assert (got.direction[i] == "outbound") == e.outbound
        assert (int(got.segment[i]), bool(got.forward[i])) == (e.seg, e.forward)
        assert got.offset_m[i] == pytest.approx(e.offset, abs=1e-6)
        assert (got.x[i], got.y[i]) == pytest.approx((e.x, e.y), abs=1e-6)
        assert _angle(got.bearing_deg[i] + north, e.bearing) < 1e-6
        assert tuple(got.members[i].tolist()) == e.members
        assert shapely.hausdorff_distance(got.stretch[i], e.stretch) < 1e-6
        if isinstance(e.stretch, shapely.LineString):
            # a vertex repeated where the stretch ends exactly on one is the same line
            assert shapely.equals_exact(
                shapely.remove_repeated_points(got.stretch[i], 1e-9),
                shapely.remove_repeated_points(e.stretch, 1e-9),
                tolerance=1e-6,
            )
    assert cordon.incomplete == incomplete


def cordon_north(cordon) -> float:
    from geo.crs import north_azimuth_deg

    return float(north_azimuth_deg([cordon.incident_lon], [cordon.incident_lat])[0])


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lon=st.floats(126.952, 127.005),
    lat=st.floats(37.546, 37.587),
    radius=st.floats(50, 1500),
    mode=st.sampled_from(["network", "euclidean"]),
    direction=st.sampled_from(["inbound", "outbound", "both"]),
    travel=st.sampled_from(["drive", "foot"]),
)
def test_approaches_match_brute_force(network, brute, lon, lat, radius, mode, direction, travel):
    x, y = lonlat_to_xy([lon], [lat])
    expected, incomplete = brute.approaches(
        (float(x[0]), float(y[0])), r=radius, mode=mode, direction=direction, travel=travel
    )
    if expected is None:
        with pytest.raises(OutsideCoverageArea):
            find_approaches(network, (lon, lat), CordonOptions(radius_m=radius, mode=mode))
        return
    cordon = find_approaches(
        network,
        (lon, lat),
        CordonOptions(radius_m=radius, mode=mode, direction=direction, travel=travel),
    )
    assert_same(cordon, expected, incomplete)


def _midpoint_lonlat(
    segments: pd.DataFrame, row: int, fraction: float = 0.5
) -> tuple[float, float]:
    point = shapely.line_interpolate_point(
        segments["geometry"].iloc[row], fraction, normalized=True
    )
    return point.x, point.y


def _find_segment(segments: pd.DataFrame, **conditions) -> int:
    mask = np.ones(len(segments), dtype=bool)
    for column, wanted in conditions.items():
        mask &= segments[column].to_numpy() == wanted
    lengths = segments["length_m"].to_numpy().copy()
    lengths[~mask] = -1
    return int(np.argmax(lengths))  # the longest one


def test_one_way_street_has_one_inbound_half_and_foot_has_two(network):
    segments = seoul_segments()
    row = _find_segment(segments, oneway=True, highway="primary")
    incident = _midpoint_lonlat(segments, row)
    drive = find_approaches(network, incident, CordonOptions(radius_m=100))
    own = drive.approaches.segment == row
    assert drive.snap.segment == row
    # traffic reaches P along the one-way street only from its u end
    assert drive.approaches.forward[own].tolist() == [True]
    assert drive.approaches.offset_m[own][0] == pytest.approx(drive.snap.offset_m - 100)
    exits = find_approaches(
        network, incident, CordonOptions(radius_m=100, direction="outbound")
    ).approaches
    assert exits.forward[exits.segment == row].tolist() == [True]
    assert exits.offset_m[exits.segment == row][0] == pytest.approx(drive.snap.offset_m + 100)
    foot = find_approaches(network, incident, CordonOptions(radius_m=100, travel="foot")).approaches
    assert sorted(foot.forward[foot.segment == row].tolist()) == [False, True]


def test_radius_smaller_than_the_snapped_segment(network):
    segments = seoul_segments()
    row = _find_segment(segments, oneway=False, highway="secondary")
    assert segments["length_m"].iloc[row] > 400
    cordon = find_approaches(network, _midpoint_lonlat(segments, row), CordonOptions(radius_m=150))
    a = cordon.approaches
    assert len(a) == 2
    assert set(a.segment.tolist()) == {row}
    assert sorted(a.offset_m.tolist()) == pytest.approx(
        [cordon.snap.offset_m - 150, cordon.snap.offset_m + 150]
    )
    assert _angle(a.bearing_deg[0], a.bearing_deg[1]) == pytest.approx(180, abs=30)
    # both entry points are 150 m from P along the road, and at most that as the crow flies
    d = np.hypot(a.x - cordon.snap.x, a.y - cordon.snap.y)
    assert np.all(d <= 150 + 1e-6)


def test_outbound_reverses_inbound_on_a_two_way_segment(network):
    segments = seoul_segments()
    row = _find_segment(segments, oneway=False, highway="secondary")
    incident = _midpoint_lonlat(segments, row)
    both = find_approaches(
        network, incident, CordonOptions(radius_m=150, direction="both")
    ).approaches
    inbound = both.direction == "inbound"
    assert sorted(both.offset_m[inbound]) == pytest.approx(sorted(both.offset_m[~inbound]))
    for i in np.flatnonzero(inbound):
        j = np.flatnonzero(~inbound & np.isclose(both.offset_m, both.offset_m[i]))[0]
        assert _angle(both.bearing_deg[i], both.bearing_deg[j]) == pytest.approx(180, abs=1e-6)


def test_incident_on_a_bridge_snaps_to_the_bridge(network, brute):
    segments = seoul_segments()
    row = _find_segment(segments, bridge=True)
    lon, lat = _midpoint_lonlat(segments, row)
    cordon = find_approaches(network, (lon, lat), CordonOptions(radius_m=300))
    assert cordon.snap.segment == row
    x, y = lonlat_to_xy([lon], [lat])
    expected, incomplete = brute.approaches(
        (float(x[0]), float(y[0])), r=300, mode="network", direction="inbound", travel="drive"
    )
    assert_same(cordon, expected, incomplete)


def test_incident_at_a_dead_end(network):
    segments = seoul_segments()
    ends = pd.concat([segments["u"], segments["v"]]).value_counts()
    dead = set(ends[ends == 1].index)
    rows = [i for i in range(len(segments)) if segments["v"].iloc[i] in dead
            and not segments["oneway"].iloc[i] and 100 < segments["length_m"].iloc[i] < 300]  # fmt: skip
    row = rows[0]
    lonlat = _midpoint_lonlat(segments, row, 0.95)  # near the dead end
    cordon = find_approaches(network, lonlat, CordonOptions(radius_m=100))
    a = cordon.approaches
    # nothing comes in from the dead end: the only approach on this road is from the u side
    assert a.forward[a.segment == row].tolist() == [True]
    assert not cordon.incomplete


def test_cordon_reaching_the_data_edge_is_incomplete(network):
    segments = seoul_segments()
    lon_min = min(g.bounds[0] for g in segments["geometry"])
    centre = find_approaches(network, GWANGHWAMUN, CordonOptions(radius_m=500))
    assert not centre.incomplete
    near_edge = find_approaches(
        network, (lon_min + 0.002, 37.566), CordonOptions(radius_m=500, mode="euclidean")
    )
    assert near_edge.incomplete
    far = find_approaches(network, GWANGHWAMUN, CordonOptions(radius_m=5000))
    assert far.incomplete


def test_outside_the_data_or_far_from_roads_is_an_error(network):
    with pytest.raises(OutsideCoverageArea, match="outside the loaded road data"):
        find_approaches(network, (129.0, 35.1))  # Busan
    with pytest.raises(OutsideCoverageArea, match="from any road"):
        find_approaches(
            network, (126.9770, 37.5788), CordonOptions(radius_m=50)
        )  # inside Gyeongbokgung


def test_time_based_cordon_is_speed_times_time(network):
    by_time = find_approaches(
        network, GWANGHWAMUN, CordonOptions(minutes=6, speed_kmh=5, travel="foot")
    )
    by_radius = find_approaches(network, GWANGHWAMUN, CordonOptions(radius_m=500, travel="foot"))
    assert by_time.radius_m == pytest.approx(500)
    assert by_time.approaches.offset_m.tolist() == pytest.approx(
        by_radius.approaches.offset_m.tolist()
    )
    assert CordonOptions(minutes=20, speed_kmh=5).radius == pytest.approx(1666.67, abs=0.01)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"radius_m": 49}, "between 50 and 5000"),
        ({"radius_m": 5001}, "between 50 and 5000"),
        ({"minutes": 60, "speed_kmh": 60}, "between 50 and 5000"),
        ({"minutes": 10}, "needs both"),
        ({"radius_m": 500, "minutes": 10, "speed_kmh": 5}, "not both"),
        ({"mode": "manhattan"}, "mode must be one of"),
        ({"travel": "bike"}, "travel must be one of"),
    ],
)
def test_invalid_options(kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        CordonOptions(**kwargs)


def _synthetic(lines, names, oneway):
    segs = pd.DataFrame(
        {
            "u": [2 * i for i in range(len(lines))],
            "v": [2 * i + 1 for i in range(len(lines))],
            "oneway": oneway,
            "name": names,
            "highway": ["secondary"] * len(lines),
            "geometry": [shapely.LineString(c) for c in lines],
        }
    )
    return build_road_network(
        segs, segments_crs="EPSG:5179", extent=shapely.box(-9e3, -9e3, 9e3, 9e3)
    )


def test_crossings_of_one_road_merge_only_in_one_direction():
    # two eastbound lanes of one road grazing the circle, 0.1 m apart: one approach
    net = _synthetic(
        [[(-1000, 499.9), (1000, 499.9)], [(-1000, 499.8), (1000, 499.8)], [(0, -600), (0, 600)]],
        ["A", "A", "B"],
        [True, True, False],
    )
    a = find_approaches(
        net, (0.0, 0.0), CordonOptions(radius_m=500, mode="euclidean"), xy=True
    ).approaches
    on_a = a.name == "A"
    assert on_a.sum() == 1
    assert sorted(a.members[int(np.flatnonzero(on_a)[0])].tolist()) == [0, 1]
    # an eastbound and a westbound half, entry points 24 m apart: two approaches
    net = _synthetic(
        [[(-1000, 499.9), (1000, 499.9)], [(1000, 499.8), (-1000, 499.8)], [(0, -600), (0, 600)]],
        ["A", "A", "B"],
        [True, True, False],
    )
    a = find_approaches(
        net, (0.0, 0.0), CordonOptions(radius_m=500, mode="euclidean"), xy=True
    ).approaches
    on_a = np.flatnonzero(a.name == "A")
    assert len(on_a) == 2
    assert np.hypot(*(np.diff(a.x[on_a]), np.diff(a.y[on_a]))) < 30
    assert _angle(*a.bearing_deg[on_a]) == pytest.approx(180, abs=1)
