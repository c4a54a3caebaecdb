"""A :class:`geo.registry.RegistrySnapshot` as named flat arrays and back: what
:mod:`geo.snapshot_file` writes once and every process maps.

Every structure the incident query reads is already numpy arrays (the road graph's CSR arrays,
the segments' vertices, the segment and camera grids, the cameras' parameters), so it is
written as it is and mapped back without a copy. What numpy cannot map is written in a form it
can, and made again on opening at a cost measured in milliseconds:

- text columns (road names, classes, refs; camera kinds, heading sources, owners) as
  dictionary codes (int32, -1 for none) with their distinct values (UTF-8 bytes and offsets);
  the network's columns and the index's are read through :class:`Labels` (indexed like the
  object arrays they stand for, without making millions of references per process), the
  camera table's become pandas categoricals;
- the extents as WKB in the metadata;
- the segments' LineStrings and the R-trees over segments and nodes are not written: the road
  network makes them from its vertex arrays on first use (:class:`geo.network.RoadNetwork`),
  and no incident query uses them.

Pure: no database, no web framework.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from typing import Any

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from geo.index import CoverageIndex
from geo.kernels.grid import Grid
from geo.network import RoadNetwork, TravelGraph
from geo.registry import NetworkSnapshot, RegistrySnapshot

Arrays = dict[str, NDArray[Any]]

_INDEX_LABELS = ("kind", "heading_source")
_INDEX_SKIP = ("crs", "max_range_m", "grid", "grow_m", "range_by_level", *_INDEX_LABELS)
_NETWORK_LABELS = ("seg_name", "seg_highway", "seg_ref")
_NETWORK_SKIP = ("crs", "extent", "extent_boundary", "graphs", "seg_grid", *_NETWORK_LABELS)


def encode_labels(values: Any) -> tuple[NDArray[np.int32], NDArray[np.uint8], NDArray[np.int64]]:
    """Text values as dictionary codes (-1 where missing) and their distinct values, UTF-8
    bytes one after the other with their offsets (n + 1).

    Examples
    --------
    >>> codes, blob, offsets = encode_labels(["a", None, "bé", "a"])
    >>> codes.tolist(), decode_values(blob, offsets).tolist()
    ([0, -1, 1, 0], ['a', 'bé'])
    """
    codes, uniques = pd.factorize(pd.Series(np.asarray(values, dtype=object), dtype=object))
    return (codes.astype(np.int32), *encode_values(uniques))


def encode_values(values: Any) -> tuple[NDArray[np.uint8], NDArray[np.int64]]:
    """Distinct text values as UTF-8 bytes one after the other and their offsets (n + 1)."""
    encoded = [str(v).encode() for v in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(), offsets


def decode_values(blob: NDArray[np.uint8], offsets: NDArray[np.int64]) -> NDArray[np.object_]:
    """The distinct values of :func:`encode_labels`, as an object array of str."""
    raw = blob.tobytes()
    out = np.empty(offsets.shape[0] - 1, dtype=object)
    out[:] = [raw[a:b].decode() for a, b in itertools.pairwise(offsets)]
    return out


def _put_labels(arrays: Arrays, name: str, values: Any) -> None:
    if isinstance(values, Labels) and values.encoded is not None:  # as mapped: the same arrays
        arrays[f"{name}.codes"] = values.codes
        arrays[f"{name}.values"], arrays[f"{name}.offsets"] = values.encoded
        return
    arrays[f"{name}.codes"], arrays[f"{name}.values"], arrays[f"{name}.offsets"] = encode_labels(
        values
    )


class Labels:
    """A text column held as dictionary codes (mapped) and its few distinct values, indexed as
    the object array it stands for: an int gives the text (None where missing), an array of
    ints, a mask or a slice an object array. No per-row Python object is made until asked."""

    def __init__(
        self,
        codes: NDArray[np.int32],
        values: NDArray[np.object_],
        encoded: tuple[NDArray[np.uint8], NDArray[np.int64]] | None = None,
    ) -> None:
        self.codes = codes
        #: the distinct values as mapped (UTF-8 bytes and offsets), when read from arrays
        self.encoded = encoded
        # code -1 (missing) takes the last value: None
        self.values = np.concatenate([values, np.array([None], dtype=object)])
        self.shape = codes.shape
        self.dtype = np.dtype(object)

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    def __getitem__(self, key: Any) -> Any:
        return self.values[self.codes[key]]

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> NDArray[Any]:
        out = self.values[self.codes]
        return out if dtype is None else out.astype(dtype)

    def tolist(self) -> list[Any]:
        """Every value, as a list."""
        return list(self.values[self.codes].tolist())


def _labels(arrays: Arrays, name: str) -> Any:
    """The labels ``name`` as :class:`Labels` (standing for an object array)."""
    blob, offsets = arrays[f"{name}.values"], arrays[f"{name}.offsets"]
    return Labels(arrays[f"{name}.codes"], decode_values(blob, offsets), (blob, offsets))


def _put_grid(arrays: Arrays, prefix: str, grid: Grid) -> dict[str, Any]:
    arrays[f"{prefix}.ptr"], arrays[f"{prefix}.entries"] = grid.ptr, grid.entries
    return {"x0": grid.x0, "y0": grid.y0, "cell": grid.cell, "nx": grid.nx, "ny": grid.ny}


def _grid(arrays: Arrays, prefix: str, bounds: NDArray[np.float64], meta: dict[str, Any]) -> Grid:
    return Grid(
        arrays[f"{prefix}.ptr"], arrays[f"{prefix}.entries"], bounds,
        float(meta["x0"]), float(meta["y0"]), float(meta["cell"]), int(meta["nx"]),
        int(meta["ny"]),
    )  # fmt: skip


def _network_arrays(arrays: Arrays, prefix: str, net: NetworkSnapshot) -> dict[str, Any]:
    roads = net.roads
    for f in dataclasses.fields(roads):
        if f.name not in _NETWORK_SKIP:
            arrays[f"{prefix}.{f.name}"] = getattr(roads, f.name)
    for name in _NETWORK_LABELS:
        _put_labels(arrays, f"{prefix}.{name}", getattr(roads, name))
    for travel, graph in roads.graphs.items():
        for f in dataclasses.fields(graph):
            if f.name != "travel":
                arrays[f"{prefix}.graph.{travel}.{f.name}"] = getattr(graph, f.name)
    return {
        "id": net.id,
        "name": net.name,
        "extent": shapely.to_wkb(roads.extent, hex=True),
        "net_extent": shapely.to_wkb(net.extent, hex=True),
        "crs": roads.crs,
        "travel": list(roads.graphs),
        "seg_grid": _put_grid(arrays, f"{prefix}.seg_grid", roads.seg_grid),
    }


def _network(arrays: Arrays, prefix: str, meta: dict[str, Any]) -> NetworkSnapshot:
    extent = shapely.from_wkb(meta["extent"])
    boundary = shapely.boundary(extent)
    shapely.prepare(extent)
    shapely.prepare(boundary)
    graphs = {
        travel: TravelGraph(
            travel,
            **{
                f.name: arrays[f"{prefix}.graph.{travel}.{f.name}"]
                for f in dataclasses.fields(TravelGraph)
                if f.name != "travel"
            },
        )
        for travel in meta["travel"]
    }
    plain: dict[str, Any] = {
        f.name: arrays[f"{prefix}.{f.name}"]
        for f in dataclasses.fields(RoadNetwork)
        if f.name not in _NETWORK_SKIP
    }
    labels: dict[str, Any] = {name: _labels(arrays, f"{prefix}.{name}") for name in _NETWORK_LABELS}
    roads = RoadNetwork(
        crs=meta["crs"], extent=extent, extent_boundary=boundary, graphs=graphs,
        seg_grid=_grid(arrays, f"{prefix}.seg_grid", plain["seg_bounds"], meta["seg_grid"]),
        **plain, **labels,
    )  # fmt: skip
    return NetworkSnapshot(
        id=int(meta["id"]),
        name=str(meta["name"]),
        extent=shapely.from_wkb(meta["net_extent"]),
        roads=roads,
    )


def _index_arrays(arrays: Arrays, index: CoverageIndex) -> dict[str, Any]:
    for f in dataclasses.fields(index):
        if f.name not in _INDEX_SKIP:
            arrays[f"index.{f.name}"] = np.asarray(getattr(index, f.name))
    for name in _INDEX_LABELS:
        _put_labels(arrays, f"index.{name}", getattr(index, name))
    for k, ranges in enumerate(index.range_by_level):
        arrays[f"index.range_by_level.{k}"] = ranges
    arrays["index.grid.bounds"] = index.grid.bounds
    return {
        "crs": index.crs,
        "max_range_m": index.max_range_m,
        "grow_m": list(index.grow_m),
        "levels": len(index.range_by_level),
        "grid": _put_grid(arrays, "index.grid", index.grid),
    }


def _index(arrays: Arrays, meta: dict[str, Any]) -> CoverageIndex:
    plain: dict[str, Any] = {
        f.name: arrays[f"index.{f.name}"]
        for f in dataclasses.fields(CoverageIndex)
        if f.name not in _INDEX_SKIP
    }
    return CoverageIndex(
        crs=meta["crs"],
        max_range_m=float(meta["max_range_m"]),
        grid=_grid(arrays, "index.grid", arrays["index.grid.bounds"], meta["grid"]),
        grow_m=tuple(float(g) for g in meta["grow_m"]),
        range_by_level=tuple(arrays[f"index.range_by_level.{k}"] for k in range(meta["levels"])),
        **plain,
        **{name: _labels(arrays, f"index.{name}") for name in _INDEX_LABELS},
    )


def _camera_arrays(arrays: Arrays, cameras: pd.DataFrame) -> list[list[str]]:
    columns = []
    for name in cameras.columns:
        if isinstance(cameras[name].dtype, pd.CategoricalDtype):  # codes already: kept
            cats = cameras[name].cat
            arrays[f"cameras.{name}.codes"] = cats.codes.to_numpy().astype(np.int32)
            arrays[f"cameras.{name}.values"], arrays[f"cameras.{name}.offsets"] = encode_values(
                cats.categories
            )
            columns.append([str(name), "labels"])
            continue
        values = cameras[name].to_numpy()
        if values.dtype.kind in "biuf":
            arrays[f"cameras.{name}"] = values
            columns.append([str(name), "array"])
        else:
            _put_labels(arrays, f"cameras.{name}", values)
            columns.append([str(name), "labels"])
    return columns


def _cameras(arrays: Arrays, columns: list[list[str]]) -> pd.DataFrame:
    data: dict[str, Any] = {}
    for name, kind in columns:
        if kind == "array":
            data[name] = arrays[f"cameras.{name}"]
        else:
            values = decode_values(arrays[f"cameras.{name}.values"],
                                   arrays[f"cameras.{name}.offsets"])  # fmt: skip
            data[name] = pd.Categorical.from_codes(
                arrays[f"cameras.{name}.codes"], categories=pd.Index(values, dtype=object)
            )
    return pd.DataFrame(data, copy=False)


def snapshot_arrays(snapshot: RegistrySnapshot) -> tuple[Arrays, dict[str, Any]]:
    """The snapshot as named arrays and JSON-able metadata (:func:`snapshot_from_arrays`)."""
    arrays: Arrays = {}
    meta = {
        "crs": snapshot.crs,
        "counts": dict(snapshot.counts),
        "build_seconds": snapshot.seconds,
        "networks": [
            _network_arrays(arrays, f"net{k}", net) for k, net in enumerate(snapshot.networks)
        ],
        "index": _index_arrays(arrays, snapshot.index),
        "cameras": _camera_arrays(arrays, snapshot.cameras),
    }
    return arrays, meta


def networks_from_arrays(arrays: Arrays, meta: dict[str, Any]) -> list[NetworkSnapshot]:
    """The road networks of :func:`snapshot_arrays`' output alone (their arrays used as they
    are): what a new version carries over when only its cameras changed."""
    return [_network(arrays, f"net{k}", m) for k, m in enumerate(meta["networks"])]


def snapshot_from_arrays(
    arrays: Arrays, meta: dict[str, Any], *, started: float | None = None
) -> RegistrySnapshot:
    """The snapshot of :func:`snapshot_arrays`, its arrays used as they are (mapped ones stay
    mapped), warmed up; ``started`` (a perf_counter value, default now) counts in ``seconds``."""
    t0 = time.perf_counter() if started is None else started
    networks = networks_from_arrays(arrays, meta)
    index = _index(arrays, meta["index"])
    cameras = _cameras(arrays, meta["cameras"])
    return RegistrySnapshot.assemble(networks, cameras, index, crs=meta["crs"], started=t0)
