"""The camera-file readers on the real data and on small dirty files: what a user importing gets."""

from __future__ import annotations

import collections
import json
import math
import os
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.errors import ImportFileError
from geo.ingest._direction import classify_direction_text, parse_osm_direction
from geo.ingest.cameras import CAMERA_COLUMNS, CameraRead, parse_megapixels
from geo.ingest.cctv import read_cctv
from geo.ingest.enforcement import parse_heading_hint, read_enforcement
from geo.ingest.osm_cameras import read_osm_cameras

DATA = Path(os.environ.get("GILMOK_DATA_DIR", "/work/shared/data"))
SEOUL = DATA / "seoul_cctv_2018.csv"
GANGNAM = DATA / "gangnam_cctv_20190312.csv"
ENFORCEMENT = DATA / "traffic_enforcement_cameras_2020.csv"
OSM_CAMERAS = DATA / "osm_surveillance_switzerland.json"
MAPO_OSM = DATA / "mapo.osm"

HEADER_13 = (
    "관리기관명,소재지도로명주소,소재지지번주소,설치목적구분,카메라대수,카메라화소수,촬영방면정보,"
    "보관일수,설치년월,관리기관전화번호,위도,경도,데이터기준일자"
)
HEADER_18 = (
    "개방자치단체코드,관리번호,관리기관명,소재지도로명주소,소재지지번주소,설치목적구분,카메라대수,"
    "카메라화소수,촬영방면정보,보관일수,설치연월,관리기관전화번호,WGS84위도,WGS84경도,"
    "데이터기준일자,데이터갱신구분,데이터갱신시점,최종수정시점"
)


def row13(*, cams: str = "2", lat: str = "37.5665", lon: str = "126.9780", direction: str = "북,남",
          pixels: str = "200", installed: str = "2017-05", owner: str = "서울특별시 중구청") -> str:  # fmt: skip
    return (
        f"{owner},서울특별시 중구 세종대로 110,서울특별시 중구 태평로1가 31,생활방범,{cams},{pixels},"
        f'"{direction}",30,{installed},02-3396-4114,{lat},{lon},2024-01-01'
    )


def write(path: Path, lines: list[str], *, encoding: str = "cp949") -> Path:
    path.write_text("\n".join(lines) + "\n", encoding=encoding)
    return path


def assert_camera_table(read: CameraRead) -> None:
    """Every reader returns all columns with their dtypes, and a report that adds up."""
    assert list(read.cameras.columns) == list(CAMERA_COLUMNS)
    assert {c: str(t) for c, t in read.cameras.dtypes.items()} == CAMERA_COLUMNS
    assert read.report.adds_up
    assert read.cameras["source_key"].is_unique
    assert read.cameras["kind"].isin(["fixed", "ptz", "dome"]).all()
    assert read.cameras["heading_source"].isin(["surveyed", "osm_tag", "unknown"]).all()
    headings = read.cameras["heading_deg"].dropna()
    assert ((headings >= 0) & (headings < 360)).all()
    known = read.cameras["heading_deg"].notna()
    assert read.cameras.loc[known, "heading_uncertainty_deg"].notna().all()
    assert (read.cameras.loc[~known, "heading_source"] == "unknown").all()
    # The loader stores attributes as jsonb, which refuses NaN.
    for attrs in read.cameras["attributes"].head(2000):
        json.dumps(attrs, allow_nan=False, ensure_ascii=False)


@pytest.fixture(scope="module")
def seoul() -> CameraRead:
    return read_cctv(SEOUL)


# --- real files -------------------------------------------------------------------------------


def test_seoul_rows_add_up_to_sites_and_cameras(seoul: CameraRead) -> None:
    report = seoul.report
    assert report.rows_read == 21_121
    reasons = collections.Counter(r.reason.split(" (")[0] for r in report.rejected)
    assert reasons == {"placeholder coordinates": 681, "outside the country bounds": 3}
    # PROVENANCE counts 713 exact duplicates, 702 among valid rows: the other 11 repeat a
    # placeholder row, so they are rejected for the same reason and not merged.
    assert report.rows_merged == 702
    # "About 19,700 sites becoming about 37,500 cameras": exactly 21,121 - 684 - 702 sites,
    # whose 카메라대수 sum to 37,467 cameras.
    assert report.rows_kept == 19_735
    assert len(seoul.cameras) == 37_467
    assert seoul.cameras["site_key"].nunique() == 19_735
    assert_camera_table(seoul)


