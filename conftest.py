"""What the doctests of ``geo`` (``--doctest-modules``) may name without importing: ``DATA_DIR``,
the real data folder (``GILMOK_DATA_DIR``, default ``../shared/data`` as for the tests)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _doctest_data_dir(doctest_namespace: dict[str, Any]) -> None:
    doctest_namespace["DATA_DIR"] = Path(
        os.environ.get("GILMOK_DATA_DIR", Path(__file__).resolve().parents[1] / "shared" / "data")
    )
