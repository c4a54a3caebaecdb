"""How gilmok writes the files people open elsewhere: CSV for Excel, RFC 7946 GeoJSON, a chosen
output CRS.

- **CSV**: UTF-8 with a byte-order mark (Excel on a Korean Windows machine otherwise reads the
  Hangul as CP949 and garbles it), and one spelling of booleans in every CSV gilmok writes:
  :data:`CSV_TRUE` / :data:`CSV_FALSE`; an empty cell is unknown.
- **GeoJSON**: RFC 7946 — lon/lat (EPSG:4326) whatever the output CRS asked for, no ``crs``
  member, exterior rings counter-clockwise (the right-hand rule), 7 decimals (about 1 cm).
- **Output CRS**: a GeoPackage may be written in any projected or geographic CRS pyproj knows
  (``EPSG:5179`` by default, ``EPSG:5186`` for the central belt of Korea 2000, ``EPSG:4326``).

File I/O only; pure (pandas, pyogrio, pyproj).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import IO, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
from pyproj import CRS
from pyproj.exceptions import CRSError

from geo.crs import LONLAT_CRS
from geo.errors import InvalidInput

CSV_TRUE = "true"
CSV_FALSE = "false"
#: The byte-order mark every CSV starts with.
UTF8_BOM = "\ufeff"


def output_crs(name: str) -> str:
    """``name`` (``EPSG:5186``, ``5186``) as ``EPSG:n``, checked to be a CRS pyproj knows.

    Raises
    ------
    InvalidInput
        for a name pyproj cannot read.

    Examples
    --------
    >>> output_crs("5186")
    'EPSG:5186'
    """
    text = name.strip()
    if text.isdigit():
        text = f"EPSG:{text}"
    try:
        crs = CRS.from_user_input(text)
    except CRSError:
        raise InvalidInput(
            f"unknown CRS {name!r}: give an EPSG code such as EPSG:5179, EPSG:5186 or EPSG:4326",
            details={"crs": name},
        ) from None
    code = crs.to_epsg()
    return f"EPSG:{code}" if code is not None else crs.to_string()


def csv_values(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with booleans spelled :data:`CSV_TRUE` / :data:`CSV_FALSE` (missing: empty)."""
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_bool_dtype(values.dtype) or (
            values.dtype == object
            and len(values)
            and values.map(lambda v: v is None or isinstance(v, bool | np.bool_)).all()
            and values.map(lambda v: isinstance(v, bool | np.bool_)).any()
        ):
            out[column] = values.map(
                lambda v: "" if v is None or v is pd.NA else (CSV_TRUE if v else CSV_FALSE)
            ).astype(object)
    return out


def write_csv(frame: pd.DataFrame, target: Path | str | IO[str]) -> None:
    """Write ``frame`` as CSV (module doc: BOM, one boolean spelling), no index column."""
    table = csv_values(frame)
    if isinstance(target, str | Path):
        table.to_csv(target, index=False, encoding="utf-8-sig")
        return
    target.write(UTF8_BOM)
    table.to_csv(target, index=False)


def csv_text(header: list[str], rows: list[list[Any]]) -> str:
    """A CSV document (module doc) from a header and rows of plain values."""
    buf = io.StringIO()
    buf.write(UTF8_BOM)
    writer = csv.writer(buf)
    writer.writerow(header)
    for row in rows:
        writer.writerow([(CSV_TRUE if v else CSV_FALSE) if isinstance(v, bool) else v for v in row])
    return buf.getvalue()


def write_geojson(frame: gpd.GeoDataFrame, path: Path | str) -> None:
    """Write ``frame`` as an RFC 7946 FeatureCollection (module doc), from any CRS."""
    lonlat = frame.to_crs(LONLAT_CRS) if frame.crs is not None else frame
    pyogrio.write_dataframe(
        lonlat,
        path,
        driver="GeoJSON",
        layer_options={"RFC7946": "YES", "COORDINATE_PRECISION": "7", "WRITE_NAME": "NO"},
    )
