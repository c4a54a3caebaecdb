"""geo.kernels: the compiled loops' cache follows every file of the package, and a loop's
parameters are the fields of the structures its callers spread into it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

import geo
from geo.kernels import drop_stale_compiled_code, sources_digest
from geo.kernels.arrays import fields_of

# A loop in grid.py calling a loop in lines.py: the answer shows which snap_point ran.
SNAP = """
import numpy as np
from geo.kernels.grid import build_grid, snap_in_grid
from geo.kernels.lines import Polylines
lines = Polylines(np.array([0, 2]), np.array([0.0, 100.0]), np.array([0.0, 100.0]),
                  np.array([0.0, 0.0]), np.array([100.0]))
grid = build_grid(np.array([[0.0, 0.0, 100.0, 0.0]]))
print(snap_in_grid(*grid, *lines, 40.0, 5.0, 50.0, 50.0)[1])
"""


@pytest.mark.slow  # compiles a loop twice in fresh processes: 10-20 s
def test_a_change_in_one_kernel_file_recompiles_the_loops_of_the_others(tmp_path: Path) -> None:
    """Numba checks only a loop's own file; editing lines.py must still reach grid.py's loop."""
    copy = tmp_path / "geo"
    shutil.copytree(Path(geo.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["PYTHONPATH"] = str(tmp_path)

    def snapped_offset() -> str:
        done = subprocess.run(
            [sys.executable, "-c", SNAP], env=env, cwd=tmp_path, capture_output=True,
            text=True, check=True,
        )  # fmt: skip
        return done.stdout.strip()

    assert snapped_offset() == "40.0"
    assert list((copy / "kernels" / "__pycache__").glob("grid.snap_in_grid*.nbi"))
    lines = copy / "kernels" / "lines.py"
    source = lines.read_text()
    clipped = "offset = min(max(offset, 0.0), seg_length[s])"
    assert source.count(clipped) == 1
    lines.write_text(source.replace(clipped, clipped + "\n    offset = offset / 2"))
    assert snapped_offset() == "20.0"


def test_stale_compiled_code_is_dropped_once(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    compiled = [cache / "a.f-1.py311.nbi", cache / "a.f-1.py311.1.nbc"]
    bytecode = cache / "a.cpython-311.pyc"
    for path in [*compiled, bytecode]:
        path.write_bytes(b"")
    assert drop_stale_compiled_code(tmp_path)
    assert not any(path.exists() for path in compiled)
    assert bytecode.exists()
    compiled[0].write_bytes(b"")
    assert not drop_stale_compiled_code(tmp_path)
    assert compiled[0].exists()
    before = sources_digest(tmp_path)
    (tmp_path / "a.py").write_text("x = 2\n")
    assert sources_digest(tmp_path) != before
    assert drop_stale_compiled_code(tmp_path)
    assert not compiled[0].exists()


class Crossing(NamedTuple):
    seg: int
    offset: float


def test_a_loop_must_take_its_structures_fields_first_and_in_order() -> None:
    def good(seg, offset, extra):
        return seg, offset, extra

    assert fields_of(Crossing)(good) is good

    def swapped(offset, seg):
        return seg, offset

    with pytest.raises(TypeError, match=r"swapped takes \(offset, seg\).*Crossing first"):
        fields_of(Crossing)(swapped)