def test_seoul_rejections_name_the_lines(seoul: CameraRead) -> None:
    outside = [r for r in seoul.report.rejected if r.reason.startswith("outside")]
    assert [r.line for r in outside] == [11528, 11529, 19284]
    assert outside[0].value == "39.564718 / 128.987226"
    placeholder = [r for r in seoul.report.rejected if r.reason.startswith("placeholder")]
    assert all(r.value == "99.999999 / 999.999999" for r in placeholder)
    first_line, first_merged = seoul.report.merged[0]
    assert (first_line, first_merged) == (1054, 1053)
    raw = SEOUL.read_bytes().decode("cp949").splitlines()
    assert raw[first_line - 1] == raw[first_merged - 1]


def test_seoul_install_dates_damaged_by_a_spreadsheet_are_one_warning(seoul: CameraRead) -> None:
    assert seoul.report.extra["unparsed"] == {"설치년월": 17_916}
    assert len(seoul.report.warnings) == 1
    assert "'17-Dec'" in seoul.report.warnings[0]
    assert (seoul.cameras["installed"] == "17-Dec").any()  # the raw value is kept


def test_rereading_gives_the_same_keys(seoul: CameraRead) -> None:
    again = read_cctv(SEOUL)
    assert again.cameras["source_key"].tolist() == seoul.cameras["source_key"].tolist()


def test_a_site_of_several_cameras_becomes_that_many_cameras(seoul: CameraRead) -> None:
    site = seoul.cameras[seoul.cameras["direction_text"] == "건물내B1층,남서"]
    assert site["source_key"].str.endswith(("#1", "#2")).all()
    # One camera indoors (no direction), the other facing south-west: never an invented heading.
    assert site["heading_deg"].isna().tolist() == [True, False]
    assert site["heading_deg"].iloc[1] == 225.0
    assert site["heading_uncertainty_deg"].iloc[1] == 22.5


# Category counts over the 593 distinct 촬영방면정보 values of the real Seoul file (all rows,
# rejected ones included), and the number of rows carrying each category.
DISTINCT_PER_CATEGORY = {
    "other": 540, "compass": 37, "all_round": 6, "angle": 4, "fixed": 3, "empty": 2, "distance": 1,
}  # fmt: skip
ROWS_PER_CATEGORY = {
    "all_round": 12_351, "empty": 5_472, "distance": 1_238, "other": 720, "fixed": 675,
    "angle": 463, "compass": 202,
}  # fmt: skip


def test_every_real_direction_text_is_classified() -> None:
    frame = pd.read_csv(SEOUL, encoding="cp949", dtype=str, keep_default_na=False)
    values = frame["촬영방면정보"].value_counts()
    assert len(values) == 593
    distinct: collections.Counter[str] = collections.Counter()
    rows: collections.Counter[str] = collections.Counter()
    for text, count in values.items():
        category = classify_direction_text(str(text)).category
        distinct[category] += 1
        rows[category] += count
    assert distinct == DISTINCT_PER_CATEGORY
    assert rows == ROWS_PER_CATEGORY


