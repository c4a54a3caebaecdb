"""Reader of OpenStreetMap surveillance cameras from Overpass API JSON (``man_made=surveillance``).

Tags are read as the OSM wiki defines them: ``camera:type`` (fixed / panning / dome),
``camera:direction`` (degrees, compass point, a clockwise range "90-270", or several values),
``camera:angle`` (the *tilt* of the camera below the horizontal, 0..90 — not a field of view),
``height`` (metres above ground) and ``camera:count``.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo.errors import ImportFileError
from geo.ingest._csvfile import sniff_kind
from geo.ingest._direction import OsmDirection, assign_headings, parse_osm_direction
from geo.ingest.cameras import CameraRead, camera_frame, empty_cameras, settle_rows
from geo.ingest.report import ReadReport

SOURCE = "osm"
WHAT = "Overpass API JSON of man_made=surveillance nodes"
DEFAULT_OWNER = "OpenStreetMap contributors"

_TYPES = {"fixed": "fixed", "panning": "ptz", "dome": "dome", "360": "dome"}
# surveillance:type values that are not cameras.
_NOT_CAMERAS = {"guard", "gunshot_detector"}
_HEIGHT = re.compile(r"^(\d+(?:\.\d+)?)\s*(m|meter|metre|meters|metres|ft|')?$", re.IGNORECASE)
_FEET_M = 0.3048
# Mount heights above this are typing errors (a cathedral tower is ~100 m).
MAX_MOUNT_HEIGHT_M = 300.0
MAX_CAMERAS_PER_NODE = 100


def parse_height_m(value: str) -> float | None:
    """Metres from an OSM ``height`` value ("3", "3 m", "3.5m", "10 ft"), else None.

    Examples
    --------
    >>> [parse_height_m(v) for v in ("3", "3 m", "3.5m", "10 ft", "high")]
    [3.0, 3.0, 3.5, 3.048, None]
    """
    m = _HEIGHT.match(value.strip().replace(",", "."))
    if not m:
        return None
    height = float(m.group(1))
    if (m.group(2) or "").lower() in {"ft", "'"}:
        height = round(height * _FEET_M, 3)
    return height if 0 < height <= MAX_MOUNT_HEIGHT_M else None


def parse_tilt_deg(value: str) -> float | None:
    """Degrees below the horizontal from ``camera:angle`` (0 horizontal, 90 straight down).

    The tag is the vertical angle, so a value outside -90..90 ("360", "180", "120" in the Swiss
    data: a field of view typed into the wrong tag) is refused rather than read as a width.

    Examples
    --------
    >>> [parse_tilt_deg(v) for v in ("15", "15°", "-30", "360")]
    [15.0, 15.0, 30.0, None]
    """
    v = value.strip().rstrip("°").strip()
    try:
        angle = abs(float(v))
    except ValueError:
        return None
    return angle if angle <= 90 else None


def _load_elements(path: str | os.PathLike[str]) -> list[Any]:
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImportFileError(f"{name}: cannot be read ({exc.strerror})") from exc
    if not data.strip():
        raise ImportFileError(f"{name}: the file is empty; expected {WHAT}")
    kind = sniff_kind(data[:8192])
    if kind == "an OpenStreetMap XML file":
        raise ImportFileError(
            f"{name}: looks like {kind}; export the Overpass query as JSON ([out:json]) instead"
        )
    if kind != "a JSON file":
        raise ImportFileError(f"{name}: looks like {kind or 'a text/CSV file'}, not {WHAT}")
    try:
        document = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportFileError(f"{name}: not valid JSON ({exc}); is the file truncated?") from exc
    if isinstance(document, dict) and isinstance(document.get("elements"), list):
        return document["elements"]
    if isinstance(document, list):
        return document
    raise ImportFileError(f"{name}: JSON without an 'elements' list; expected {WHAT}")


def _problem(
    element: Any, bounds: tuple[float, float, float, float] | None
) -> tuple[str, str, str] | None:
    """(field, reason, value) when an element is not a usable camera, else None."""
    if not isinstance(element, dict):
        return "(element)", "not an OSM element (a JSON object)", str(element)[:40]
    tags = element.get("tags") or {}
    kind = element.get("type", "")
    if kind != "node":
        return "type", f"a {kind or 'typeless element'}, not a node: only nodes are cameras", kind
    if tags.get("man_made") != "surveillance":
        return "man_made", "not tagged man_made=surveillance", str(tags.get("man_made", ""))
    if tags.get("surveillance:type") in _NOT_CAMERAS:
        return "surveillance:type", "not a camera", tags["surveillance:type"]
    lat, lon = element.get("lat"), element.get("lon")
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        return "lat,lon", "missing or not a number: the position is unknown", f"{lat} / {lon}"
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return "lat,lon", "not a valid latitude/longitude", f"{lat} / {lon}"
    if bounds is not None:
        min_lon, min_lat, max_lon, max_lat = bounds
        if not (min_lon <= lon <= max_lon and min_lat <= lat <= max_lat):
            return "lat,lon", f"outside the country bounds {bounds}", f"{lat} / {lon}"
    return None


def read_osm_cameras(
    path: str | os.PathLike[str],
    *,
    country_bounds: tuple[float, float, float, float] | None = None,
) -> CameraRead:
    """Read Overpass JSON into one row per camera (``camera:count`` cameras per node, default 1).

    ``line`` is the element's 1-based position in the file; ``site_key`` is "node/<id>" and
    ``source_key`` "node/<id>#<i>". Elements are rejected when they are not nodes, not
    ``man_made=surveillance``, a guard rather than a camera, or without a usable position; a
    node id seen again is merged into its first occurrence.

    Kind: ``camera:type`` fixed / panning / dome ("360" counts as dome) gives fixed / ptz /
    dome. Without a usable type, the direction decides: a range -> ``ptz``, all-round ("360",
    "0-360") -> ``dome``, anything else -> ``fixed``, with ``attributes["kind_assumed"]`` True
    when neither tag says anything.

    Heading (``heading_source`` "osm_tag"): a number of degrees (±5°), a compass point (±22.5°,
    ±11.25° for NNE-style points); several values are shared among ``camera:count`` cameras as
    :func:`geo.ingest._direction.assign_headings` says. A range gives ``pan_min_deg`` /
    ``pan_max_deg`` (clockwise) and no heading. ``fov_deg`` stays NaN: OSM has no field-of-view
    tag, and ``camera:angle`` is the tilt (kept as ``attributes["tilt_below_horizontal_deg"]``).

    Parameters
    ----------
    path
        Overpass JSON: ``{"elements": [...]}`` or a bare list of elements.
    country_bounds
        (min_lon, min_lat, max_lon, max_lat), degrees; None (the default) keeps every position.

    Raises
    ------
    ImportFileError
        for an empty, non-JSON (OSM XML, CSV, binary) or truncated file.
    """
    elements = _load_elements(path)
    report = ReadReport(source=SOURCE, rows_read=len(elements))
    lines = list(range(1, len(elements) + 1))
    problems: list[tuple[int, str, str, str]] = []
    keys: list[str] = []
    for i, element in enumerate(elements):
        problem = _problem(element, country_bounds)
        if problem is not None:
            problems.append((i, *problem))
        node_id = element.get("id") if isinstance(element, dict) else None
        keys.append(f"node/{node_id}" if problem is None else f"rejected/{i}")
    kept = settle_rows(report, lines, keys, problems)
    if len(kept) == 0:
        report.extra["cameras"] = 0
        return CameraRead(cameras=empty_cameras(), report=report, source=SOURCE)

    unparsed: Counter[str] = Counter()
    rows: dict[str, list[Any]] = {name: [] for name in _ROW_FIELDS}
    for position in kept.tolist():
        _add_node(rows, elements[position], lines[position], keys[position], unparsed)
    for field, count in sorted(unparsed.items()):
        report.warnings.append(f"{field}: {count} value(s) could not be read and were ignored")
    report.extra["unparsed"] = dict(unparsed)
    n = len(rows["source_key"])
    cameras = camera_frame(
        {
            **rows,
            "resolution_px_h": pd.array([None] * n, dtype="Int64"),
            "megapixels": np.full(n, np.nan),
            "fov_deg": np.full(n, np.nan),
            "heading_hint": np.full(n, "", dtype=object),
        }
    )
    report.extra["cameras"] = n
    report.extra["kinds"] = dict(Counter(cameras["kind"]))
    report.extra["with_heading"] = int(cameras["heading_deg"].notna().sum())
    report.check()
    return CameraRead(cameras=cameras, report=report, source=SOURCE)


_ROW_FIELDS = (
    "source_key", "site_key", "line", "owner_name", "lon", "lat", "kind", "heading_deg",
    "heading_source", "heading_uncertainty_deg", "pan_min_deg", "pan_max_deg", "mount_height_m",
    "purpose", "address", "direction_text", "installed", "attributes",
)  # fmt: skip


def _camera_type(tags: dict[str, str], unparsed: Counter[str]) -> str | None:
    raw = tags.get("camera:type", "").strip().lower()
    if not raw:
        return None
    if raw in _TYPES:
        return _TYPES[raw]
    unparsed["camera:type"] += 1
    return None


def _add_node(
    rows: dict[str, list[Any]],
    element: dict[str, Any],
    line: int,
    site_key: str,
    unparsed: Counter[str],
) -> None:
    """Append the cameras of one surveillance node to ``rows``."""
    tags: dict[str, str] = {str(k): str(v) for k, v in (element.get("tags") or {}).items()}
    count_text = tags.get("camera:count", "1").strip()
    n = int(count_text) if count_text.isdigit() else 0
    if not 1 <= n <= MAX_CAMERAS_PER_NODE:
        unparsed["camera:count"] += 1
        n = 1
    direction_text = tags.get("camera:direction") or tags.get("direction") or ""
    direction: OsmDirection = parse_osm_direction(direction_text)
    if direction.form == "invalid":
        unparsed["camera:direction"] += 1
    tagged_kind = _camera_type(tags, unparsed)
    by_direction = {"range": "ptz", "all_round": "dome", "heading": "fixed"}.get(direction.form)
    kind = tagged_kind or by_direction or "fixed"

    headings = (
        assign_headings(n, direction.headings_deg)
        if direction.form == "heading"
        else [math.nan] * n
    )
    pan = direction.pan_deg or (math.nan, math.nan)
    height_text = tags.get("height") or tags.get("camera:height") or ""
    height = parse_height_m(height_text) if height_text else None
    if height_text and height is None:
        unparsed["height"] += 1
    attributes: dict[str, Any] = {
        "osm_id": element.get("id"),
        "site_cameras": n,
        "kind_assumed": tagged_kind is None and by_direction is None,
        "all_round": direction.form == "all_round",
        "tags": tags,
    }
    if angle_text := tags.get("camera:angle"):
        tilt = parse_tilt_deg(angle_text)
        if tilt is None:
            unparsed["camera:angle"] += 1
        attributes["tilt_below_horizontal_deg"] = tilt
    address = " ".join(
        tags[k]
        for k in ("addr:street", "addr:housenumber", "addr:postcode", "addr:city")
        if k in tags
    )
    for i, heading in enumerate(headings, start=1):
        known = not math.isnan(heading)
        rows["source_key"].append(f"{site_key}#{i}")
        rows["site_key"].append(site_key)
        rows["line"].append(line)
        rows["owner_name"].append(tags.get("operator", "").strip() or DEFAULT_OWNER)
        rows["lon"].append(float(element["lon"]))
        rows["lat"].append(float(element["lat"]))
        rows["kind"].append(kind)
        rows["heading_deg"].append(heading)
        rows["heading_source"].append("osm_tag" if known else "unknown")
        rows["heading_uncertainty_deg"].append(direction.uncertainty_deg if known else math.nan)
        rows["pan_min_deg"].append(pan[0])
        rows["pan_max_deg"].append(pan[1])
        rows["mount_height_m"].append(math.nan if height is None else height)
        rows["purpose"].append(tags.get("surveillance:zone") or tags.get("surveillance") or "")
        rows["address"].append(address)
        rows["direction_text"].append(direction_text)
        rows["installed"].append(tags.get("start_date", ""))
        rows["attributes"].append(attributes)
