"""Cordons and their approaches: where roads cross into (or out of) the area around an incident.

Definitions (issue 4; the API and the tests depend on them):

- Cordon of radius R around the incident P: ``network`` mode measures along the roads from the
  point where P snaps onto its nearest segment; ``euclidean`` mode is the circle of radius R
  around P. A time-based cordon sets ``R = speed × time``.
- **Approach** (``direction="inbound"``): a directed edge u→v that the travel mode may use with
  ``dist_to(u) > R >= dist_to(v)`` (network) or that crosses the circle inward (euclidean).
  Its **entry point** is on the edge at exactly R from P.
- **Exit** (``direction="outbound"``): an edge with ``dist_from(u) <= R < dist_from(v)``, or
  crossing the circle outward; the exit point is at exactly R.
- **Watch stretch**: the road from ``watch_m`` before to ``watch_m`` after the crossing point in
  the direction of travel (outside→inside for an approach, inside→outside for an exit),
  following the segment's geometry and clipped at the segment's ends: it never turns into
  another road at an intersection, where it could not say which.
- **Bearing**: direction of travel at the crossing point, degrees clockwise from true north.
- **Main approach**: motorway, trunk, primary, secondary and their links.
- Crossings of one road (same name, else same ref, else same OSM way) in the same direction
  (bearings less than 90° apart) whose points lie within ``merge_m`` of each other are one
  approach (chains of such crossings too). A dual carriageway's two halves thus stay two when
  their directions differ.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from geo.cordon import DEFAULT_CORDON, CordonOptions
from geo.crs import LONLAT_CRS, get_transformer, xy_to_lonlat
from geo.errors import InvalidInput
from geo.kernels.cordon import CordonSpec, CordonTable, NetworkBound, cordon_table
from geo.network import (
    Reach,
    RoadNetwork,
    SnappedPoint,
    lines_from_vertices,
    road_distances,
    snap_to_road,
)

#: Two crossings of one road whose travel bearings differ by this much or more are two approaches.
SAME_DIRECTION_DEG = 90.0


#: ``direction`` by ``outbound`` (False, True).
_DIRECTION_NAMES = np.array(["inbound", "outbound"])
#: The ``outbound`` flag of each direction searched.
_OUTBOUND_FLAGS = {
    name: np.array(flags)
    for name, flags in {"inbound": (False,), "outbound": (True,), "both": (False, True)}.items()
}
#: The network bound of a circle: none.
_NO_BOUND = NetworkBound(
    np.empty(0, dtype=np.int64), np.empty(0), np.empty(0, dtype=np.int64), np.empty(0), np.empty(0)
)


@dataclass(frozen=True, eq=False)
class Approaches:
    """Approaches and exits of one cordon, as parallel arrays (one entry per approach).

    Attributes
    ----------
    direction
        ``"inbound"`` (approach) or ``"outbound"`` (exit).
    segment, forward, offset_m
        The crossing: segment row, whether travel runs along its geometry (u→v), and the
        crossing point's distance along the geometry from u, metres.
    x, y
        Crossing point, metres (working CRS).
    bearing_deg
        Direction of travel at the crossing point, degrees clockwise from true north.
    name, highway, ref, osm_way_id
        The road's attributes.
    main
        Whether it is a main approach (motorway, trunk, primary, secondary and links).
    stretch_x, stretch_y, stretch_part, stretch_owner
        Watch stretches as vertices (working CRS): ``stretch_part`` numbers each vertex's
        stretch, ``stretch_owner`` each stretch's approach (both ascending); as shapely
        geometries, :attr:`stretch`.
    member_seg, member_ptr
        Segment rows of every crossing merged into approach ``i``:
        ``member_seg[member_ptr[i]:member_ptr[i + 1]]`` (also as :attr:`members`).
    stretch_bounds
        Bounding box (minx, miny, maxx, maxy) of each approach's watch stretch, when known.
    """

    direction: NDArray[np.str_]
    segment: NDArray[np.int64]
    forward: NDArray[np.bool_]
    offset_m: NDArray[np.float64]
    x: NDArray[np.float64]
    y: NDArray[np.float64]
    bearing_deg: NDArray[np.float64]
    name: NDArray[np.object_]
    highway: NDArray[np.object_]
    ref: NDArray[np.object_]
    osm_way_id: NDArray[np.int64]
    main: NDArray[np.bool_]
    stretch_x: NDArray[np.float64]
    stretch_y: NDArray[np.float64]
    stretch_part: NDArray[np.int64]
    stretch_owner: NDArray[np.int64]
    member_seg: NDArray[np.int64]
    member_ptr: NDArray[np.int64]
    stretch_bounds: NDArray[np.float64] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return int(self.segment.shape[0])

    @functools.cached_property
    def stretch(self) -> NDArray[np.object_]:
        """Watch stretch of each approach: a LineString, or a MultiLineString for merged
        crossings (working CRS). Built on first use: the query itself works on the vertices."""
        return lines_from_vertices(
            self.stretch_x, self.stretch_y, self.stretch_part, self.stretch_owner, len(self)
        )

    @property
    def members(self) -> tuple[NDArray[np.int64], ...]:
        """Per approach, the segment rows of every crossing merged into it."""
        bounds = self.member_ptr.tolist()
        return tuple(self.member_seg[a:b] for a, b in itertools.pairwise(bounds))


@dataclass(frozen=True, eq=False)
class Cordon:
    """The answer of :func:`find_approaches`: the cordon and its approaches.

    ``incomplete`` is True when the cordon reaches the edge of the loaded road data: approaches
    beyond it are unknown, not absent. ``reaches`` holds the road distances (network mode) used
    to draw the cordon.
    """

    incident_lon: float
    incident_lat: float
    incident_x: float
    incident_y: float
    snap: SnappedPoint
    options: CordonOptions
    incomplete: bool
    approaches: Approaches
    crs: str
    reaches: tuple[Reach, ...] = field(default=(), repr=False)

    @property
    def radius_m(self) -> float:
        """R in metres, resolved from the options (a radius, or minutes at a speed)."""
        return self.options.radius

    @property
    def mode(self) -> str:
        return self.options.mode

    @property
    def direction(self) -> str:
        return self.options.direction

    @property
    def travel(self) -> str:
        return self.options.travel


def _position_and_north(lon: float, lat: float, crs: str) -> tuple[float, float, float]:
    """x, y (working CRS) of a lon/lat point and the grid azimuth of true north there, in one
    transform call (as :func:`geo.crs.north_azimuth_deg` computes it)."""
    step = 1e-4
    transform = get_transformer(LONLAT_CRS, crs).transform
    x0, y0 = transform(lon, lat)
    x1, y1 = transform(lon, lat + step)
    return x0, y0, math.degrees(math.atan2(x1 - x0, y1 - y0))


def find_approaches(
    network: RoadNetwork,
    incident: tuple[float, float],
    options: CordonOptions = DEFAULT_CORDON,
    *,
    watch_m: float = 50.0,
    merge_m: float = 30.0,
    xy: bool = False,
) -> Cordon:
    """The cordon around an incident and the approaches (and/or exits) crossing it.

    Parameters
    ----------
    network
        From :func:`geo.network.build_road_network`.
    incident
        (lon, lat) in degrees, or (x, y) metres in the working CRS when ``xy`` is True.
    options
        The cordon's size (a radius of 50–5,000 m, default 500, or minutes at a speed), mode
        (``network`` along the roads or ``euclidean``), direction (``inbound`` approaches,
        ``outbound`` exits, or ``both``) and travel (``drive``: one-way streets respected, or
        ``foot``); see :class:`geo.cordon.CordonOptions`, which checks them when made.
    watch_m
        Half-length of the watch stretch, metres.
    merge_m
        Crossings of one road in one direction within this distance are one approach, metres.

    Raises
    ------
    InvalidInput
        for a watch or merge distance out of range, or a position that is not lon/lat.
    OutsideCoverageArea
        when the incident is outside the loaded road data or farther than R from any road.

    Examples
    --------
    >>> import pandas as pd
    >>> import shapely
    >>> from geo.network import build_road_network
    >>> segs = pd.DataFrame({"u": [1, 2], "v": [2, 3], "oneway": [False, True],
    ...                      "name": ["a", "b"], "highway": ["primary", "residential"],
    ...                      "geometry": [shapely.LineString([(0, 0), (1000, 0)]),
    ...                                   shapely.LineString([(1000, 0), (1000, 1000)])]})
    >>> net = build_road_network(segs, segments_crs="EPSG:5179",
    ...                          extent=shapely.box(-5e3, -5e3, 5e3, 5e3))
    >>> options = CordonOptions(radius_m=300, direction="both")
    >>> cordon = find_approaches(net, (400.0, 10.0), options, xy=True)
    >>> a = cordon.approaches
    >>> list(zip(a.direction.tolist(), a.forward.tolist(), a.offset_m.round(1).tolist()))
    ... # doctest: +NORMALIZE_WHITESPACE
    [('inbound', True, 100.0), ('inbound', False, 700.0),
     ('outbound', True, 700.0), ('outbound', False, 100.0)]
    """
    r, mode, travel = options.radius, options.mode, options.travel
    if not 0 < watch_m <= 1000 or not 0 <= merge_m <= 1000:
        raise InvalidInput("watch_m must be in (0, 1000] m and merge_m in [0, 1000] m")
    if xy:
        px, py = float(incident[0]), float(incident[1])
        lon_a, lat_a = xy_to_lonlat([px], [py], crs=network.crs)
        lon, lat = float(lon_a[0]), float(lat_a[0])
    else:
        lon, lat = float(incident[0]), float(incident[1])
        if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180
                and -90 <= lat <= 90):  # fmt: skip
            raise InvalidInput(f"({lon}, {lat}) is not a lon/lat position in degrees")
    px, py, north = _position_and_north(lon, lat, network.crs)
    if xy:
        px, py = float(incident[0]), float(incident[1])
    snap = snap_to_road(network, px, py, max_distance_m=r)
    outbound_flags = _OUTBOUND_FLAGS[options.direction]
    if mode == "network":
        reaches = tuple(
            road_distances(network, snap, radius_m=r, travel=travel, toward=not outbound)
            for outbound in outbound_flags
        )
        if len(reaches) == 1:
            rec, along = reaches[0].crossing_rec, reaches[0].crossing_along
        else:
            rec = np.concatenate([reach.crossing_rec for reach in reaches])
            along = np.concatenate([reach.crossing_along for reach in reaches])
        rec_ptr = np.array([0, *itertools.accumulate(r.crossing_rec.shape[0] for r in reaches)])
        end_a = np.array([reach.end_dist[0] for reach in reaches])
        end_b = np.array([reach.end_dist[1] for reach in reaches])
        bound = NetworkBound(rec, along, rec_ptr, end_a, end_b)
        incomplete = any(reach.reaches_edge for reach in reaches) or (
            network.distance_to_edge(snap.x, snap.y) <= r
        )
    else:
        reaches = ()
        bound = _NO_BOUND
        incomplete = network.distance_to_edge(px, py) <= r
    spec = CordonSpec(
        mode == "network", outbound_flags, px, py, snap.segment, snap.offset_m, r,
        travel != "drive", float(watch_m), float(merge_m), SAME_DIRECTION_DEG, north,
    )  # fmt: skip
    table = CordonTable._make(
        cordon_table(
            *spec,
            *bound,
            *network.polylines,
            *network.seg_grid,
            *network.segment_attrs,
            *network.graph(travel).records(toward=True),
        )
    )
    seg = table.segment
    forward, outbound, main = table.flags
    offset_m, x, y, bearing_deg = table.values
    approaches = Approaches(
        direction=_DIRECTION_NAMES[outbound.view(np.int8)],
        segment=seg,
        forward=forward,
        offset_m=offset_m,
        x=x,
        y=y,
        bearing_deg=bearing_deg,
        name=network.seg_name[seg],
        highway=network.seg_highway[seg],
        ref=network.seg_ref[seg],
        osm_way_id=network.seg_way[seg],
        main=main,
        stretch_x=table.stretch_xy[0],
        stretch_y=table.stretch_xy[1],
        stretch_part=table.stretch_part,
        stretch_owner=table.stretch_owner,
        member_seg=table.member_seg,
        member_ptr=table.member_ptr,
        stretch_bounds=table.stretch_bounds,
    )
    return Cordon(
        incident_lon=lon,
        incident_lat=lat,
        incident_x=px,
        incident_y=py,
        snap=snap,
        options=options,
        incomplete=incomplete,
        approaches=approaches,
        crs=network.crs,
        reaches=reaches,
    )