@pytest.mark.parametrize(
    ("text", "category", "kind", "fov", "headings"),
    [
        ("360도전방면", "all_round", "dome", 360.0, ()),
        ("360도 전방향", "all_round", "dome", 360.0, ()),
        ("360", "all_round", "dome", 360.0, ()),
        ("360도방면", "all_round", "dome", 360.0, ()),
        ("전방향", "all_round", "dome", 360.0, ()),
        ("고정", "fixed", "fixed", math.nan, ()),
        ("카메라 전면(고정)", "fixed", "fixed", math.nan, ()),
        ("1방면", "fixed", "fixed", math.nan, ()),
        ("단방향", "fixed", "fixed", math.nan, ()),
        ("90도 단방향", "angle", "fixed", 90.0, ()),
        ("120도", "angle", "fixed", 120.0, ()),
        ("180도", "angle", "fixed", 180.0, ()),
        ("남", "compass", "fixed", math.nan, (180.0,)),
        ("동,서,남,북", "compass", "fixed", math.nan, (90.0, 270.0, 180.0, 0.0)),
        ("북동,남서", "compass", "fixed", math.nan, (45.0, 225.0)),
        ("븍,남", "compass", "fixed", math.nan, (0.0, 180.0)),  # a one-key typo of 북
        ("반경 30~150미터 이내(기종따라 다름)", "distance", "fixed", math.nan, ()),
        ("전주밑", "other", "fixed", math.nan, ()),
        ("주택 앞", "other", "fixed", math.nan, ()),
        ("의열사당 전면", "other", "fixed", math.nan, ()),  # the front of a shrine: a place
        ("동주민센터 앞", "other", "fixed", math.nan, ()),  # 동 here is a district, not east
        ("0", "empty", "fixed", math.nan, ()),
        ("", "empty", "fixed", math.nan, ()),
    ],
)
def test_direction_text_says_only_what_it_says(
    text: str, category: str, kind: str, fov: float, headings: tuple[float, ...]
) -> None:
    d = classify_direction_text(text)
    assert (d.category, d.kind) == (category, kind)
    assert d.fov_deg == fov or (math.isnan(d.fov_deg) and math.isnan(fov))
    assert d.headings_deg == headings


def test_gangnam_quoted_header_all_round_cameras() -> None:
    read = read_cctv(GANGNAM)
    assert read.report.rows_read == 1_880
    assert read.report.rows_merged == 1
    assert read.report.rejected == []
    assert (read.cameras["kind"] == "dome").all()
    assert (read.cameras["fov_deg"] == 360.0).all()
    assert read.report.extra["unparsed"] == {"설치년월": 12}  # "1905-07": spreadsheet damage
    assert_camera_table(read)


def test_enforcement_cameras() -> None:
    read = read_enforcement(ENFORCEMENT)
    report = read.report
    assert report.rows_read == 12_295
    by_reason = collections.Counter(r.reason.split(" (")[0] for r in report.rejected)
    # PROVENANCE says 40 without coordinates and 21 out of range; measured: 40 with a missing
    # latitude or longitude (15 both), 6 out of range (5 outside Korea, one longitude 238.9), and
    # 119 Pyeongtaek rows whose 116 different places all share one point 50 km away in North
    # Chungcheong (a default position, not a camera gantry).
    assert by_reason == {
        "missing: the position is unknown": 40,
        "outside the country bounds": 5,
        "not a valid latitude/longitude": 1,
        "placeholder coordinates: 116 different 설치장소 share this exact position": 119,
    }
    assert report.rows_merged == 35
    assert len(read.cameras) == report.rows_kept == 12_095
    assert (read.cameras["kind"] == "fixed").all()
    assert read.cameras["heading_deg"].isna().all()
    yongin = read.cameras[read.cameras["attributes"].map(lambda a: "용인" in a["sigungu"])]
    assert len(yongin) == 43
    assert "동수원IC→수지구청" in set(yongin["heading_hint"])
    assert (read.cameras["heading_hint"] != "").sum() == 3_178
    assert report.extra["source_key_from"] == {"management_no": 12_007, "digest": 88}
    assert_camera_table(read)


@pytest.mark.parametrize(
    ("place", "hint"),
    [
        ("인천 중구 자연대로 운남교차로 (영종역 → 중촌교차로)", "영종역→중촌교차로"),
        ("군포시 산본동 8단지입구사거리(군포소방서->안양)", "군포소방서→안양"),
        ("매곡2교차로(천안 > 현충사)", "천안→현충사"),
        ("경부선 121km 종점 4차선(대구시 동구 율암동) (부산→서울)", "부산→서울"),
        ("서귀포시 남원읍 한남리 718-6(위미리- 수망리방향)", "위미리→수망리"),
        ("포항시 북구 흥해읍 삼흥로(약성리) 흥해초교 맞은편(영덕방향)", "→영덕"),
        ("봉남파출소 앞 (금산사IC↔김제)", ""),
        ("양키시장입구", ""),
    ],
)
def test_enforcement_direction_hint(place: str, hint: str) -> None:
    assert parse_heading_hint(place) == hint


