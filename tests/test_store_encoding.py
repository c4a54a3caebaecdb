"""The store's vectorised WKB writer says byte for byte what GEOS says."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.coverage import sector_polygons
from geo.store.loading import polygons_wkb_hex


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
)
def test_wkb_hex_matches_geos(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    polygons = sector_polygons(
        rng.uniform(9e5, 1.1e6, n),
        rng.uniform(1.8e6, 2.1e6, n),
        rng.uniform(0, 360, n),
        rng.choice([360.0, 60.0, 90.0, 1.5], n),
        rng.uniform(0.05, 200, n),
    )
    ours = polygons_wkb_hex(polygons).to_pylist()
    assert [h.upper() for h in ours] == list(shapely.to_wkb(polygons, hex=True))


def test_polygons_with_holes_are_refused() -> None:
    holed = shapely.Point(0, 0).buffer(10).difference(shapely.Point(0, 0).buffer(5))
    with pytest.raises(ValueError, match="without holes"):
        polygons_wkb_hex(np.array([holed], dtype=object))
