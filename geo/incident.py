"""The one question, asked in one call: the approaches to an incident and the cameras watching them.

:func:`answer_incident` runs the cordon query (:func:`geo.approaches.find_approaches`) and the
watching query (:func:`geo.select.cameras_watching`) on a road network and a coverage index
held in memory — built from PostGIS by :mod:`geo.store.snapshot` or from a GeoPackage — and
keeps what both need to render the answer.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from geo.answer import answer_to_geojson, format_answer_table
from geo.approaches import Cordon, find_approaches
from geo.cordon import DEFAULT_CORDON, CordonOptions
from geo.crs import xy_to_lonlat
from geo.domain import CORDON_MODES, DEFAULT_DORI_LEVEL
from geo.errors import GilmokError
from geo.index import CoverageIndex
from geo.live_index import LiveCoverageIndex
from geo.network import RoadNetwork
from geo.select import Watchers, cameras_watching


@dataclass(frozen=True)
class Answer:
    """A cordon, its approaches and their ranked watching cameras, with the network they use."""

    cordon: Cordon
    watchers: Watchers
    network: RoadNetwork

    def to_geojson(self, *, arrays: bool = False) -> dict[str, Any]:
        """RFC 7946 FeatureCollection (lon/lat); see :mod:`geo.answer` (and ``arrays`` there:
        coordinates as numpy arrays, for orjson)."""
        return answer_to_geojson(self.cordon, self.watchers, network=self.network, arrays=arrays)

    def to_table(self) -> str:
        """A readable summary for a terminal."""
        return format_answer_table(self.cordon, self.watchers, network=self.network)


def answer_incident(
    network: RoadNetwork,
    index: CoverageIndex | LiveCoverageIndex,
    incident: tuple[float, float],
    options: CordonOptions = DEFAULT_CORDON,
    *,
    level: str = DEFAULT_DORI_LEVEL,
) -> Answer:
    """Approaches of the cordon around ``incident`` (lon, lat) and the cameras watching them.

    ``options`` are the cordon's (:class:`geo.cordon.CordonOptions`: a radius in metres, or
    minutes at a speed in km/h; mode, direction, travel), ``level`` the DORI level of
    :func:`geo.select.cameras_watching`.
    """
    cordon = find_approaches(network, incident, options)
    return Answer(
        cordon=cordon, watchers=cameras_watching(index, cordon, level=level), network=network
    )


def warm_up(network: RoadNetwork, index: CoverageIndex) -> None:
    """Answer one small incident in each mode, both directions, so that the compiled loops of
    :mod:`geo.kernels` are loaded (or, on a fresh checkout, compiled) before the first real
    incident rather than during it."""
    if network.n_nodes == 0:
        return
    # the loops a query needs only now and then: locating points along roads, drawing the
    # coverage polygon where distances alone cannot tell whether a camera watches
    network.points_along([0], [0.0])
    if len(index):
        index.coverage([0], level=DEFAULT_DORI_LEVEL)
    lon, lat = xy_to_lonlat(network.node_x[:1], network.node_y[:1], crs=network.crs)
    for mode in CORDON_MODES:
        # a node too near the data's edge answers with an error: the first query warms up then
        options = CordonOptions(radius_m=200.0, mode=mode, direction="both")
        with contextlib.suppress(GilmokError):
            answer_incident(network, index, (float(lon[0]), float(lat[0])), options).to_geojson(
                arrays=True
            )


def warm_up_on_a_sample(crs: str) -> None:
    """:func:`warm_up` on a small made-up grid of streets with a few cameras (no registry
    needed): loads every compiled loop a query uses into this process.

    ``gilmok serve`` calls it in its master process before the workers fork, so that each
    worker inherits the loaded loops (their pages shared) instead of loading its own copy
    (about a second and a hundred megabytes apiece)."""
    import numpy as np
    import pandas as pd
    import shapely

    from geo.crs import lonlat_to_xy
    from geo.index import build_coverage_index
    from geo.network import build_road_network

    step, half = 100.0, 10  # a 2 km square, streets every 100 m
    x0, y0 = lonlat_to_xy(np.array([126.9769]), np.array([37.5759]), crs=crs)
    ticks = np.arange(-half, half + 1) * step
    ids = {(i, j): 1 + (i + half) * (2 * half + 1) + (j + half) for i in range(-half, half + 1)
           for j in range(-half, half + 1)}  # fmt: skip
    edges = [((0, 0), (1, 0))]  # the first segment starts at the centre: node 0, far from edges
    edges += [((i, j), (i + 1, j)) for i in range(-half, half) for j in range(-half, half + 1)]
    edges += [((i, j), (i, j + 1)) for i in range(-half, half + 1) for j in range(-half, half)]
    edges = list(dict.fromkeys(edges))
    lines = [
        shapely.linestrings(
            [[x0[0] + ticks[a[0] + half], y0[0] + ticks[a[1] + half]],
             [x0[0] + ticks[b[0] + half], y0[0] + ticks[b[1] + half]]]
        )
        for a, b in edges
    ]  # fmt: skip
    segments = pd.DataFrame({
        "u": [ids[a] for a, _ in edges], "v": [ids[b] for _, b in edges],
        "oneway": [k % 7 == 0 for k in range(len(edges))], "geometry": lines,
        "name": [f"{k % 5}길" for k in range(len(edges))], "highway": "primary",
    })  # fmt: skip
    network = build_road_network(segments, crs=crs, segments_crs=crs)
    cameras = pd.DataFrame({
        "id": [1, 2, 3], "x": x0[0] + np.array([20.0, -150.0, 60.0]),
        "y": y0[0] + np.array([5.0, 40.0, -120.0]), "kind": ["fixed", "ptz", "dome"],
        "heading_deg": [90.0, np.nan, np.nan], "heading_source": ["surveyed", "unknown", "unknown"],
    })  # fmt: skip
    index = build_coverage_index(cameras, crs=crs)
    warm_up(network, index)
