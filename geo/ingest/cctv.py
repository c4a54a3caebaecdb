"""Reader of the national CCTV standard data (전국CCTV표준데이터): one CSV row is a site of cameras.

Both published schemas are read: the 13-column one (위도/경도, 설치년월; e.g. the Seoul 2018 and
Gangnam 2019 files) and the 18-column one of 2024 (개방자치단체코드, 관리번호, WGS84위도,
WGS84경도, 설치연월, 데이터갱신구분, ...), in CP949 or UTF-8 with or without a BOM.
"""

from __future__ import annotations

import math
import os
from collections import Counter

import numpy as np
import pandas as pd

from geo.crs import DEFAULT_COUNTRY_BOUNDS
from geo.ingest._csvfile import (
    CsvTable,
    gc_paused,
    read_csv_table,
    resolve_columns,
    row_digests,
)
from geo.ingest._direction import (
    COMPASS_8_UNCERTAINTY_DEG,
    DirectionText,
    assign_headings,
    classify_direction_text,
)
from geo.ingest.cameras import (
    CameraRead,
    camera_frame,
    coordinate_rejections,
    parse_install_month,
    parse_megapixels,
    settle_rows,
    summarise_unparsed,
)
from geo.ingest.report import ReadReport, RejectedRow

SOURCE = "cctv_standard"
WHAT = "a CCTV standard data CSV (전국CCTV표준데이터)"

# Our name -> the names the schemas give the column (13-column first, then 18-column).
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "owner": ("관리기관명",),
    "road_address": ("소재지도로명주소",),
    "lot_address": ("소재지지번주소",),
    "purpose": ("설치목적구분",),
    "n_cameras": ("카메라대수",),
    "pixels": ("카메라화소수",),
    "direction": ("촬영방면정보",),
    "retention_days": ("보관일수",),
    "installed": ("설치년월", "설치연월"),
    "phone": ("관리기관전화번호",),
    "lat": ("위도", "WGS84위도"),
    "lon": ("경도", "WGS84경도"),
    "data_date": ("데이터기준일자",),
}
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "org_code": ("개방자치단체코드",),
    "management_no": ("관리번호",),
    "update_kind": ("데이터갱신구분",),
    "update_time": ("데이터갱신시점",),
    "modified_time": ("최종수정시점",),
}
# A site with more cameras than this is a typing error, not a site.
MAX_CAMERAS_PER_SITE = 1000
_OTHER_FILES = {
    "무인교통단속카메라관리번호": "the traffic-enforcement camera data "
    "(전국무인교통단속카메라표준데이터); read it as enforcement cameras",
    "man_made": "OpenStreetMap data",
}


def _n_cameras_problems(
    raw: pd.Series, done: set[int], field: str
) -> tuple[np.ndarray, list[tuple[int, str, str, str]]]:
    number = pd.to_numeric(raw, errors="coerce")
    whole = number.notna() & (number == number.round())
    good = whole & number.between(1, MAX_CAMERAS_PER_SITE)
    problems = []
    for i in np.flatnonzero(~good.to_numpy()):
        if int(i) in done:
            continue
        value = str(raw.iat[int(i)])
        if value == "":
            reason = "missing: the number of cameras is unknown"
        elif not whole.iat[int(i)]:
            reason = "not a whole number of cameras"
        else:
            reason = f"not a number of cameras between 1 and {MAX_CAMERAS_PER_SITE}"
        problems.append((int(i), field, reason, value))
    return number.fillna(0).astype("int64").to_numpy(), problems


def _nan_to_none(value: float) -> float | None:
    return None if math.isnan(value) else value


