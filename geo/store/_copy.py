"""PostgreSQL binary ``COPY`` of column arrays: rows assembled without a Python loop per row.

A :class:`Column` is a byte buffer and, per row, where the row's value starts in it and how long
it is (-1 for NULL), the value already in PostgreSQL's binary wire format: big-endian numbers,
UTF-8 text, jsonb as a version byte and the JSON text, PostGIS geometry as EWKB. Rows may share
a value (:meth:`Column.take`): the cameras of one site point at one rendered provenance, the
cameras alike in position and lens at one coverage polygon. A compiled loop (numba, no GIL)
writes the rows, so a thread can keep computing while the server reads.

The binary format is checked field by field by the server (a wrong width or type is an error,
never a silent cast): compared with CSV, the server skips parsing numbers, hex and quoting,
which is most of its work on a large load.
"""

from __future__ import annotations

import itertools
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from numba import njit
from numpy.typing import ArrayLike, NDArray
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter
from sqlalchemy.engine import Connection

#: The binary COPY file header (signature, flags, no extension) and trailer.
HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)
TRAILER = struct.pack("!h", -1)

#: Rows per assembled block: a few tens of megabytes, sent while the next one is written.
ROWS_PER_BLOCK = 65_536


def _readonly(values: Any) -> NDArray[np.uint8]:
    """A read-only C-contiguous uint8 view (one array type for the compiled loop)."""
    array = np.frombuffer(memoryview(values).cast("B"), dtype=np.uint8)
    array.flags.writeable = False
    return array


@dataclass(frozen=True)
class Column:
    """Values of one COPY column: row i is ``data[start[i]:start[i] + length[i]]``, NULL if
    ``length[i] == -1``. ``data`` holds the values in PostgreSQL's binary format."""

    data: NDArray[np.uint8]
    start: NDArray[np.int64]
    length: NDArray[np.int64]

    def __len__(self) -> int:
        return int(self.start.shape[0])

    def take(self, rows: ArrayLike) -> Column:
        """The values of ``rows`` (positions into this column), sharing its buffer."""
        index = np.asarray(rows, dtype=np.int64)
        return Column(self.data, self.start[index], self.length[index])


def _fixed(values: NDArray[Any], valid: NDArray[np.bool_] | None) -> Column:
    n, width = values.shape[0], values.dtype.itemsize
    length = np.full(n, width, dtype=np.int64)
    if valid is not None:
        length[~valid] = -1
    return Column(_readonly(values.tobytes()), np.arange(n, dtype=np.int64) * width, length)


def int_column(values: ArrayLike, *, bits: int, valid: ArrayLike | None = None) -> Column:
    """Integers for an ``int4`` (``bits=32``) or ``int8`` (``bits=64``) column; rows where
    ``valid`` is False are NULL.

    Raises
    ------
    ValueError
        for a value that does not fit the column.
    """
    dtype = np.dtype(">i4") if bits == 32 else np.dtype(">i8")
    if bits not in (32, 64):
        raise ValueError(f"no {bits}-bit integer column")
    array = np.asarray(values)
    mask = None if valid is None else np.asarray(valid, dtype=bool)
    if array.dtype.kind == "f":  # a nullable column read as float: NaN is NULL
        nan = np.isnan(array)
        mask = ~nan if mask is None else mask & ~nan
        array = np.where(nan, 0, array)
    checked = array if mask is None else array[mask]
    info = np.iinfo(dtype)
    if checked.size and (checked.min() < info.min or checked.max() > info.max):
        raise ValueError(f"a value does not fit a {bits}-bit integer column")
    return _fixed(np.asarray(array, dtype=dtype), mask)


def float_column(values: ArrayLike) -> Column:
    """Floats for a ``float8`` column; NaN is NULL."""
    array = np.asarray(values, dtype=np.float64)
    return _fixed(array.astype(">f8"), ~np.isnan(array))


