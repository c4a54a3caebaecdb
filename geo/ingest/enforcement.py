"""Reader of the unmanned traffic-enforcement camera data (전국무인교통단속카메라표준데이터).

One row is one camera, fixed, watching one direction of travel that the file never gives as a
heading; its 설치장소 (installation place) often names it, "(동수원IC→수지구청)", which is kept
as ``heading_hint`` for the heading inference along the road.
"""

from __future__ import annotations

import os
import re
from collections import Counter

import numpy as np
import pandas as pd

from geo.crs import DEFAULT_COUNTRY_BOUNDS
from geo.ingest._csvfile import read_csv_table, resolve_columns, row_digests
from geo.ingest.cameras import (
    CameraRead,
    camera_frame,
    coordinate_rejections,
    parse_install_month,
    settle_rows,
    summarise_unparsed,
)
from geo.ingest.report import ReadReport, RejectedRow

SOURCE = "enforcement"
WHAT = "a traffic-enforcement camera standard data CSV (전국무인교통단속카메라표준데이터)"

REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "management_no": ("무인교통단속카메라관리번호",),
    "lat": ("위도",),
    "lon": ("경도",),
    "place": ("설치장소",),
    "owner": ("관리기관명",),
}
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {
    "sido": ("시도명",),
    "sigungu": ("시군구명",),
    "road_kind": ("도로종류",),
    "road_no": ("도로노선번호",),
    "road_name": ("도로노선명",),
    "road_direction": ("도로노선방향",),
    "road_address": ("소재지도로명주소",),
    "lot_address": ("소재지지번주소",),
    "enforcement_kind": ("단속구분",),
    "speed_limit": ("제한속도",),
    "section_position": ("단속구간위치구분",),
    "section_length": ("과속단속구간길이",),
    "protection_zone": ("보호구역구분",),
    "installed": ("설치년도",),
    "phone": ("관리기관전화번호",),
    "data_date": ("데이터기준일자",),
    "provider_code": ("제공기관코드",),
    "provider_name": ("제공기관명",),
}
_OTHER_FILES = {
    "카메라대수": "the CCTV standard data (전국CCTV표준데이터); read it as CCTV",
    "man_made": "OpenStreetMap data",
}
# More rows than this at one exact position, with different 설치장소, is a default position typed
# for cameras whose position was unknown (the 2020 file puts 119 Pyeongtaek cameras at one point
# in North Chungcheong), not a real gantry.
MAX_ROWS_PER_POSITION = 20
# Codes written with a leading zero in some provinces ("03") and without in others ("3").
_CODE_COLUMNS = ("road_direction", "enforcement_kind", "section_position", "protection_zone")

_ARROW = re.compile(r"→|⇒|➡|▶|=>|->|－>|-＞|\s>\s")
_BEFORE_ARROW = re.compile(r"[(),]")
_AFTER_ARROW = re.compile(r"[(),→⇒➡▶]")
_DASH_TOWARD = re.compile(r"([^\s(),]+)\s*-\s*([^\s(),\-]+?)\s*방향")
_TOWARD = re.compile(r"([^\s(),]+?)\s*방향")


def parse_heading_hint(place: str) -> str:
    """The direction of travel a 설치장소 text names, as "A→B" (or "→B"), else "".

    "A→B", "A->B", "A ⇒ B", "A > B" give "A→B"; "A-B방향" gives "A→B"; "B방향" (toward B)
    gives "→B". "A↔B" and "양방향" name both directions, so no single one: "".

    Examples
    --------
    >>> parse_heading_hint("용인시 수지구 상현동 481-6 현대오일뱅크앞 1,2차로(동수원IC→수지구청)")
    '동수원IC→수지구청'
    >>> parse_heading_hint("김해가야IC 1차로(김해 대동면 월촌리 754, 기장→김해)")
    '기장→김해'
    >>> parse_heading_hint("이천시 율현 1통 마을입구(호법->이천)")
    '호법→이천'
    >>> parse_heading_hint("경부선 268.6km 부산방향")
    '→부산'
    >>> parse_heading_hint("상주시 함창읍 무운로(교촌리) 교촌교차로(양방향)")
    ''
    """
    if m := _ARROW.search(place):
        origin = _BEFORE_ARROW.split(place[: m.start()])[-1].strip()
        destination = _AFTER_ARROW.split(place[m.end() :])[0].strip()
        if destination:
            return f"{origin}→{destination}"
    if "방향" not in place:
        return ""
    if m := _DASH_TOWARD.search(place):
        return f"{m.group(1).strip()}→{m.group(2).strip()}"
    for m in _TOWARD.finditer(place):
        if m.group(1) not in {"양", "각", "전"}:
            return f"→{m.group(1)}"
    return ""


