"""Road network readers on the real GraphML and OSM files and on tiny synthetic OSM files."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import numpy as np
import osmium
import pytest
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from geo.errors import ImportFileError
from geo.ingest.osm import (
    DRIVABLE_HIGHWAYS,
    NODE_COLUMNS,
    SEGMENT_COLUMNS,
    RoadNetworkRead,
    detect_road_format,
    line_lengths_m,
    read_road_network,
)

DATA = Path(os.environ.get("GILMOK_DATA_DIR", "/work/shared/data"))
GRAPHML = DATA / "seoul_central_drive.graphml"
MAPO = DATA / "mapo.osm"


@pytest.fixture(scope="module")
def seoul() -> RoadNetworkRead:
    return read_road_network(GRAPHML)


@pytest.fixture(scope="module")
def mapo() -> RoadNetworkRead:
    return read_road_network(MAPO)


@pytest.fixture(scope="module")
def mapo_pbf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """mapo.osm written as a real PBF by libosmium (under a name that hides its format)."""
    path = tmp_path_factory.mktemp("pbf") / "mapo.osm.pbf"
    with osmium.SimpleWriter(str(path)) as writer:
        for obj in osmium.FileProcessor(str(MAPO)):
            writer.add(obj)
    hidden = path.with_name("mapo_extract.dat")
    shutil.copy(path, hidden)
    return hidden


def _osm(tmp_path: Path, nodes: dict[int, tuple[float, float]], ways: list[tuple]) -> Path:
    """Write a tiny OSM XML file; ``ways`` are (id, node ids, tags)."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    lines += [f'  <node id="{i}" lat="{lat}" lon="{lon}"/>' for i, (lon, lat) in nodes.items()]
    for way_id, refs, tags in ways:
        lines.append(f'  <way id="{way_id}">')
        lines += [f'    <nd ref="{r}"/>' for r in refs]
        lines += [f'    <tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        lines.append("  </way>")
    lines.append("</osm>")
    path = tmp_path / "tiny.osm"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _check_contract(net: RoadNetworkRead) -> None:
    """Invariants every reader must hold, whatever the file."""
    nodes, seg = net.nodes, net.segments
    assert tuple(seg.columns) == SEGMENT_COLUMNS
    assert tuple(nodes.columns) == NODE_COLUMNS
    assert nodes.osm_id.dtype == np.int64
    assert nodes.osm_id.is_unique
    for column in ("u", "v", "osm_way_id"):
        assert seg[column].dtype == np.int64
    assert seg.oneway.dtype == bool
    assert seg.bridge.dtype == bool
    assert seg.tunnel.dtype == bool
    assert set(seg.u) | set(seg.v) == set(nodes.osm_id)
    assert nodes.street_count.sum() == 2 * len(seg)
    assert (seg.length_m > 0).all()
    assert all(isinstance(name, str) for name in seg.name)
    assert all(isinstance(ref, str) for ref in seg.ref)
    json.dumps(list(seg.attributes), ensure_ascii=False)
    net.report.check()
    lon = nodes.set_index("osm_id").lon
    lat = nodes.set_index("osm_id").lat
    start = shapely.get_coordinates(shapely.get_point(seg.geometry.to_numpy(), 0))
    end = shapely.get_coordinates(shapely.get_point(seg.geometry.to_numpy(), -1))
    np.testing.assert_allclose(start, np.c_[lon[seg.u], lat[seg.u]], atol=1e-7)
    np.testing.assert_allclose(end, np.c_[lon[seg.v], lat[seg.v]], atol=1e-7)
    assert net.bounds == (lon.min(), lat.min(), lon.max(), lat.max())


def _largest_component_share(net: RoadNetworkRead, connection: str) -> float:
    """Share of nodes in the largest weakly/strongly connected component (one-way respected)."""
    index = {osm_id: i for i, osm_id in enumerate(net.nodes.osm_id)}
    a = net.segments.u.map(index).to_numpy()
    b = net.segments.v.map(index).to_numpy()
    two_way = ~net.segments.oneway.to_numpy()
    rows, cols = np.r_[a, b[two_way]], np.r_[b, a[two_way]]
    n = len(index)
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    _, labels = connected_components(graph, directed=True, connection=connection)
    return float(np.bincount(labels).max() / n)


# --- OSMnx GraphML ---------------------------------------------------------------------------


def test_graphml_counts_add_up(seoul: RoadNetworkRead) -> None:
    seg, report = seoul.segments, seoul.report
    assert seoul.source_format == "graphml"
    assert len(seoul.nodes) == 3384
    assert report.rows_read == 8830
    one_way = int(seg.oneway.sum())
    two_way = int((~seg.oneway).sum())
    # Every two-way road was stored twice (u→v and v→u) and every twin found its pair.
    assert report.extra["unpaired_two_way_edges"] == 0
    assert not report.rejected
    assert 2 * two_way + one_way == 8830
    assert (one_way, two_way) == (1254, 3788)
    assert report.rows_merged == two_way
    assert report.rows_kept == len(seg) == 5042
    _check_contract(seoul)


def test_graphml_two_way_roads_appear_once(seoul: RoadNetworkRead) -> None:
    seg = seoul.segments[~seoul.segments.oneway]
    keys = set()
    for u, v, geom, attributes in zip(seg.u, seg.v, seg.geometry, seg.attributes, strict=True):
        coords = np.round(shapely.get_coordinates(geom), 7)
        forward, backward = coords.tobytes(), coords[::-1].tobytes()
        # Ways 964947798 and 966389588 overlap between the same two nodes: same geometry,
        # different ways, so two segments.
        key = (min(u, v), max(u, v), min(forward, backward), tuple(sorted(attributes["osmids"])))
        assert key not in keys
        keys.add(key)


def test_graphml_parallel_edges_and_self_loop_kept(seoul: RoadNetworkRead) -> None:
    seg = seoul.segments
    # 28 edges have key 1 in the file: parallel roads between the same two nodes.
    pairs = seg.assign(a=np.minimum(seg.u, seg.v), b=np.maximum(seg.u, seg.v))
    assert pairs.duplicated(["a", "b"]).sum() > 0
    loops = seg[seg.u == seg.v]
    assert len(loops) == 1  # keys 0 and 1 of node 4635759099 are one two-way loop
    assert loops.u.iloc[0] == 4635759099
    assert not loops.oneway.iloc[0]


def test_graphml_lengths_agree_with_osmnx(seoul: RoadNetworkRead) -> None:
    seg = seoul.segments
    osmnx_length = np.array([float(a["tags"]["length"]) for a in seg.attributes])
    np.testing.assert_allclose(seg.length_m, osmnx_length, rtol=0.01)


def test_graphml_list_attributes_take_first_and_keep_all(seoul: RoadNetworkRead) -> None:
    seg = seoul.segments
    merged = seg[seg.attributes.map(lambda a: len(a["names"]) > 1)]
    assert len(merged) > 0
    for name, attributes in zip(merged.name, merged.attributes, strict=True):
        assert name == attributes["names"][0]
    many_ways = seg[seg.attributes.map(lambda a: len(a["osmids"]) > 1)]
    assert (many_ways.osm_way_id == many_ways.attributes.map(lambda a: a["osmids"][0])).all()
    assert set(seg.highway) <= DRIVABLE_HIGHWAYS
    assert seg.bridge.sum() > 0
    assert seg.tunnel.sum() > 0


def test_graphml_highway_classes_filter(tmp_path: Path) -> None:
    net = read_road_network(GRAPHML, highway_classes=frozenset({"primary", "secondary"}))
    assert set(net.segments.highway) <= {"primary", "secondary", "secondary_link"}
    assert len(net.report.rejected) > 0
    _check_contract(net)


# --- raw OSM XML and PBF ---------------------------------------------------------------------


def test_mapo_osm_reads_drivable_ways(mapo: RoadNetworkRead) -> None:
    assert mapo.source_format == "osm"
    report = mapo.report
    assert report.rows_read == 331  # of 601 ways tagged highway; 270 footways/steps/pedestrian
    assert report.extra["highway_ways_not_selected"] == {
        "footway": 262,
        "steps": 5,
        "pedestrian": 3,
    }
    assert set(mapo.segments.highway) <= DRIVABLE_HIGHWAYS
    assert len(mapo.segments) > report.rows_kept  # ways were split at junctions
    _check_contract(mapo)


def test_mapo_network_is_connected(mapo: RoadNetworkRead) -> None:
    assert _largest_component_share(mapo, "weak") >= 0.95
    assert _largest_component_share(mapo, "strong") >= 0.85


def test_pbf_round_trip_matches_xml(mapo: RoadNetworkRead, mapo_pbf: Path) -> None:
    assert detect_road_format(mapo_pbf) == ("pbf", "")
    net = read_road_network(mapo_pbf)
    assert net.source_format == "pbf"
    _check_contract(net)
    columns = ["u", "v", "osm_way_id", "oneway", "highway", "name"]
    a = net.segments[columns].sort_values(columns).reset_index(drop=True)
    b = mapo.segments[columns].sort_values(columns).reset_index(drop=True)
    assert a.equals(b)
    np.testing.assert_allclose(np.sort(net.segments.length_m), np.sort(mapo.segments.length_m))


def test_gzip_osm_detected_by_content(mapo: RoadNetworkRead, tmp_path: Path) -> None:
    path = tmp_path / "roads.bin"
    path.write_bytes(gzip.compress(MAPO.read_bytes()))
    assert detect_road_format(path) == ("osm", "gz")
    assert len(read_road_network(path).segments) == len(mapo.segments)


def test_oneway_tags(tmp_path: Path) -> None:
    nodes = {i: (127.0 + 0.001 * i, 37.5) for i in range(1, 11)}
    ways = [
        (1, [1, 2, 3], {"highway": "residential", "oneway": "-1", "name": "거꾸로길"}),
        (2, [3, 4], {"highway": "residential", "oneway": "yes"}),
        (3, [4, 5], {"highway": "tertiary", "junction": "roundabout"}),
        (4, [5, 6], {"highway": "motorway"}),
        (5, [6, 7], {"highway": "motorway", "oneway": "no"}),
        (6, [7, 8], {"highway": "residential", "oneway": "reversible"}),
        (7, [8, 9, 10], {"highway": "residential", "oneway": "reverse"}),
    ]
    net = read_road_network(_osm(tmp_path, nodes, ways))
    _check_contract(net)
    seg = net.segments.set_index("osm_way_id")
    assert (seg.loc[1, "u"], seg.loc[1, "v"], seg.loc[1, "oneway"]) == (3, 1, True)
    assert seg.loc[1, "attributes"]["reversed"]
    assert seg.loc[1, "name"] == "거꾸로길"
    assert list(shapely.get_coordinates(seg.loc[1, "geometry"])[:, 0]) == [
        127.003,
        127.002,
        127.001,
    ]
    assert (seg.loc[2, "u"], seg.loc[2, "v"], seg.loc[2, "oneway"]) == (3, 4, True)
    assert seg.loc[3, "oneway"]
    assert seg.loc[4, "oneway"]
    assert not seg.loc[5, "oneway"]
    assert not seg.loc[6, "oneway"]
    assert (seg.loc[7, "u"], seg.loc[7, "v"], seg.loc[7, "oneway"]) == (10, 8, True)


def test_junction_splitting(tmp_path: Path) -> None:
    nodes = {i: (127.0 + 0.001 * i, 37.5 + 0.0005 * (i % 3)) for i in range(1, 16)}
    ways = [
        (1, [1, 2, 3, 4, 5], {"highway": "residential"}),
        (2, [3, 6, 7], {"highway": "service"}),
        (3, [4, 8], {"highway": "footway"}),  # not drivable: node 4 is no junction
        (4, [10, 11, 12, 10], {"highway": "residential"}),  # an island loop
        (5, [7, 7, 13], {"highway": "residential"}),  # a repeated node is no junction
    ]
    path = _osm(tmp_path, nodes, ways)
    net = read_road_network(path)
    _check_contract(net)
    pairs = set(zip(net.segments.u, net.segments.v, strict=True))
    assert pairs == {(1, 3), (3, 5), (3, 7), (10, 10), (7, 13)}
    counts = net.nodes.set_index("osm_id").street_count
    assert counts[3] == 3
    assert counts[10] == 2
    assert counts[1] == 1
    length = net.segments.set_index(["u", "v"]).length_m
    whole_way = shapely.LineString([nodes[i] for i in (1, 2, 3, 4, 5)])
    np.testing.assert_allclose(
        length[(1, 3)] + length[(3, 5)], line_lengths_m(np.array([whole_way]))[0]
    )

    with_footways = read_road_network(path, highway_classes=DRIVABLE_HIGHWAYS | {"footway"})
    assert {(4, 5), (3, 4), (4, 8)} <= set(
        zip(with_footways.segments.u, with_footways.segments.v, strict=True)
    )


def test_clipped_ways_keep_located_stretches(tmp_path: Path) -> None:
    nodes = {i: (127.0 + 0.001 * i, 37.5) for i in (1, 2, 3, 5, 6, 8)}
    ways = [
        (1, [1, 2, 3, 4, 5, 6], {"highway": "primary"}),  # node 4 outside the extract
        (2, [7, 8], {"highway": "primary"}),  # one node left: nothing to keep
    ]
    net = read_road_network(_osm(tmp_path, nodes, ways))
    _check_contract(net)
    assert set(zip(net.segments.u, net.segments.v, strict=True)) == {(1, 3), (5, 6)}
    report = net.report
    assert (report.rows_read, report.rows_kept, len(report.rejected)) == (2, 1, 1)
    assert report.rejected[0].value == "way 2"
    assert report.extra["ways_clipped"] == 1
    assert any("way 1: 1 of 6 nodes missing" in w for w in report.warnings)


# --- files that are not road networks --------------------------------------------------------


def test_real_non_road_files_are_refused() -> None:
    with pytest.raises(ImportFileError, match="CSV"):
        read_road_network(DATA / "seoul_cctv_2018.csv")
    with pytest.raises(ImportFileError, match="JSON"):
        read_road_network(DATA / "osm_surveillance_switzerland.json")


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.osm"
    empty.touch()
    with pytest.raises(ImportFileError, match="empty"):
        read_road_network(empty)
    with pytest.raises(ImportFileError, match="no such file"):
        read_road_network(tmp_path / "nothing.pbf")


def test_graphml_without_edges(tmp_path: Path) -> None:
    path = tmp_path / "nodes_only.graphml"
    path.write_text(
        '<?xml version="1.0"?><graphml xmlns="http://graphml.graphdrawing.org/xmlns">'
        '<key id="d0" for="node" attr.name="x"/><key id="d1" for="node" attr.name="y"/>'
        '<graph edgedefault="directed"><node id="1"><data key="d0">127</data>'
        '<data key="d1">37.5</data></node></graph></graphml>'
    )
    with pytest.raises(ImportFileError, match="no edges"):
        read_road_network(path)


def test_osm_without_roads(tmp_path: Path) -> None:
    nodes = {1: (127.0, 37.5), 2: (127.001, 37.5), 3: (127.001, 37.501)}
    buildings = _osm(tmp_path, nodes, [(1, [1, 2, 3, 1], {"building": "yes"})])
    with pytest.raises(ImportFileError, match="no ways tagged highway"):
        read_road_network(buildings)
    paths = _osm(tmp_path, nodes, [(1, [1, 2, 3], {"highway": "footway"})])
    with pytest.raises(ImportFileError, match="none of the selected road classes"):
        read_road_network(paths)


def test_other_xml_and_truncated_pbf(tmp_path: Path, mapo_pbf: Path) -> None:
    other = tmp_path / "feed.xml"
    other.write_text('<?xml version="1.0"?><rss version="2.0"><channel/></rss>')
    with pytest.raises(ImportFileError, match="<rss>"):
        read_road_network(other)
    truncated = tmp_path / "truncated.pbf"
    truncated.write_bytes(mapo_pbf.read_bytes()[:20_000])
    with pytest.raises(ImportFileError, match="pyosmium"):
        read_road_network(truncated)
