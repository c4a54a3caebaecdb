"""Read a whole table out of PostGIS as a few hundred rows of packed columns.

A snapshot reads millions of rows (2.0 M road segments, 1.6 M cameras at national scale).
Row by row, the client spends more time taking rows than the server spends sending them. The
statements under ``sql/snapshot/*_blocks.sql`` group the rows in blocks of ids and pack each
column of a block into one ``bytea``: numbers in their binary send form (``int8send``,
``float8send``, ``boolsend``: big-endian), texts one after the other beside their byte lengths
(``-1`` where missing), geometries as little-endian WKB one after the other. Here the blocks
become numpy arrays and Arrow strings without a Python object per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray
from psycopg.rows import namedtuple_row
from sqlalchemy import TextClause
from sqlalchemy.engine import Connection

from geo.errors import InvalidInput
from geo.kernels.build import linestring_counts
from geo.store.queries import query

#: The wire type of each kind of packed number (binary send forms are big-endian).
NUMBER = {"int8": ">i8", "int4": ">i4", "float8": ">f8", "bool": "?"}


def read_blocks(conn: Connection, statement: TextClause, params: dict[str, Any]) -> list[Any]:
    """The rows of a ``*_blocks.sql`` statement, each column as the bytes it packs (taken in
    PostgreSQL's binary format: no hex to decode)."""
    conn.execute(query("snapshot/without_jit"))
    raw = conn.connection.driver_connection
    assert raw is not None
    compiled = statement.compile(dialect=conn.dialect).string
    with raw.cursor(binary=True, row_factory=namedtuple_row) as cur:
        cur.execute(compiled, params)
        return cur.fetchall()


def records(
    blocks: Sequence[Any], fields: Sequence[tuple[str, str]], column: str = "rec"
) -> dict[str, NDArray[Any]]:
    """The fixed records of ``column`` over every block, one per row, laid out as ``fields``
    (name, kind of :data:`NUMBER`) in that order: each field as a writable array in native
    byte order.

    Raises
    ------
    InvalidInput
        when the records do not divide into whole rows of that layout.
    """
    wire = np.dtype([(name, NUMBER[kind]) for name, kind in fields])
    data = b"".join(bytes(getattr(row, column)) for row in blocks)
    if len(data) % wire.itemsize:
        raise InvalidInput(f"column {column!r}: the packed records are not whole")
    packed = np.frombuffer(data, dtype=wire)
    return {name: packed[name].astype(packed[name].dtype.newbyteorder("=")) for name, _ in fields}


def texts(blocks: Sequence[Any], column: str, lengths: NDArray[Any]) -> pd.Series:
    """The packed texts of ``column`` over every block, cut by their byte ``lengths`` (-1
    where missing), as an Arrow-backed string Series (missing where the length is -1)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    data = b"".join(bytes(getattr(row, column)) for row in blocks)
    missing = lengths < 0
    offsets = np.zeros(lengths.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.where(missing, 0, lengths), out=offsets[1:])
    if offsets[-1] != len(data):
        raise InvalidInput(f"column {column!r}: the packed texts do not add up to their lengths")
    array = pa.LargeStringArray.from_buffers(
        lengths.shape[0], pa.py_buffer(offsets), pa.py_buffer(data)
    )
    array.validate(full=True)  # valid UTF-8 and offsets, before anything reads it
    if missing.any():
        array = pc.if_else(pa.array(missing), pa.nulls(len(array), pa.large_string()), array)
    return pd.Series(array.to_pandas(), copy=False)


def linestring_vertices(wkb: bytes) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """The vertices ((m, 2)) and vertex counts of 2-D LineStrings given as little-endian WKB
    one after the other: the headers walked (each checked: little-endian, type 2, within the
    bytes) and cut out, no geometry object made.

    Raises
    ------
    InvalidInput
        when a geometry is not a 2-D little-endian LineString.
    """
    raw = np.frombuffer(wkb, dtype=np.uint8)
    npoints, ok = linestring_counts(raw)
    if not ok:
        raise InvalidInput("every road segment geometry must be a 2-D LineString")
    sizes = 9 + 16 * npoints
    starts = np.zeros(sizes.shape[0], dtype=np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    keep = np.ones(raw.shape[0], dtype=bool)
    keep[(starts[:, None] + np.arange(9)).reshape(-1)] = False
    return raw[keep].view("<f8").reshape(-1, 2), npoints