def _code(value: str) -> str:
    """A code without leading zeros: "03" -> "3", "01+02" -> "1+2"."""
    return "+".join(part.lstrip("0") or "0" for part in value.split("+")) if value else ""


def read_enforcement(
    path: str | os.PathLike[str],
    *,
    country_bounds: tuple[float, float, float, float] | None = DEFAULT_COUNTRY_BOUNDS,
) -> CameraRead:
    """Read a traffic-enforcement camera file into one row per camera.

    Every camera is ``fixed`` with an unknown heading (``heading_source`` "unknown");
    ``heading_hint`` is :func:`parse_heading_hint` of 설치장소; 도로노선방향, 단속구분 (codes
    without leading zeros), 제한속도 and the road fields go to ``attributes``.

    ``source_key`` is "{제공기관코드}:{무인교통단속카메라관리번호}" where that pair names one
    distinct row of the file (management numbers repeat across and even within agencies), else
    the row digest ``site_key``. Rows are rejected for missing, unparseable or out-of-bounds
    coordinates and for a position shared by more than 20 rows with different 설치장소 (a
    default position, see :data:`MAX_ROWS_PER_POSITION`); exact duplicates are merged.

    Parameters
    ----------
    path
        The CSV file (CP949 or UTF-8).
    country_bounds
        (min_lon, min_lat, max_lon, max_lat), degrees EPSG:4326; None disables the check.

    Raises
    ------
    ImportFileError
        for a file that is not this data (naming the missing columns or what the file is).
    """
    name = str(path)
    table = read_csv_table(path, what=WHAT)
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
    report.extra["encoding"] = table.encoding
    missing = sorted(set(OPTIONAL_COLUMNS) - set(cols))
    if missing:
        report.warnings.append(
            "columns not in the file: " + ", ".join(OPTIONAL_COLUMNS[m][0] for m in missing)
        )
    report.rejected.extend(
        RejectedRow(line, "(row)", f"has {got} fields, the header has {len(table.header)}")
        for line, got in table.bad_rows
    )
    frame = pd.DataFrame(table.columns, dtype=object)
    column = {ours: frame[theirs] for ours, theirs in cols.items()}
    lat, lon, problems = coordinate_rejections(
        column["lat"],
        column["lon"],
        bounds=country_bounds,
        lat_field=cols["lat"],
        lon_field=cols["lon"],
    )
    problems += _default_positions(column, {p[0] for p in problems}, cols)
    keys = row_digests(table.columns, table.header)
    kept = settle_rows(report, table.lines, keys, problems)

    def kept_values(ours: str) -> np.ndarray:
        if ours not in column:
            return np.full(len(kept), "", dtype=object)
        return column[ours].to_numpy(dtype=object)[kept]

    source_keys = _source_keys(column, cols, keys, kept)
    places = kept_values("place")
    hints = [parse_heading_hint(p) for p in places]
    installed = kept_values("installed")
    years = {t: parse_install_month(t) for t in set(installed) if t}
    summarise_unparsed(report, "설치년도", (t for t in installed if t and years[t] is None))
    speed = pd.to_numeric(pd.Series(kept_values("speed_limit")), errors="coerce").to_numpy()
    values = {ours: kept_values(ours) for ours in (*OPTIONAL_COLUMNS, "management_no")}
    for ours in _CODE_COLUMNS:
        codes = {v: _code(v) for v in set(values[ours])}
        values[ours] = np.array([codes[v] for v in values[ours]], dtype=object)
    attributes = np.empty(len(kept), dtype=object)
    attributes[:] = [
        {
            "management_no": values["management_no"][j],
            "place": places[j],
            "sido": values["sido"][j],
            "sigungu": values["sigungu"][j],
            "road_kind": values["road_kind"][j],
            "road_no": values["road_no"][j],
            "road_name": values["road_name"][j],
            "road_direction_code": values["road_direction"][j],
            "enforcement_kind_code": values["enforcement_kind"][j],
            "speed_limit_kmh": int(speed[j]) if speed[j] > 0 else None,
            "section_position_code": values["section_position"][j],
            "section_length": values["section_length"][j],
            "protection_zone_code": values["protection_zone"][j],
            "installed_year": years.get(installed[j]),
            "phone": values["phone"][j],
            "data_date": values["data_date"][j],
            "provider_code": values["provider_code"][j],
            "provider_name": values["provider_name"][j],
            "lot_address": values["lot_address"][j],
            "bidirectional": "↔" in places[j] or "양방향" in places[j],
            "kind_assumed": False,
        }
        for j in range(len(kept))
    ]
    road = values["road_address"]
    address = np.where(
        road != "", road, np.where(values["lot_address"] != "", values["lot_address"], places)
    )
    n = len(kept)
    cameras = camera_frame(
        {
            "source_key": source_keys,
            "site_key": np.asarray(keys, dtype=object)[kept],
            "line": np.asarray(table.lines, dtype=np.int64)[kept],
            "owner_name": kept_values("owner"),
            "lon": lon.to_numpy()[kept],
            "lat": lat.to_numpy()[kept],
            "kind": np.full(n, "fixed", dtype=object),
            "heading_deg": np.full(n, np.nan),
            "heading_source": np.full(n, "unknown", dtype=object),
            "heading_uncertainty_deg": np.full(n, np.nan),
            "fov_deg": np.full(n, np.nan),
            "pan_min_deg": np.full(n, np.nan),
            "pan_max_deg": np.full(n, np.nan),
            "resolution_px_h": pd.array([None] * n, dtype="Int64"),
            "megapixels": np.full(n, np.nan),
            "mount_height_m": np.full(n, np.nan),
            "purpose": np.full(n, "교통단속", dtype=object),
            "address": address,
            "direction_text": np.full(n, "", dtype=object),
            "heading_hint": np.asarray(hints, dtype=object),
            "installed": installed,
            "attributes": attributes,
        }
    )
    report.extra["cameras"] = n
    report.extra["with_heading_hint"] = int(sum(1 for h in hints if h))
    report.extra["source_key_from"] = dict(
        Counter("management_no" if ":" in k else "digest" for k in source_keys)
    )
    report.check()
    return CameraRead(cameras=cameras, report=report, source=SOURCE)