def test_osm_cameras() -> None:
    read = read_osm_cameras(OSM_CAMERAS)
    report = read.report
    assert report.rows_read == 2_144
    assert [(r.line, r.value) for r in report.rejected] == [(951, "guard"), (1511, "guard")]
    cams = read.cameras
    assert len(cams) == 2_178  # camera:count > 1 on 27 nodes
    assert report.extra["kinds"] == {"fixed": 1_483, "dome": 635, "ptz": 60}
    assert (cams["heading_source"] == "osm_tag").sum() == 480
    # camera:angle is the tilt below horizontal, never a field of view.
    assert cams["fov_deg"].isna().all()
    tilted = cams["attributes"].map(lambda a: a.get("tilt_below_horizontal_deg"))
    assert tilted.notna().sum() > 190
    assert report.extra["unparsed"]["camera:angle"] == 7  # "360", "180", "120": a width
    ranged = cams[cams["direction_text"] == "190-100"].iloc[0]
    assert (ranged["pan_min_deg"], ranged["pan_max_deg"]) == (190.0, 100.0)
    three = cams[cams["direction_text"] == "90;160;270"]
    assert three["heading_deg"].tolist() == [90.0, 160.0, 270.0]
    assert cams["mount_height_m"].notna().sum() == 346
    assert_camera_table(read)


def test_osm_direction_values() -> None:
    assert parse_osm_direction("NNW").headings_deg == (337.5,)
    assert parse_osm_direction("NNW").uncertainty_deg == 11.25
    assert parse_osm_direction("270").uncertainty_deg == 5.0
    assert parse_osm_direction("E-W").pan_deg == (90.0, 270.0)
    assert parse_osm_direction("0-360").form == "all_round"
    assert parse_osm_direction("somewhere").form == "invalid"


def test_megapixels_to_horizontal_pixels() -> None:
    assert [parse_megapixels(v) for v in ("41", "130", "200", "300", "500")] == [
        (0.41, 720), (1.3, 1280), (2.0, 1920), (3.0, 2048), (5.0, 2592),
    ]  # fmt: skip


# --- small files ------------------------------------------------------------------------------


def test_utf8_bom_18_column_schema(tmp_path: Path) -> None:
    row = (
        "3140000,C-001,서울특별시 중구청,서울특별시 중구 세종대로 110,,생활방범,3,200만,"
        "360도 전방향,30,2021-07,02-3396-4114,37.5665,126.9780,2024-01-01,I,2024-01-01,"
        "2024-01-01 10:00"
    )
    path = write(tmp_path / "cctv18.csv", [HEADER_18, row], encoding="utf-8-sig")
    read = read_cctv(path)
    assert read.report.extra["schema"] == "18-column"
    assert read.report.extra["encoding"] == "utf-8-sig"
    assert len(read.cameras) == 3
    cam = read.cameras.iloc[0]
    assert (cam["kind"], cam["fov_deg"], cam["resolution_px_h"]) == ("dome", 360.0, 1920)
    assert cam["attributes"]["management_no"] == "C-001"
    assert cam["attributes"]["installed_ym"] == "2021-07"
    assert_camera_table(read)


def test_plain_utf8_and_stray_header_whitespace(tmp_path: Path) -> None:
    header = ",".join(f' "{h}" ' if i % 2 else f" {h}" for i, h in enumerate(HEADER_13.split(",")))
    path = write(tmp_path / "cctv.csv", [header, row13()], encoding="utf-8")
    read = read_cctv(path)
    assert read.report.extra["encoding"] == "utf-8"
    assert read.cameras["heading_deg"].tolist() == [0.0, 180.0]
    assert read.cameras["heading_source"].tolist() == ["surveyed", "surveyed"]


