"""What a camera file says about where its cameras look: free Korean text and OSM direction tags.

Headings are degrees clockwise from north in [0, 360). Nothing here guesses: a text that does not
state a direction gives an unknown (NaN) heading, and an uncertainty says how precise a stated
direction is (half-width, degrees).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

NAN = math.nan

# Half-width of a direction stated as one of the 8 compass points (N, NE, E, ...), degrees.
COMPASS_8_UNCERTAINTY_DEG = 22.5
# Half-width of one of the 16 points (NNE, ...), degrees.
COMPASS_16_UNCERTAINTY_DEG = 11.25
# Half-width for a number of degrees typed by an OpenStreetMap mapper (estimated on a map).
OSM_DEGREES_UNCERTAINTY_DEG = 5.0

_KOREAN_COMPASS = {
    "북": 0.0, "정북": 0.0, "북동": 45.0, "동북": 45.0, "동": 90.0, "정동": 90.0,
    "남동": 135.0, "동남": 135.0, "남": 180.0, "정남": 180.0, "남서": 225.0, "서남": 225.0,
    "서": 270.0, "정서": 270.0, "북서": 315.0, "서북": 315.0,
}  # fmt: skip
# Obvious one-key typos seen in the national data ("븍,남"): ㅡ for ㅜ in 북.
_KOREAN_TYPOS = {"븍": "북"}
_KOREAN_SUFFIX = re.compile(r"(쪽|측|방향|방면)$")

_ALL_ROUND = re.compile(
    r"^(360(도|°)?(전방면|전방향|전방위|전방|방면|방향|회전)?|전방향|전방면|전방위)$"
)
_ANGLE = re.compile(r"^(\d{1,3}(?:\.\d+)?)(도|°)(단방향|전방면|전방|방면|방향|화각)?$")
_FIXED = re.compile(
    r"^((카메라)?(전면|정면)(\(고정\))?|\(?고정\)?|고정식|단방향|단방면|일방향|일방면|1방면|1방향|전방)$"
)
_DISTANCE = re.compile(r"(\d+(?:\.\d+)?)\s*(?:[~\-]\s*(\d+(?:\.\d+)?))?\s*(m|미터|M)")
_EMPTY = {"", "0", "-", "없음", "해당없음", "미상"}


@dataclass(frozen=True)
class DirectionText:
    """What a 촬영방면정보 (shooting direction) text says about a site's cameras.

    Attributes
    ----------
    category
        ``all_round`` (360° text), ``angle`` (a stated field of view: "90도 단방향"), ``fixed``
        (one fixed direction, not said which: "고정", "1방면"), ``compass`` (compass words, one per
        camera: "북,남"), ``distance`` (a viewing range: "반경 30~150미터 이내"), ``empty`` ("",
        "0") or ``other`` (place words: "전주밑", "주택 앞").
    kind
        ``dome`` for all-round text, else ``fixed``.
    fov_deg
        Horizontal field of view, degrees (360 for all-round, the stated angle, else NaN).
    headings_deg
        For ``compass``: one heading per listed direction, in order, NaN for a listed item that
        is not a direction ("건물내B1층,남서" -> (NaN, 225)). Empty otherwise.
    range_m
        For ``distance``: (min, max) metres, min NaN when only a maximum is given.
    """

    category: str
    kind: str = "fixed"
    fov_deg: float = NAN
    headings_deg: tuple[float, ...] = ()
    range_m: tuple[float, float] | None = None

    @property
    def kind_stated(self) -> bool:
        """Whether the text says what kind of camera this is (else ``fixed`` is assumed)."""
        return self.category in {"all_round", "angle", "fixed", "compass"}


def _korean_compass(token: str) -> float | None:
    word = re.sub(r"\s+", "", token)
    for typo, right in _KOREAN_TYPOS.items():
        word = word.replace(typo, right)
    word = _KOREAN_SUFFIX.sub("", word)
    return _KOREAN_COMPASS.get(word)


def classify_direction_text(text: str) -> DirectionText:
    """Classify one 촬영방면정보 value of the CCTV standard data.

    Parameters
    ----------
    text
        The raw value (whitespace is ignored).

    Examples
    --------
    >>> classify_direction_text("360도 전방면").category, classify_direction_text("360").fov_deg
    ('all_round', 360.0)
    >>> d = classify_direction_text("90도 단방향"); (d.category, d.kind, d.fov_deg)
    ('angle', 'fixed', 90.0)
    >>> classify_direction_text("카메라 전면(고정)").category
    'fixed'
    >>> classify_direction_text("북동,남서").headings_deg
    (45.0, 225.0)
    >>> classify_direction_text("반경 30~150미터 이내(기종따라 다름)").range_m
    (30.0, 150.0)
    >>> classify_direction_text("주택 앞").category, classify_direction_text("0").category
    ('other', 'empty')
    """
    raw = text.strip()
    compact = re.sub(r"\s+", "", raw)
    if compact in _EMPTY:
        return DirectionText("empty")
    if _ALL_ROUND.match(compact):
        return DirectionText("all_round", kind="dome", fov_deg=360.0)
    if m := _ANGLE.match(compact):
        angle = float(m.group(1))
        if 0 < angle < 360:
            return DirectionText("angle", fov_deg=angle)
        return DirectionText("other")
    if _FIXED.match(compact):
        return DirectionText("fixed")
    tokens = [t.strip() for t in re.split(r"[,/·、]", raw) if t.strip()]
    headings = [_korean_compass(t) for t in tokens]
    stated = [h for h in headings if h is not None]
    if stated and (len(stated) == len(tokens) or len(tokens) >= 2):
        listed = tuple(NAN if h is None else h for h in headings)
        return DirectionText("compass", headings_deg=listed)
    if ("반경" in compact or "이내" in compact) and (m := _DISTANCE.search(raw)):
        low, high = m.group(1), m.group(2)
        if high is None:
            return DirectionText("distance", range_m=(NAN, float(low)))
        return DirectionText("distance", range_m=(float(low), float(high)))
    return DirectionText("other")


def assign_headings(n_cameras: int, headings_deg: Sequence[float]) -> list[float]:
    """Share a site's listed directions among its cameras: one direction per camera, in order.

    A site record says "북,남" for its cameras without saying which camera looks where, so the
    i-th camera gets the i-th listed direction (the set of directions is what was surveyed).

    - as many cameras as directions: one each;
    - more cameras than directions: the first cameras get the directions, the rest are unknown;
    - fewer cameras than directions: no camera can be matched to a direction (a camera that
      turns between them, or cameras missing from the count), so all are unknown.

    Returns
    -------
    list of float
        ``n_cameras`` headings, degrees clockwise from north, NaN when unknown.

    Examples
    --------
    >>> assign_headings(3, [0.0, 180.0])
    [0.0, 180.0, nan]
    >>> assign_headings(1, [0.0, 180.0])
    [nan]
    """
    if n_cameras < len(headings_deg):
        return [NAN] * n_cameras
    return list(headings_deg) + [NAN] * (n_cameras - len(headings_deg))


# --- OpenStreetMap camera:direction --------------------------------------------------------

_OSM_POINTS = (
    "N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE",
    "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW",
)  # fmt: skip
_OSM_COMPASS = {name: i * 22.5 for i, name in enumerate(_OSM_POINTS)}
_OSM_WORDS = {
    "north": 0.0, "northeast": 45.0, "east": 90.0, "southeast": 135.0,
    "south": 180.0, "southwest": 225.0, "west": 270.0, "northwest": 315.0,
}  # fmt: skip
_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?$")


@dataclass(frozen=True)
class OsmDirection:
    """A parsed OpenStreetMap ``camera:direction`` (or ``direction``) value.

    Attributes
    ----------
    form
        ``none`` (no tag), ``heading`` (one or more single directions), ``range`` (a clockwise
        pan range such as "90-270"), ``all_round`` ("360", "0-360", "0-359") or ``invalid``.
    headings_deg
        For ``heading``: the directions, degrees clockwise from north in [0, 360).
    uncertainty_deg
        Half-width of the least precise heading, degrees.
    pan_deg
        For ``range``: (min, max), the camera turns clockwise from min to max.
    """

    form: str
    headings_deg: tuple[float, ...] = ()
    uncertainty_deg: float = NAN
    pan_deg: tuple[float, float] | None = None


def _osm_single(value: str) -> tuple[float, float] | None:
    """(heading, uncertainty) of one number or compass value, else None."""
    v = value.strip().rstrip("°")
    if _NUMBER.match(v):
        return float(v) % 360.0, OSM_DEGREES_UNCERTAINTY_DEG
    upper = v.upper()
    if upper in _OSM_COMPASS:
        half = COMPASS_16_UNCERTAINTY_DEG if len(upper) == 3 else COMPASS_8_UNCERTAINTY_DEG
        return _OSM_COMPASS[upper], half
    word = v.lower().replace("-", "").replace(" ", "")
    if word in _OSM_WORDS:
        return _OSM_WORDS[word], COMPASS_8_UNCERTAINTY_DEG
    return None


def parse_osm_direction(value: str | None) -> OsmDirection:
    """Parse ``camera:direction`` as the OSM wiki defines it.

    A number is a heading in degrees (a signed number is taken modulo 360: "-100" is 260°); an
    abbreviation (N, NE, NNE, ...) a compass point; "A-B" a range the camera can turn through
    clockwise from A to B; several values separated by ";" or "," several directions.

    Examples
    --------
    >>> parse_osm_direction("NE").headings_deg, parse_osm_direction("NE").uncertainty_deg
    ((45.0,), 22.5)
    >>> parse_osm_direction("90-270").pan_deg
    (90.0, 270.0)
    >>> parse_osm_direction("360").form, parse_osm_direction("-100").headings_deg
    ('all_round', (260.0,))
    >>> parse_osm_direction("90;160;270").headings_deg
    (90.0, 160.0, 270.0)
    """
    if value is None or not value.strip():
        return OsmDirection("none")
    v = value.strip()
    if v in {"360", "0-360", "0-359", "N-N"}:
        return OsmDirection("all_round")
    parts = [p for p in re.split(r"[;,]", v) if p.strip()]
    if len(parts) == 1 and (m := re.match(r"^\s*([^-\s]+)\s*-\s*([^-\s]+)\s*$", v)):
        low, high = _osm_single(m.group(1)), _osm_single(m.group(2))
        if low is None or high is None:
            return OsmDirection("invalid")
        return OsmDirection("range", pan_deg=(low[0], high[0]))
    singles = [_osm_single(p) for p in parts]
    if not singles or any(s is None for s in singles):
        return OsmDirection("invalid")
    found = [s for s in singles if s is not None]
    return OsmDirection(
        "heading",
        headings_deg=tuple(h for h, _ in found),
        uncertainty_deg=max(u for _, u in found),
    )