def _whole_number(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _direction_attributes(d: DirectionText) -> dict[str, object]:
    """The attributes a site gets from its 촬영방면정보 (JSON-ready: no NaN)."""
    attrs: dict[str, object] = {"direction_category": d.category, "kind_assumed": not d.kind_stated}
    if d.range_m is not None:
        attrs["range_m"] = [_nan_to_none(d.range_m[0]), d.range_m[1]]
    if d.headings_deg:
        attrs["site_directions_deg"] = [_nan_to_none(h) for h in d.headings_deg]
    return attrs


def read_cctv(
    path: str | os.PathLike[str],
    *,
    country_bounds: tuple[float, float, float, float] | None = DEFAULT_COUNTRY_BOUNDS,
) -> CameraRead:
    """Read a CCTV standard data file into one row per camera.

    A row is a site holding 카메라대수 cameras; each camera gets ``source_key`` f"{site_key}#{i}",
    i = 1..카메라대수, where ``site_key`` is a digest of the row's trimmed fields (reading the same
    file again gives the same keys).

    Rows are rejected (with line, column, reason and value) for: missing, unparseable or
    placeholder (99.999999 / 999.999999) coordinates, a position outside ``country_bounds``, and a
    카메라대수 that is empty or not a whole number in 1..1000. A row exactly repeating a usable
    earlier row (after trimming) is merged into it; a row repeating a rejected row is rejected
    for the same reason. An unreadable 카메라화소수 or 설치년월 keeps the row: the value is left
    empty and counted in one warning per column.

    촬영방면정보 (see :func:`geo.ingest._direction.classify_direction_text`) gives every camera of
    the site: all-round text -> ``dome``, fov 360; a stated angle -> ``fixed`` with that fov;
    compass words -> ``fixed``, one listed direction per camera in order (``surveyed``, ±22.5°;
    :func:`~geo.ingest._direction.assign_headings` says what happens when the counts differ);
    anything else -> ``fixed`` (assumed: ``attributes["kind_assumed"]``) with unknown heading.
    A viewing distance ("반경 30~150미터") goes to ``attributes["range_m"]``.

    Parameters
    ----------
    path
        The CSV file (13- or 18-column schema; CP949, UTF-8 or UTF-8 with BOM).
    country_bounds
        (min_lon, min_lat, max_lon, max_lat), degrees EPSG:4326; None disables the check.

    Returns
    -------
    CameraRead
        ``cameras`` (columns of :data:`geo.ingest.cameras.CAMERA_COLUMNS`) and a report that adds
        up; ``report.extra`` holds the encoding, schema, counts per 촬영방면정보 category and
        per rejection reason.

    Raises
    ------
    ImportFileError
        for a file that is not this data: another header (naming the missing columns or the
        kind of file it is), binary, empty, undecodable or truncated.
    """
    with gc_paused():
        return _read_cctv(str(path), country_bounds)


def _read_cctv(name: str, country_bounds: tuple[float, float, float, float] | None) -> CameraRead:
    table = read_csv_table(name, what=WHAT)
    cols = resolve_columns(
        table.header,
        REQUIRED_COLUMNS,
        OPTIONAL_COLUMNS,
        path=name,
        what=WHAT,
        other_files=_OTHER_FILES,
    )
    report = ReadReport(source=SOURCE, rows_read=len(table) + len(table.bad_rows))
    report.warnings.extend(table.warnings)
    report.extra.update(
        encoding=table.encoding,
        schema="18-column" if "management_no" in cols else "13-column",
    )
    report.rejected.extend(
        RejectedRow(line, "(row)", f"has {got} fields, the header has {len(table.header)}")
        for line, got in table.bad_rows
    )
    # Only the columns we read, one object array each: a DataFrame of all of them (one 2-D
    # block) and a row selection of it cost seconds on a national file.
    values = {theirs: np.array(table.columns[theirs], dtype=object) for theirs in cols.values()}

    def series(ours: str) -> pd.Series:
        return pd.Series(values[cols[ours]], dtype=object, copy=False)

    lat, lon, problems = coordinate_rejections(
        series("lat"),
        series("lon"),
        bounds=country_bounds,
        lat_field=cols["lat"],
        lon_field=cols["lon"],
    )
    n_cameras, more = _n_cameras_problems(
        series("n_cameras"), {p[0] for p in problems}, cols["n_cameras"]
    )
    keys = row_digests(table.columns, table.header)
    kept = settle_rows(report, table.lines, keys, problems + more)
    cameras = _site_cameras(
        table,
        column={ours: values[theirs][kept] for ours, theirs in cols.items()},
        cols=cols,
        kept=kept,
        keys=keys,
        lat=lat,
        lon=lon,
        n_cameras=n_cameras,
        report=report,
    )
    report.extra["cameras"] = len(cameras)
    report.check()
    return CameraRead(cameras=cameras, report=report, source=SOURCE)


def _site_cameras(
    table: CsvTable,
    *,
    column: dict[str, np.ndarray],
    cols: dict[str, str],
    kept: np.ndarray,
    keys: list[str],
    lat: pd.Series,
    lon: pd.Series,
    n_cameras: np.ndarray,
    report: ReadReport,
) -> pd.DataFrame:
    """Expand the kept sites into cameras (vectorised over sites; Python only per distinct text).

    ``column`` holds the kept sites' values by our column name.
    """
    n_sites = len(kept)

    direction_texts = column["direction"]
    classes: dict[str, DirectionText] = {
        t: classify_direction_text(t) for t in set(direction_texts)
    }
    site_class = [classes[t] for t in direction_texts]
    report.extra["direction_categories"] = dict(Counter(c.category for c in site_class))

    pixel_texts = column["pixels"]
    pixels = {t: parse_megapixels(t) for t in set(pixel_texts) if t}
    summarise_unparsed(report, cols["pixels"], (t for t in pixel_texts if t and pixels[t] is None))
    parsed = [pixels.get(t) for t in pixel_texts]
    megapixels = np.array([np.nan if p is None else p[0] for p in parsed], dtype=np.float64)
    px_h = pd.array([None if p is None else p[1] for p in parsed], dtype="Int64")

    installed_texts = column["installed"]
    months = {t: parse_install_month(t) for t in set(installed_texts) if t}
    summarise_unparsed(
        report, cols["installed"], (t for t in installed_texts if t and months[t] is None)
    )

    retention_texts = column["retention_days"]
    retention = {t: _whole_number(t) for t in set(retention_texts) if t}
    summarise_unparsed(
        report, cols["retention_days"], (t for t in retention_texts if t and retention[t] is None)
    )
    # What the direction text says, per distinct text, shared by the sites that carry it.
    direction_attrs = {text: _direction_attributes(d) for text, d in classes.items()}
    extras = [ours for ours in OPTIONAL_COLUMNS if ours in column]
    attributes = [
        {
            "site_cameras": n,
            "retention_days": retention.get(days),
            "phone": phone,
            "data_date": data_date,
            "lot_address": lot,
            "installed_ym": months.get(installed),
            **direction_attrs[direction],
            **dict(zip(extras, more, strict=True)),
        }
        for n, days, phone, data_date, lot, installed, direction, *more in zip(
            n_cameras[kept].tolist(),
            retention_texts,
            column["phone"],
            column["data_date"],
            column["lot_address"],
            installed_texts,
            direction_texts,
            *(column[ours] for ours in extras),
            strict=True,
        )
    ]

    site_attributes = np.empty(n_sites, dtype=object)
    site_attributes[:] = attributes
    counts = n_cameras[kept]
    site_of = np.repeat(np.arange(n_sites), counts)
    starts = np.cumsum(counts) - counts
    number = np.arange(len(site_of)) - starts[site_of] + 1
    heading = np.full(len(site_of), np.nan)
    for j, c in enumerate(site_class):
        if c.category == "compass":
            heading[starts[j] : starts[j] + counts[j]] = assign_headings(
                int(counts[j]), c.headings_deg
            )
    surveyed = ~np.isnan(heading)

    site_keys = np.asarray(keys, dtype=object)[kept]
    road = column["road_address"]
    address = np.where(road != "", road, column["lot_address"])
    lines = np.asarray(table.lines, dtype=np.int64)[kept]

    def per_camera(values: object) -> np.ndarray:
        return np.asarray(values)[site_of]

    return camera_frame(
        {
            "source_key": [
                f"{key}#{i}"
                for key, i in zip(per_camera(site_keys).tolist(), number.tolist(), strict=True)
            ],
            "site_key": per_camera(site_keys),
            "line": per_camera(lines),
            "owner_name": per_camera(column["owner"]),
            "lon": per_camera(lon.to_numpy()[kept]),
            "lat": per_camera(lat.to_numpy()[kept]),
            "kind": per_camera(np.array([c.kind for c in site_class], dtype=object)),
            "heading_deg": heading,
            "heading_source": np.where(surveyed, "surveyed", "unknown").astype(object),
            "heading_uncertainty_deg": np.where(surveyed, COMPASS_8_UNCERTAINTY_DEG, np.nan),
            "fov_deg": per_camera(np.array([c.fov_deg for c in site_class], dtype=float)),
            "pan_min_deg": np.full(len(site_of), np.nan),
            "pan_max_deg": np.full(len(site_of), np.nan),
            "resolution_px_h": px_h.take(site_of),
            "megapixels": per_camera(megapixels),
            "mount_height_m": np.full(len(site_of), np.nan),
            "purpose": per_camera(column["purpose"]),
            "address": per_camera(address),
            "direction_text": per_camera(direction_texts),
            "heading_hint": np.full(len(site_of), "", dtype=object),
            "installed": per_camera(installed_texts),
            "attributes": per_camera(site_attributes),
        }
    )
