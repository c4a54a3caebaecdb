"""Compiled loops of the incident query's hot path (numba), one module per domain.

One incident touches a few hundred nodes and a few dozen segments. Written as numpy
expressions, each step costs tens of small array operations of a few microseconds each; these
loops do the same arithmetic, in the same order and with the same formulas as the numpy
versions they replace (so the answers are bit for bit those the property tests check), in one
call per step.

- :mod:`geo.kernels.arrays`: argument coercion and the one sort helper the others share;
- :mod:`geo.kernels.lines`: points, pieces and substrings along lines given as flat vertices;
- :mod:`geo.kernels.grid`: the uniform grid over segment boxes, and snapping a point with it;
- :mod:`geo.kernels.graph`: the bounded shortest-path search and the road a cordon covers;
- :mod:`geo.kernels.cordon`: crossings of a cordon's bound grouped into approaches;
- :mod:`geo.kernels.sectors`: coverage sectors' rings;
- :mod:`geo.kernels.watch`: which cameras may watch which lines, and their ranking.

Every function here is pure: arrays in, new arrays out. The one exception is the ``scratch``
array of :func:`geo.kernels.graph.bounded_search`, a per-thread buffer of node distances that
the search leaves as it found it (all ``inf``).

A loop called from Python with many arrays takes the fields of named structures
(``NamedTuple``: :class:`~geo.kernels.lines.Polylines`, :class:`~geo.kernels.grid.Grid`,
:class:`~geo.kernels.cordon.CordonSpec`, ...) that its callers spread into it, as in
``snap_in_grid(*network.seg_grid, *network.polylines, x, y, near_m, max_m)``: numba accepts a
namedtuple argument, but its dispatch costs about a microsecond more per namedtuple than the
same arrays passed flat (measured), and the incident query makes a handful of such calls in
~0.3 ms. :func:`geo.kernels.arrays.fields_of` checks, when a module is imported, that a
loop's first parameters are the structures' fields in order. A loop with many results returns
a plain tuple of a structure's fields, which the caller names with the structure's ``_make``
(numba would box a namedtuple result through its Python constructor), one array per column
type with a row per column (each array boxed costs about half a microsecond).

Compiled code is cached beside these files (``cache=True``): the first process on a fresh
checkout compiles for a few seconds, later ones load it in milliseconds. Numba invalidates a
cached loop only when its own file changes, not when a loop it calls in another file does;
so importing this package first drops the package's cached code whenever any of its files
changed since the code was cached (:func:`drop_stale_compiled_code`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

#: Where numba caches the package's compiled code (beside the sources), and the digest of the
#: sources that code was compiled from.
_HERE = Path(__file__).resolve().parent
_CACHE = _HERE / "__pycache__"
_STAMP = _CACHE / "kernels-sources.sha256"


def sources_digest(folder: Path = _HERE) -> str:
    """SHA-256 over the package's Python files (names and contents, in name order)."""
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def drop_stale_compiled_code(folder: Path = _HERE) -> bool:
    """Delete numba's cached code in ``folder/__pycache__`` unless it was compiled from the
    package's current sources; True when something was stale. A folder that cannot be
    written (an install read-only to this user) is left alone: numba then caches elsewhere."""
    cache = folder / "__pycache__"
    stamp = cache / _STAMP.name
    want = sources_digest(folder)
    try:
        if stamp.read_text() == want:
            return False
    except OSError:
        pass
    try:
        for path in [*cache.glob("*.nbi"), *cache.glob("*.nbc")]:
            path.unlink(missing_ok=True)
        cache.mkdir(exist_ok=True)
        partial = cache / f"{stamp.name}.{os.getpid()}"
        partial.write_text(want)
        os.replace(partial, stamp)
    except OSError:
        return False
    return True


drop_stale_compiled_code()