def test_truncated_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "cut.csv"
    path.write_bytes(("\n".join([HEADER_13, row13(), row13(cams="1")[:40]])).encode("cp949"))
    with pytest.raises(ImportFileError, match=r"truncated: its last row \(line 3\) has 3 of 13"):
        read_cctv(path)


def test_file_cut_inside_a_quoted_field(tmp_path: Path) -> None:
    path = tmp_path / "cut.csv"
    path.write_bytes((HEADER_13 + "\n" + row13() + '\n"서울특별시 중').encode("cp949"))
    with pytest.raises(ImportFileError, match="ends inside a quoted field"):
        read_cctv(path)


def test_enforcement_file_given_as_cctv() -> None:
    with pytest.raises(ImportFileError, match="traffic-enforcement camera data"):
        read_cctv(ENFORCEMENT)


def test_cctv_file_given_as_enforcement() -> None:
    with pytest.raises(ImportFileError, match="the CCTV standard data"):
        read_enforcement(SEOUL)


def test_osm_xml_given_as_cctv() -> None:
    with pytest.raises(ImportFileError, match="looks like an OpenStreetMap XML file"):
        read_cctv(MAPO_OSM)


def test_osm_xml_given_as_osm_cameras() -> None:
    with pytest.raises(ImportFileError, match=r"export the Overpass query as JSON"):
        read_osm_cameras(MAPO_OSM)


def test_csv_given_as_osm_cameras() -> None:
    with pytest.raises(ImportFileError, match="not Overpass API JSON"):
        read_osm_cameras(SEOUL)


