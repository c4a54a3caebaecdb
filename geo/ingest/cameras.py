"""The camera table every camera reader returns, and the checks and parsers the readers share.

A reader (:func:`geo.ingest.cctv.read_cctv`, :func:`geo.ingest.enforcement.read_enforcement`,
:func:`geo.ingest.osm_cameras.read_osm_cameras`) returns a :class:`CameraRead`: one row per camera
with the columns of :data:`CAMERA_COLUMNS`, and a report that adds up to the input rows.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo.ingest.report import ReadReport, RejectedRow

# Column name -> pandas dtype of CameraRead.cameras, in order.
CAMERA_COLUMNS: dict[str, str] = {
    "source_key": "object",
    "site_key": "object",
    "line": "int64",
    "owner_name": "object",
    "lon": "float64",
    "lat": "float64",
    "kind": "object",
    "heading_deg": "float64",
    "heading_source": "object",
    "heading_uncertainty_deg": "float64",
    "fov_deg": "float64",
    "pan_min_deg": "float64",
    "pan_max_deg": "float64",
    "resolution_px_h": "Int64",
    "megapixels": "float64",
    "mount_height_m": "float64",
    "purpose": "object",
    "address": "object",
    "direction_text": "object",
    "heading_hint": "object",
    "installed": "object",
    "attributes": "object",
}
KINDS = ("fixed", "ptz", "dome")
HEADING_SOURCES = ("surveyed", "osm_tag", "inferred", "unknown")

# Placeholder coordinates written by the national data's producers when the position is unknown.
PLACEHOLDER_COORDINATES = (99.999999, 999.999999)

# Common sensor formats: (total pixels, horizontal pixels). A megapixel figure is matched to the
# format nearest on a log scale: 0.3 MP -> VGA 640, 0.41 ("41만") -> D1 720, 0.55 -> 960H 960,
# 0.92 (100만) -> 720p 1280, 1.23 (130만) -> 1280x960, 2.07 (200만) -> 1080p 1920,
# 3.15 (300만) -> 2048x1536, 3.69 (400만) -> 2560x1440, 5.04 (500만) -> 2592x1944,
# 6.29 -> 3072x2048, 8.29 (800만) -> 4K 3840, 12.0 -> 4000x3000.
SENSOR_FORMATS: tuple[tuple[int, int], ...] = (
    (640 * 480, 640),
    (720 * 576, 720),
    (960 * 576, 960),
    (1280 * 720, 1280),
    (1280 * 960, 1280),
    (1920 * 1080, 1920),
    (2048 * 1536, 2048),
    (2560 * 1440, 2560),
    (2592 * 1944, 2592),
    (3072 * 2048, 3072),
    (3840 * 2160, 3840),
    (4000 * 3000, 4000),
)
# Beyond this ratio from every known format, the width is derived from a 16:9 sensor instead.
_FORMAT_TOLERANCE = 1.35


@dataclass
class CameraRead:
    """What a camera reader found in one file.

    Attributes
    ----------
    cameras
        One row per camera (a CSV row is a *site* with 카메라대수 cameras), columns and dtypes as
        in :data:`CAMERA_COLUMNS`. ``attributes`` dicts are shared by the cameras of one site:
        treat them as read-only.
    report
        Rows read, kept (sites), merged (exact duplicates) and rejected; it adds up.
    source
        ``cctv_standard``, ``enforcement`` or ``osm``.
    """

    cameras: pd.DataFrame
    report: ReadReport
    source: str


def camera_frame(data: dict[str, object]) -> pd.DataFrame:
    """Build the camera table from column arrays, with every column of CAMERA_COLUMNS in order.

    Raises
    ------
    KeyError
        if a column is missing (a reader bug).
    """
    # Each column made with its dtype at once: letting pandas infer its string dtype first and
    # converting back to object costs seconds on a national file.
    return pd.DataFrame(
        {
            name: pd.Series(data[name], dtype=dtype, copy=False)
            for name, dtype in CAMERA_COLUMNS.items()
        }
    )


def empty_cameras() -> pd.DataFrame:
    """A camera table with no rows."""
    return camera_frame({name: [] for name in CAMERA_COLUMNS})


def coordinate_rejections(
    lat_raw: pd.Series,
    lon_raw: pd.Series,
    *,
    bounds: tuple[float, float, float, float] | None,
    lat_field: str,
    lon_field: str,
) -> tuple[pd.Series, pd.Series, list[tuple[int, str, str, str]]]:
    """Parse lat/lon strings and find the rows whose position is unusable.

    Parameters
    ----------
    lat_raw, lon_raw
        Trimmed strings, degrees (EPSG:4326).
    bounds
        (min_lon, min_lat, max_lon, max_lat) degrees, or None for no country check.
    lat_field, lon_field
        Column names as the file spells them, for the rejection reasons.

    Returns
    -------
    lat, lon
        float Series (NaN where unparseable).
    problems
        (position, field, reason, value) for each unusable row, positions 0-based in the input:
        a missing or unparseable number, the producers' placeholder 99.999999 / 999.999999, a
        latitude/longitude outside the valid range, or a position outside ``bounds``.
    """
    lat = pd.to_numeric(lat_raw, errors="coerce").astype("float64")
    lon = pd.to_numeric(lon_raw, errors="coerce").astype("float64")
    problems: list[tuple[int, str, str, str]] = []
    done = np.zeros(len(lat), dtype=bool)

    def flag(mask: np.ndarray, field: str, reason: str, values: pd.Series) -> None:
        new = mask & ~done
        problems.extend(
            (int(i), field, reason, str(values.iat[int(i)])) for i in np.flatnonzero(new)
        )
        done[new] = True

    for raw, parsed, field in ((lat_raw, lat, lat_field), (lon_raw, lon, lon_field)):
        empty = (raw == "").to_numpy()
        flag(empty, field, "missing: the position is unknown", raw)
        flag(parsed.isna().to_numpy(), field, "not a number", raw)
    placeholder = np.zeros(len(lat), dtype=bool)
    for value in PLACEHOLDER_COORDINATES:
        placeholder |= np.isclose(lat.to_numpy(), value) | np.isclose(lon.to_numpy(), value)
    both = lat_raw + " / " + lon_raw
    flag(
        placeholder,
        f"{lat_field},{lon_field}",
        "placeholder coordinates (99.999999 / 999.999999): the position is unknown",
        both,
    )
    if bounds is not None:
        min_lon, min_lat, max_lon, max_lat = bounds
        box = f"({min_lon}, {min_lat}, {max_lon}, {max_lat})"
        inside = (lon.between(min_lon, max_lon) & lat.between(min_lat, max_lat)).to_numpy()
        swapped = (lat.between(min_lon, max_lon) & lon.between(min_lat, max_lat)).to_numpy()
        flag(
            ~inside & swapped,
            f"{lat_field},{lon_field}",
            f"outside the country bounds {box} (latitude and longitude look swapped)",
            both,
        )
    invalid = ~(lat.between(-90, 90) & lon.between(-180, 180)).to_numpy()
    flag(invalid, f"{lat_field},{lon_field}", "not a valid latitude/longitude", both)
    if bounds is not None:
        flag(~inside, f"{lat_field},{lon_field}", f"outside the country bounds {box}", both)
    return lat, lon, problems


def megapixels_to_px_h(megapixels: float) -> int | None:
    """Horizontal pixels of the common sensor format nearest to a megapixel count.

    Uses :data:`SENSOR_FORMATS`; a count far (more than x1.35) from every format gets the width
    of a 16:9 sensor of that size.

    Examples
    --------
    >>> [megapixels_to_px_h(m) for m in (0.41, 1.3, 2.0, 3.0, 5.0)]
    [720, 1280, 1920, 2048, 2592]
    """
    if not megapixels > 0 or math.isinf(megapixels):
        return None
    pixels = megapixels * 1e6
    best_pixels, best_h = min(SENSOR_FORMATS, key=lambda f: abs(math.log(pixels / f[0])))
    if max(pixels / best_pixels, best_pixels / pixels) <= _FORMAT_TOLERANCE:
        return best_h
    return round(math.sqrt(pixels * 16 / 9))


_MP_UNIT = re.compile(r"^(\d+(?:\.\d+)?)\s*(만|만화소|화소|mp|메가|메가픽셀|m)?$", re.IGNORECASE)
_WXH = re.compile(r"^(\d{3,5})\s*[x×*]\s*(\d{3,5})$", re.IGNORECASE)


def parse_megapixels(text: str) -> tuple[float, int | None] | None:
    """Megapixels and horizontal pixels from a 카메라화소수 value, None when unparseable.

    The standard data counts pixels in units of 만 (10,000): "200" is 2 MP, "41" is 0.41 MP. A
    bare number of at most 20 is read as megapixels, since 20만 pixels (0.2 MP) is below any CCTV
    sensor; "2MP"/"2메가" are megapixels; "1920x1080" is a resolution.

    Examples
    --------
    >>> parse_megapixels("200")
    (2.0, 1920)
    >>> parse_megapixels("41만")
    (0.41, 720)
    >>> parse_megapixels("1920x1080")
    (2.0736, 1920)
    >>> parse_megapixels("고화질") is None
    True
    """
    v = text.strip().replace(",", "")
    if m := _WXH.match(v):
        width, height = int(m.group(1)), int(m.group(2))
        return width * height / 1e6, width
    m = _MP_UNIT.match(v)
    if not m:
        return None
    number = float(m.group(1))
    unit = (m.group(2) or "").lower()
    if unit in {"mp", "메가", "메가픽셀", "m"} or (unit == "" and number <= 20):
        mp = number
    elif unit == "화소":
        mp = number / 1e6
    else:
        mp = number / 100
    px = megapixels_to_px_h(mp)
    return (round(mp, 6), px) if px is not None else None


_YM = re.compile(r"^(\d{4})\s*(?:[-./년]\s*(\d{1,2})\s*월?(?:\s*[-./]\s*\d{1,2}\s*일?)?)?\.?$")
_YMD_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})?$")


def parse_install_month(text: str) -> str | None:
    """``YYYY-MM`` (or ``YYYY`` when only the year is given) from an install date, else None.

    Years outside 1980..2100 are refused: the spreadsheet-damaged values of the real files
    ("11-Dec", "1905-07") do not say when a camera was installed.

    Examples
    --------
    >>> [parse_install_month(v) for v in ("2017-01-16", "2017.3", "201705", "2013", "11-Dec")]
    ['2017-01', '2017-03', '2017-05', '2013', None]
    >>> parse_install_month("1905-07") is None
    True
    """
    v = text.strip()
    m = _YM.match(v) or _YMD_COMPACT.match(v)
    if not m:
        return None
    year = int(m.group(1))
    if not 1980 <= year <= 2100:
        return None
    if m.group(2) is None:
        return f"{year:04d}"
    month = int(m.group(2))
    return f"{year:04d}-{month:02d}" if 1 <= month <= 12 else None


def summarise_unparsed(report: ReadReport, field: str, values: Iterable[str]) -> int:
    """Add one warning naming how many values of ``field`` could not be read, with examples.

    Returns the count. One warning per field, not one per row: a national file has thousands.
    """
    counts = Counter(values)
    total = sum(counts.values())
    if total:
        examples = ", ".join(repr(v) for v, _ in counts.most_common(3))
        report.warnings.append(
            f"{field}: {total} value(s) could not be read and were left empty (e.g. {examples})"
        )
        report.extra.setdefault("unparsed", {})[field] = total
    return total


def settle_rows(
    report: ReadReport,
    lines: list[int],
    keys: list[str],
    problems: list[tuple[int, str, str, str]],
) -> np.ndarray:
    """Reject the rows with problems, merge exact duplicates among the rest, count what is kept.

    A row identical to a rejected row fails the same check, so it is rejected too (not merged):
    ``rows_merged`` counts duplicates among usable rows only, and the report adds up.

    Parameters
    ----------
    report
        Updated in place: ``rejected`` (sorted by line), ``merged``, ``rows_merged``,
        ``rows_kept`` and ``extra["rejected_by_reason"]``.
    lines
        Physical line of each row.
    keys
        Digest of each row's content (identical rows, identical keys).
    problems
        (position, field, reason, value), at most one per row position.

    Returns
    -------
    numpy.ndarray
        Positions of the kept rows (first occurrences), in file order.
    """
    report.rejected.extend(RejectedRow(lines[i], f, why, value) for i, f, why, value in problems)
    report.rejected.sort(key=lambda r: r.line)
    report.extra["rejected_by_reason"] = dict(Counter(r.reason for r in report.rejected))
    rejected = np.zeros(len(lines), dtype=bool)
    rejected[[p[0] for p in problems]] = True
    usable = np.flatnonzero(~rejected)
    usable_keys = np.asarray(keys, dtype=object)[usable]
    repeat = pd.Series(usable_keys, dtype=object).duplicated().to_numpy()
    kept = usable[~repeat]
    repeated = set(usable_keys[repeat].tolist())
    first_line = {
        key: lines[i]
        for key, i in zip(usable_keys[~repeat].tolist(), kept.tolist(), strict=True)
        if key in repeated
    }
    report.merged = [(lines[i], first_line[keys[i]]) for i in usable[repeat].tolist()]
    report.rows_merged = len(report.merged)
    report.rows_kept = len(kept)
    report.check()
    return kept
