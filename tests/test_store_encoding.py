"""The store's vectorised encoders: EWKB byte for byte what GEOS writes, and binary COPY rows
that PostgreSQL reads back as the values they were made from."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.coverage import sector_polygons
from geo.store._copy import (
    bytes_column,
    constant_column,
    copy_columns,
    float_column,
    int_column,
    points_ewkb,
    polygons_ewkb,
    text_column,
)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
)
def test_ewkb_matches_geos(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    polygons = sector_polygons(
        rng.uniform(9e5, 1.1e6, n),
        rng.uniform(1.8e6, 2.1e6, n),
        rng.uniform(0, 360, n),
        rng.choice([360.0, 60.0, 90.0, 1.5], n),
        rng.uniform(0.05, 200, n),
    )
    column = polygons_ewkb(polygons, srid=5179)
    ours = [
        column.data[s : s + m].tobytes()
        for s, m in zip(column.start.tolist(), column.length.tolist(), strict=True)
    ]
    geos = shapely.to_wkb(shapely.set_srid(polygons, 5179), include_srid=True, byte_order=1)
    assert ours == list(geos)


def test_polygons_with_holes_are_refused() -> None:
    holed = shapely.Point(0, 0).buffer(10).difference(shapely.Point(0, 0).buffer(5))
    with pytest.raises(ValueError, match="without holes"):
        polygons_ewkb(np.array([holed], dtype=object), srid=5179)


def test_integers_that_do_not_fit_are_refused() -> None:
    with pytest.raises(ValueError, match="32-bit"):
        int_column(np.array([2**31]), bits=32)


@pytest.mark.db
def test_binary_copy_reads_back_as_written(db: Connection) -> None:
    db.execute(
        text(
            "CREATE TEMP TABLE copy_check (big int8, small int4, ratio float8, name text,"
            " doc jsonb, kind text, place geometry(Point, 5179)) ON COMMIT DROP"
        )
    )
    names = ["관리기관", None, "", 'quote " and, comma\nnewline', "x" * 70_000]
    n = len(names)
    docs = bytes_column([b'{"a": 1, "site": "\xec\x84\x9c\xec\x9a\xb8"}', b"{}"], prefix=b"\x01")
    x = np.array([953810.5, 0.0, -1.25, 1e6, 2.5e-3])
    written = copy_columns(
        db,
        "copy_check",
        {
            "big": int_column(np.array([2**40, -1, 0, 7, 2**63 - 1]), bits=64),
            "small": int_column(np.array([1.0, np.nan, -(2**31), 2**31 - 1, 3.0]), bits=32),
            "ratio": float_column(np.array([0.1, np.nan, -0.0, 1e300, 5e-324])),
            "name": text_column(np.array(names, dtype=object)),
            "doc": docs.take([0, 1, 0, 0, 1]),
            "kind": constant_column(b"fixed", n),
            "place": points_ewkb(x, x[::-1], srid=5179),
        },
        rows_per_block=2,
    )
    assert written == n
    rows = db.execute(
        text(
            "SELECT big, small, ratio, name, doc, kind, ST_X(place), ST_Y(place),"
            " ST_SRID(place) FROM copy_check"
        )
    ).all()
    assert [r.big for r in rows] == [2**40, -1, 0, 7, 2**63 - 1]
    assert [r.small for r in rows] == [1, None, -(2**31), 2**31 - 1, 3]
    assert [r.ratio for r in rows] == [0.1, None, -0.0, 1e300, 5e-324]
    assert [r.name for r in rows] == names
    seoul = {"a": 1, "site": "서울"}
    assert [r.doc for r in rows] == [seoul, {}, seoul, seoul, {}]
    assert {r.kind for r in rows} == {"fixed"}
    assert [(r[6], r[7], r[8]) for r in rows] == [
        (a, b, 5179) for a, b in zip(x.tolist(), x[::-1].tolist(), strict=True)
    ]


@pytest.mark.db
def test_binary_copy_takes_blocks_one_after_the_other(db: Connection) -> None:
    db.execute(text("CREATE TEMP TABLE copy_blocks (n int8, name text) ON COMMIT DROP"))

    def blocks(sizes: list[int]):  # type: ignore[no-untyped-def]
        at = 0
        for size in sizes:
            numbers = np.arange(at, at + size)
            yield {"n": int_column(numbers, bits=64), "name": text_column(numbers.astype(str))}
            at += size

    assert copy_columns(db, "copy_blocks", blocks([3, 0, 5, 1]), rows_per_block=2) == 9
    rows = db.execute(text("SELECT n, name FROM copy_blocks ORDER BY n")).all()
    assert [(r.n, r.name) for r in rows] == [(i, str(i)) for i in range(9)]
    assert copy_columns(db, "copy_blocks", iter([])) == 0
    with pytest.raises(ValueError, match="columns"):
        copy_columns(
            db,
            "copy_blocks",
            [{"n": int_column([1], bits=64)}, {"name": text_column(np.array(["x"]))}],
        )
