"""Test fixtures of the spatial core: the real central-Seoul road network, read once."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pandas as pd

from geo.ingest.osm import read_road_network

# the folder the test command sets, else the one beside the checkout (as in conftest.py)
DATA_DIR = Path(
    os.environ.get("GILMOK_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")
)
SEOUL_GRAPHML = DATA_DIR / "seoul_central_drive.graphml"


@functools.cache
def seoul_segments() -> pd.DataFrame:
    """Segments of the central-Seoul drive network (lon/lat geometry running u→v)."""
    return read_road_network(SEOUL_GRAPHML).segments