def _default_positions(
    column: dict[str, pd.Series], done: set[int], cols: dict[str, str]
) -> list[tuple[int, str, str, str]]:
    """Rows at a position shared by more than MAX_ROWS_PER_POSITION rows with different places."""
    position = column["lat"] + "," + column["lon"]
    usable = ~position.index.isin(list(done))
    places = pd.DataFrame({"position": position, "place": column["place"]})[usable]
    distinct = places.groupby("position")["place"].nunique()
    crowded = distinct[distinct > MAX_ROWS_PER_POSITION]
    if crowded.empty:
        return []
    field = f"{cols['lat']},{cols['lon']}"
    problems = []
    for i in np.flatnonzero(usable & position.isin(crowded.index).to_numpy()):
        where = str(position.iat[int(i)])
        reason = (
            f"placeholder coordinates: {int(crowded.loc[where])} different 설치장소 share "
            "this exact position"
        )
        problems.append((int(i), field, reason, where))
    return problems


def _source_keys(
    column: dict[str, pd.Series], cols: dict[str, str], keys: list[str], kept: np.ndarray
) -> np.ndarray:
    """{provider}:{management number} where it names one distinct row, else the row digest."""
    number = column["management_no"]
    provider = column["provider_code"] if "provider_code" in cols else pd.Series([""] * len(number))
    pair = (provider.to_numpy(dtype=object) + ":" + number.to_numpy(dtype=object)).astype(object)
    distinct = pd.DataFrame({"key": keys, "pair": pair}).drop_duplicates("key")
    counts = distinct["pair"].value_counts()
    usable = (number != "").to_numpy() & (provider != "").to_numpy()
    unique = usable & (pd.Series(pair).map(counts).to_numpy() == 1)
    chosen = np.where(unique, pair, np.asarray(keys, dtype=object))
    return chosen[kept]