def test_unknown_header_names_the_missing_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "other.csv", ["name,lat,lon", "a,37.5,127.0"])
    with pytest.raises(ImportFileError, match=r"the header is not .* missing 관리기관명") as info:
        read_cctv(path)
    assert "위도/WGS84위도" in info.value.details["missing"]
    short = HEADER_13.replace(",카메라화소수", "")
    path = write(tmp_path / "short.csv", [short])
    with pytest.raises(ImportFileError, match=r"lacks 1 column.*: missing 카메라화소수"):
        read_cctv(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\x00\x01\x02\x03binary\x00", "binary"),
        (b"PK\x03\x04zipped", "ZIP archive"),
        (HEADER_13.encode("cp949") + b"\n\xff\xfe\xfd", "not a text file in UTF-8 or CP949"),
    ],
)
def test_files_that_are_not_csv_text(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(ImportFileError, match=message):
        read_cctv(path)


def test_duplicates_placeholders_and_bad_counts(tmp_path: Path) -> None:
    lines = [
        HEADER_13,
        row13(),  # 2
        row13(),  # 3: exact duplicate of line 2 -> merged
        "  " + row13().replace(",", " ,", 2),  # 4: same after trimming -> merged
        row13(lat="99.999999", lon="999.999999"),  # 5: placeholder
        row13(lat="99.999999", lon="999.999999"),  # 6: duplicate of a rejected row -> rejected
        row13(lat="37.6", cams=""),  # 7: number of cameras unknown
        row13(lat="37.6", cams="0"),  # 8
        row13(lat="37.6", cams="two"),  # 9
        row13(lat="abc"),  # 10
        row13(direction="360도전방면"),  # 11: same coordinates, other content -> another site
        row13(lat="126.9780", lon="37.5665"),  # 12: swapped
        row13(lat="37.7", pixels="고화질", installed="11-Dec"),  # 13: kept, values left empty
    ]
    read = read_cctv(write(tmp_path / "dirty.csv", lines))
    report = read.report
    assert report.merged == [(3, 2), (4, 2)]
    assert {r.line: r.field for r in report.rejected} == {
        5: "위도,경도", 6: "위도,경도", 7: "카메라대수", 8: "카메라대수", 9: "카메라대수",
        10: "위도", 12: "위도,경도",
    }  # fmt: skip
    assert "look swapped" in next(r.reason for r in report.rejected if r.line == 12)
    assert report.rows_kept == 3
    assert read.cameras["line"].tolist() == [2, 2, 11, 11, 13, 13]
    last = read.cameras.iloc[-1]
    assert pd.isna(last["resolution_px_h"])
    assert math.isnan(last["megapixels"])
    assert last["installed"] == "11-Dec"
    assert last["attributes"]["installed_ym"] is None
    assert report.extra["unparsed"] == {"카메라화소수": 1, "설치년월": 1}
    assert_camera_table(read)


def test_line_numbers_follow_quoted_line_breaks(tmp_path: Path) -> None:
    multi = row13().replace("서울특별시 중구 세종대로 110", '"세종대로 110\n(시청 앞)"')
    lines = [HEADER_13, multi, row13(lat="37.6"), "", row13(lat="99.999999")]
    read = read_cctv(write(tmp_path / "multi.csv", lines))
    assert read.cameras["line"].unique().tolist() == [2, 4]
    assert [r.line for r in read.report.rejected] == [6]


def test_a_row_with_extra_fields_in_the_middle_is_rejected(tmp_path: Path) -> None:
    lines = [HEADER_13, row13() + ",extra", row13(lat="37.6")]
    read = read_cctv(write(tmp_path / "extra.csv", lines))
    assert [(r.line, r.field) for r in read.report.rejected] == [(2, "(row)")]
    assert read.report.adds_up


def test_osm_elements_that_are_not_cameras(tmp_path: Path) -> None:
    camera = {"man_made": "surveillance", "camera:type": "panning", "camera:direction": "90-270"}
    elements = [
        {"type": "node", "id": 1, "lat": 47.0, "lon": 8.0, "tags": camera},
        {"type": "way", "id": 2, "nodes": [1, 3], "tags": {"man_made": "surveillance"}},
        {"type": "node", "id": 3, "lat": 47.0, "lon": 8.0, "tags": {"amenity": "bench"}},
        {"type": "node", "id": 1, "lat": 47.0, "lon": 8.0, "tags": camera},
        {"type": "node", "id": 4, "tags": {"man_made": "surveillance"}},
        {"type": "node", "id": 5, "lat": 47.1, "lon": 8.1,
         "tags": {"man_made": "surveillance", "height": "3,5 m", "operator": "SBB"}},
    ]  # fmt: skip
    path = tmp_path / "overpass.json"
    path.write_text(json.dumps({"version": 0.6, "elements": elements}), encoding="utf-8")
    read = read_osm_cameras(path)
    assert [(r.line, r.field) for r in read.report.rejected] == [
        (2, "type"), (3, "man_made"), (5, "lat,lon"),
    ]  # fmt: skip
    assert read.report.merged == [(4, 1)]
    ptz, plain = read.cameras.iloc[0], read.cameras.iloc[1]
    assert (ptz["kind"], ptz["pan_min_deg"], ptz["pan_max_deg"]) == ("ptz", 90.0, 270.0)
    assert ptz["source_key"] == "node/1#1"
    assert ptz["owner_name"] == "OpenStreetMap contributors"
    assert (plain["kind"], plain["mount_height_m"], plain["owner_name"]) == ("fixed", 3.5, "SBB")
    assert plain["attributes"]["kind_assumed"] is True
    outside = read_osm_cameras(path, country_bounds=(124.5, 33.0, 132.0, 38.7))
    assert len(outside.cameras) == 0
    assert outside.report.adds_up
    assert_camera_table(read)


# --- property: any dirty file gives a report that adds up -------------------------------------

_cell = st.sampled_from(["", " ", "0", "1", "3", "-2", "x", "99.999999", "37.5", "127.0", "북,남"])


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {"cams": _cell, "lat": _cell, "lon": _cell, "direction": _cell, "pixels": _cell}
        ),
        min_size=1,
        max_size=25,
    )
)
def test_report_adds_up_for_any_dirty_file(tmp_path: Path, rows: list[dict[str, str]]) -> None:
    path = write(tmp_path / "random.csv", [HEADER_13, *(row13(**r) for r in rows)])
    read = read_cctv(path)
    report = read.report
    assert report.rows_read == len(rows)
    assert report.adds_up
    sites = read.cameras.drop_duplicates("site_key")
    assert len(sites) == report.rows_kept
    assert len(read.cameras) == sum(a["site_cameras"] for a in sites["attributes"])