def text_column(values: ArrayLike | pa.Array, *, null_as: str | None = None) -> Column:
    """Strings for a ``text`` column (UTF-8); None is NULL, or ``null_as`` when given."""
    array = (
        values
        if isinstance(values, pa.Array)
        else pa.array(values, pa.large_string(), from_pandas=True)
    ).cast(pa.large_string())
    if null_as is not None and array.null_count:
        array = array.fill_null(null_as)
    _, offsets, data = array.buffers()
    n = len(array)
    bounds = np.frombuffer(offsets, dtype=np.int64, count=array.offset + n + 1)[array.offset :]
    length = np.diff(bounds)
    if array.null_count:
        length[~np.asarray(array.is_valid())] = -1
    return Column(_readonly(data if data is not None else b""), bounds[:-1].copy(), length)


def bytes_column(values: Sequence[bytes], *, prefix: bytes = b"") -> Column:
    """Byte strings, each after ``prefix`` (``b"\\x01"``, the version byte, for ``jsonb``)."""
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values)) + len(prefix)
    start = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return Column(_readonly(b"".join(prefix + v for v in values)), start, lengths)


def constant_column(value: bytes, n: int) -> Column:
    """The same bytes (already in the column's binary format) in every one of ``n`` rows."""
    return Column(_readonly(value), np.zeros(n, np.int64), np.full(n, len(value), np.int64))


def points_ewkb(x: ArrayLike, y: ArrayLike, *, srid: int) -> Column:
    """2-D points as little-endian EWKB with ``srid``, for a PostGIS ``geometry`` column.

    Coordinates are metres (or degrees) of that SRID; NaN coordinates are refused.
    """
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if np.isnan(xs).any() or np.isnan(ys).any():
        raise ValueError("points_ewkb takes no NaN coordinate")
    n = xs.shape[0]
    buf = np.empty((n, 25), dtype=np.uint8)
    buf[:, :9] = np.frombuffer(struct.pack("<BII", 1, 0x20000001, srid), dtype=np.uint8)
    buf[:, 9:] = np.column_stack([xs, ys]).astype("<f8").view(np.uint8)
    return Column(_readonly(buf), np.arange(n, dtype=np.int64) * 25, np.full(n, 25, np.int64))


def polygons_ewkb(polygons: NDArray[np.object_], *, srid: int) -> Column:
    """Simple polygons (one ring, no holes) as little-endian EWKB with ``srid``.

    GEOS's writer costs tens of microseconds a polygon; copying the bytes from the coordinate
    array in a compiled loop costs well under one. The bytes are those of
    ``shapely.to_wkb(shapely.set_srid(p, srid), include_srid=True, byte_order=1)``.

    Raises
    ------
    ValueError
        for a polygon with holes.
    """
    import shapely

    if np.any(shapely.get_num_interior_rings(polygons) != 0):
        raise ValueError("polygons_ewkb takes polygons without holes")
    coords = np.ascontiguousarray(shapely.get_coordinates(polygons), dtype="<f8")
    points = shapely.get_num_coordinates(polygons).astype(np.int64)
    sizes = 17 + 16 * points
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    out = np.empty(int(starts[-1]), dtype=np.uint8)
    header = np.frombuffer(struct.pack("<BIII", 1, 0x20000003, srid, 1), dtype=np.uint8)
    _write_polygons(out, starts, points, header, coords.view(np.uint8).reshape(-1))
    return Column(_readonly(out), starts[:-1], sizes)


@njit(cache=True, nogil=True)
def _write_polygons(out, starts, points, header, coord_bytes):
    """Each polygon's EWKB at its start: the header (byte order, type with the SRID flag,
    SRID, one ring), the ring's point count (little-endian), then its coordinates' bytes."""
    c = 0
    for i in range(points.shape[0]):
        p = starts[i]
        for k in range(header.shape[0]):
            out[p + k] = header[k]
        p += header.shape[0]
        n = points[i]
        for k in range(4):
            out[p + k] = (n >> (8 * k)) & 0xFF
        p += 4
        for k in range(16 * n):
            out[p + k] = coord_bytes[c + k]
        c += 16 * n


