"""Heading inference for fixed cameras whose direction the registry does not give.

A fixed camera beside a road almost always looks along it. The nearest road segment gives the
camera's axis; which way along it is the question the data cannot always answer:

- on a **one-way** road the camera faces the oncoming traffic (where number plates and faces
  are seen; an enforcement camera must): one sense, inferred with a confidence that falls with
  the camera's distance from the road;
- on a **two-way** road both senses are possible: the axis is reported with both bearings and
  the heading stays unknown — drawing one sector would invent precision the data does not have.

Pure: takes a :class:`geo.network.RoadNetwork` and camera positions in its working CRS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from geo.network import RoadNetwork

#: A camera farther than this from every road is not given a heading, metres.
MAX_ROAD_DISTANCE_M = 25.0
#: Confidence of a one-way inference made right at the road; it falls linearly to half of
#: it at :data:`MAX_ROAD_DISTANCE_M`.
ONE_WAY_CONFIDENCE = 0.7
#: Half-width of an inferred heading's uncertainty, degrees (a camera looks along the road,
#: not exactly down its centre line).
INFERRED_UNCERTAINTY_DEG = 30.0


@dataclass(frozen=True)
class InferredHeadings:
    """Per camera (NaN / -1 where no road is near enough).

    Attributes
    ----------
    segment
        Row of the nearest road segment in the network, -1 if none within range.
    distance_m
        Distance to it, metres.
    axis_deg
        Grid bearing of the road at the nearest point in the direction of travel u→v,
        degrees clockwise from the working CRS's grid north.
    heading_deg
        Inferred grid heading (one-way roads: facing the oncoming traffic), NaN when both
        senses remain possible.
    senses
        1 (one-way road: one heading), 2 (two-way: both ``axis_deg`` and ``axis_deg + 180``),
        0 (no road near).
    confidence
        In [0, 1]: how much to trust ``heading_deg`` (0 where it is NaN).
    """

    segment: NDArray[np.int64]
    distance_m: NDArray[np.float64]
    axis_deg: NDArray[np.float64]
    heading_deg: NDArray[np.float64]
    senses: NDArray[np.int64]
    confidence: NDArray[np.float64]


def infer_headings(
    network: RoadNetwork,
    x: ArrayLike,
    y: ArrayLike,
    *,
    max_distance_m: float = MAX_ROAD_DISTANCE_M,
) -> InferredHeadings:
    """Infer fixed cameras' headings from the nearest road (positions in metres, working CRS).

    Examples
    --------
    >>> import pandas as pd
    >>> roads = pd.DataFrame({"u": [1], "v": [2], "oneway": [True],
    ...     "geometry": [shapely.LineString([(0, 0), (0, 100)])]})
    >>> from geo.network import build_road_network
    >>> net = build_road_network(roads, segments_crs="EPSG:5179")
    >>> out = infer_headings(net, [5.0, 500.0], [50.0, 50.0])
    >>> out.senses.tolist(), out.heading_deg.round().tolist()  # traffic goes north: face south
    ([1, 0], [180.0, nan])
    """
    px = np.atleast_1d(np.asarray(x, dtype=np.float64))
    py = np.atleast_1d(np.asarray(y, dtype=np.float64))
    n = px.shape[0]
    points = np.asarray(shapely.points(px, py), dtype=object).reshape(-1)
    found_cam, found_seg = network.seg_tree.query_nearest(
        points, max_distance=max_distance_m, all_matches=False
    )
    segment = np.full(n, -1, dtype=np.int64)
    segment[found_cam] = found_seg
    near = segment >= 0
    geoms = network.seg_geometry[segment[near]]
    distance = np.full(n, np.nan)
    distance[near] = shapely.distance(geoms, points[near])
    # The road's direction at the nearest point: a short chord around it along the geometry.
    along = shapely.line_locate_point(geoms, points[near])
    length = shapely.length(geoms)
    step = np.minimum(2.0, length / 2)
    a = shapely.line_interpolate_point(geoms, np.clip(along - step, 0, length))
    b = shapely.line_interpolate_point(geoms, np.clip(along + step, 0, length))
    dx = shapely.get_x(b) - shapely.get_x(a)
    dy = shapely.get_y(b) - shapely.get_y(a)
    axis = np.full(n, np.nan)
    axis[near] = np.mod(np.degrees(np.arctan2(dx, dy)), 360)
    oneway = np.zeros(n, dtype=bool)
    oneway[near] = network.seg_oneway[segment[near]]
    senses = np.where(near, np.where(oneway, 1, 2), 0).astype(np.int64)
    heading = np.where(senses == 1, np.mod(axis + 180, 360), np.nan)
    confidence = np.where(
        senses == 1,
        ONE_WAY_CONFIDENCE * (1 - 0.5 * np.nan_to_num(distance) / max_distance_m),
        0.0,
    )
    return InferredHeadings(
        segment=segment,
        distance_m=distance,
        axis_deg=axis,
        heading_deg=heading,
        senses=senses,
        confidence=confidence,
    )
