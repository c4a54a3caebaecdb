"""What every kernel module shares: arguments as the one array layout the loops are compiled
for, the check that a compiled loop takes the fields of its structures, and a stable sort."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
from numba import njit
from numpy.typing import ArrayLike, NDArray

_Loop = TypeVar("_Loop", bound=Callable[..., Any])


def ints(values: ArrayLike) -> NDArray[np.int64]:
    """``values`` as a writable C-contiguous int64 vector (one compiled variant per kernel).

    Examples
    --------
    >>> ints([3, 1]).dtype, ints(5).shape
    (dtype('int64'), (1,))
    """
    if (
        type(values) is np.ndarray
        and values.dtype == np.int64
        and values.ndim == 1
        and values.flags.c_contiguous
        and values.flags.writeable
    ):
        return values
    return np.require(np.asarray(values, dtype=np.int64).reshape(-1), requirements=["C", "W"])


def floats(values: ArrayLike, n: int | None = None) -> NDArray[np.float64]:
    """``values`` (broadcast to length ``n`` when given) as a writable C-contiguous float64
    vector.

    Examples
    --------
    >>> floats(2, 3)
    array([2., 2., 2.])
    """
    if (
        type(values) is np.ndarray
        and values.dtype == np.float64
        and values.ndim == 1
        and (n is None or values.shape[0] == n)
        and values.flags.c_contiguous
        and values.flags.writeable
    ):
        return values
    array = np.asarray(values, dtype=np.float64)
    if n is not None and array.shape != (n,):
        array = np.broadcast_to(array, (n,))
    return np.require(array.reshape(-1), requirements=["C", "W"])


def fields_of(*structures: type[tuple[Any, ...]]) -> Callable[[_Loop], _Loop]:
    """Decorator for a compiled loop whose callers spread ``structures`` (NamedTuple classes)
    into its first arguments: raises TypeError, when the module is imported, unless its first
    parameters are their fields, in order (so that no array lands in another's place).

    Examples
    --------
    >>> from typing import NamedTuple
    >>> class Point(NamedTuple):
    ...     x: float
    ...     y: float
    >>> @fields_of(Point)
    ... def scaled(y, x, factor):
    ...     return x * factor, y * factor
    Traceback (most recent call last):
    ...
    TypeError: scaled takes (y, x, factor), not the fields of Point first: (x, y)
    """
    want = tuple(name for structure in structures for name in structure._fields)  # type: ignore[attr-defined]

    def check(loop: _Loop) -> _Loop:
        function: Callable[..., Any] = getattr(loop, "py_func", loop)
        got = tuple(inspect.signature(function).parameters)
        if got[: len(want)] != want:
            names = ", ".join(s.__name__ for s in structures)
            raise TypeError(
                f"{function.__name__} takes ({', '.join(got)}), not the fields of {names} first: "
                f"({', '.join(want)})"
            )
        return loop

    return check


@njit(cache=True, nogil=True)
def stable_order(order, key):
    """``order`` re-sorted stably by ``key[order]`` (one pass of a lexicographic sort)."""
    return order[np.argsort(key[order], kind="mergesort")]