@njit(cache=True, nogil=True)
def _write_rows(out, data, start, length):
    """Rows of the binary COPY format into ``out``: field count, then per field its length
    (big-endian int32, -1 for NULL) and bytes."""
    n_fields, n = start.shape
    p = 0
    for i in range(n):
        out[p] = (n_fields >> 8) & 0xFF
        out[p + 1] = n_fields & 0xFF
        p += 2
        for j in range(n_fields):
            m = length[j, i]
            out[p] = (m >> 24) & 0xFF
            out[p + 1] = (m >> 16) & 0xFF
            out[p + 2] = (m >> 8) & 0xFF
            out[p + 3] = m & 0xFF
            p += 4
            if m > 0:
                src = data[j]
                s = start[j, i]
                for k in range(m):
                    out[p + k] = src[s + k]
                p += m
    return p


def encode_rows(columns: Sequence[Column], begin: int, end: int) -> NDArray[np.uint8]:
    """Rows ``begin:end`` of ``columns`` in the binary COPY format (no header, no trailer)."""
    start = np.stack([c.start[begin:end] for c in columns])
    length = np.stack([c.length[begin:end] for c in columns])
    size = (end - begin) * (2 + 4 * len(columns)) + int(np.maximum(length, 0).sum())
    out = np.empty(size, dtype=np.uint8)
    written = _write_rows(out, tuple(c.data for c in columns), start, length)
    assert written == size
    return out


def _encoded(
    blocks: Iterable[Mapping[str, Column]], names: list[str], rows_per_block: int
) -> Iterator[NDArray[np.uint8]]:
    for block in blocks:
        if list(block) != names:
            raise ValueError(f"a block has the columns {list(block)}, not {names}")
        columns = list(block.values())
        n = len(columns[0])
        if any(len(c) != n for c in columns):
            raise ValueError(f"columns differ in length: {sorted({len(c) for c in columns})}")
        for begin in range(0, n, rows_per_block):
            yield encode_rows(columns, begin, min(n, begin + rows_per_block))


#: ``COPY … FROM STDIN`` in each format the store sends; psycopg quotes the table and columns.
_COPY_IN = {
    "binary": sql.SQL("COPY {table} ({columns}) FROM STDIN (FORMAT binary)"),
    "csv": sql.SQL("COPY {table} ({columns}) FROM STDIN (FORMAT csv)"),
}


def copy_in_statement(table: str, columns: Iterable[str], *, fmt: str) -> sql.Composed:
    """The ``COPY table (columns) FROM STDIN`` statement for ``fmt`` (``binary`` or ``csv``),
    names quoted as identifiers by :mod:`psycopg.sql`."""
    return _COPY_IN[fmt].format(
        table=sql.Identifier(table), columns=sql.SQL(", ").join(map(sql.Identifier, columns))
    )


def copy_columns(
    conn: Connection,
    table: str,
    blocks: Mapping[str, Column] | Iterable[Mapping[str, Column]],
    *,
    rows_per_block: int = ROWS_PER_BLOCK,
) -> int:
    """COPY rows into ``table``; the rows written.

    ``blocks`` is one mapping of column name to values (all of one length), or an iterable of
    such mappings with the same names, consumed one after the other: a generator can build
    the next block while the server reads the last. Rows are assembled ``rows_per_block`` at
    a time and queued to a sending thread.
    """
    parts = iter([blocks] if isinstance(blocks, Mapping) else blocks)
    first = next(parts, None)
    if first is None:
        return 0
    names = list(first)
    raw = conn.connection.driver_connection
    assert raw is not None
    statement = copy_in_statement(table, names, fmt="binary")
    with raw.cursor() as cur:
        with cur.copy(statement, writer=QueuedLibpqWriter(cur)) as copy:
            copy.write(HEADER)
            for rows in _encoded(itertools.chain([first], parts), names, rows_per_block):
                copy.write(rows.data)
            copy.write(TRAILER)
        return int(cur.rowcount)
