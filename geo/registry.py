"""The registry held in memory: the road networks and the camera coverage index one process
answers queries from, whichever store it was read from.

:class:`RegistrySnapshot` is built from plain columns by :func:`geo.store.snapshot.load_snapshot`
(PostGIS) and by :func:`geo.gpkg.load_registry_gpkg` (a GeoPackage); both number road segments
and cameras along the same Hilbert curve (:func:`segments_in_space_order`,
:func:`cameras_in_space_order`), so the two give the same answers row for row. Pure: no
database, no web framework.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pandas as pd
import shapely

from geo.crs import LONLAT_CRS, get_transformer
from geo.errors import NoRoadData, OutsideCoverageArea
from geo.incident import warm_up
from geo.index import CoverageIndex, build_coverage_index
from geo.network import RoadNetwork, hilbert_order, spatial_order


@dataclass(frozen=True)
class NetworkSnapshot:
    """One imported road network: its name and extent, and its roads (``roads``) as the
    routing structure the cordon query walks."""

    id: int
    name: str
    extent: shapely.Geometry
    roads: RoadNetwork


def segments_in_space_order(segments: pd.DataFrame) -> pd.DataFrame:
    """Road segments (a ``geometry`` column) along a Hilbert curve, as every snapshot numbers
    them (:func:`geo.network.spatial_order`), the PostGIS one and the GeoPackage one alike."""
    return segments.take(spatial_order(segments["geometry"])).reset_index(drop=True)


def cameras_in_space_order(cameras: pd.DataFrame) -> pd.DataFrame:
    """Cameras (``x``/``y`` columns) along a Hilbert curve, as every snapshot indexes them
    (:func:`geo.network.hilbert_order`)."""
    x = cameras["x"].to_numpy(dtype=float)
    y = cameras["y"].to_numpy(dtype=float)
    return cameras.take(hilbert_order(x, y)).reset_index(drop=True)


@dataclass
class RegistrySnapshot:
    """The road graphs and coverage index one process answers queries from."""

    networks: list[NetworkSnapshot]
    cameras: pd.DataFrame
    index: CoverageIndex
    crs: str
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    #: the registry's camera change sequence the snapshot reflects (changes after it are
    #: applied in memory: :class:`geo.live_index.LiveCoverageIndex`)
    change_seq: int = 0

    @classmethod
    def build(
        cls,
        networks: list[NetworkSnapshot],
        cameras: pd.DataFrame,
        *,
        crs: str,
        max_range_m: float,
        started: float,
    ) -> RegistrySnapshot:
        """Index the cameras, warm the query up and count what is loaded; ``started`` is a
        perf_counter value."""
        index = build_coverage_index(cameras, max_range_m=max_range_m, crs=crs)
        return cls.assemble(networks, cameras, index, crs=crs, started=started)

    @classmethod
    def assemble(
        cls,
        networks: list[NetworkSnapshot],
        cameras: pd.DataFrame,
        index: CoverageIndex,
        *,
        crs: str,
        started: float,
    ) -> RegistrySnapshot:
        """The snapshot of parts already built (:mod:`geo.snapshot_arrays` maps them from a
        file): warm the query up and count what is loaded."""
        for net in networks:
            warm_up(net.roads, index)
        return cls(
            networks=networks,
            cameras=cameras,
            index=index,
            crs=crs,
            seconds=time.perf_counter() - started,
            counts={
                "road_networks": len(networks),
                "road_segments": sum(len(n.roads.seg_length) for n in networks),
                "cameras": len(cameras),
            },
        )

    def network_for(self, lon: float, lat: float) -> NetworkSnapshot:
        """The largest road network whose extent holds the point.

        Raises
        ------
        NoRoadData
            when no road network is loaded.
        OutsideCoverageArea
            when the point lies outside every loaded network.
        """
        if not self.networks:
            raise NoRoadData("no road network is loaded: run `gilmok import roads FILE` first")
        x, y = get_transformer(LONLAT_CRS, self.crs).transform(float(lon), float(lat))
        for net in self.networks:
            if net.roads.covers(x, y):
                return net
        names = ", ".join(n.name for n in self.networks)
        raise OutsideCoverageArea(
            f"({lon:.6f}, {lat:.6f}) is outside the loaded road data ({names})",
            details={"lon": lon, "lat": lat},
        )
