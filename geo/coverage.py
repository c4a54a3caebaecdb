"""Camera coverage: DORI ranges (IEC 62676-4) and coverage polygons, vectorised over cameras.

A camera's coverage at a DORI level is the ground where it still puts at least that level's
pixels on each metre of the target:

- fixed camera: a circular sector centred on its heading, as wide as its field of view;
- PTZ or dome: a disk, or, when its pan limits are known, the sector swept by the pan range
  widened by half the field of view on each side;
- fixed camera whose heading is unknown: a disk marked ``"low"`` confidence, never a made-up
  sector.

The radius comes from the horizontal pixel count and the *lens's* field of view. A rectilinear
lens (under 180°) spreads its pixels over a width ``2·d·tan(fov/2)`` at distance ``d``, so
``range = pixels_h / (2·tan(fov/2)·px_per_m)``. That formula degenerates at 180° and above:

- a *fixed* camera listed with 180° or more has a panoramic (fisheye) lens, whose pixels
  spread over the arc ``d·fov`` (radians) — the whole circumference ``2πd`` for 360° — so
  ``range = pixels_h / (fov_rad·px_per_m)``;
- a *PTZ or dome* camera listed with 180° or more ("360도 전방면" in the Korean registry,
  where these are speed domes) is telling where it can look, not its lens: its coverage is
  the disk, and its range comes from the lens it zooms with, the kind's default lens field
  of view (:data:`KIND_DEFAULTS`). Spreading 1920 px over 360° would claim a 5 m reach for
  a camera that sees a plate at 50 m.

Every range is capped at ``max_range_m`` (setting ``GILMOK_MAX_COVERAGE_RANGE_M``, default
200 m): beyond it, weather, mounting and occlusion make any claim of useful video doubtful.

Missing resolution or field of view take documented defaults by camera kind
(:data:`KIND_DEFAULTS`). Polygons are in the working CRS (metres); arcs are drawn with
vertices close enough that no chord strays more than :data:`ARC_TOLERANCE_M` (25 cm) from
the true arc.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike, NDArray

from geo.domain import DORI_PX_PER_M
from geo.errors import InvalidInput
from geo.kernels.arrays import floats
from geo.kernels.sectors import sector_rings

#: DORI level names, weakest first.
DORI_LEVELS: tuple[str, ...] = tuple(DORI_PX_PER_M)
#: Default cap on any coverage radius, metres (``GILMOK_MAX_COVERAGE_RANGE_M``).
DEFAULT_MAX_RANGE_M = 200.0
#: Defaults where a camera's horizontal resolution or field of view is missing, by kind:
#: (horizontal pixels, horizontal field of view in degrees).
#:
#: - ``fixed``: a 1080p bullet/box camera with a 4 mm-class lens, 60° wide;
#: - ``ptz`` and ``dome`` (a speed dome that looks all round): 1080p, lens assumed zoomed to
#:   30° — the tele end (a few degrees) would claim every PTZ sees 200 m in all directions
#:   at once, the wide end would ignore its zoom.
KIND_DEFAULTS: dict[str, tuple[float, float]] = {
    "fixed": (1920.0, 60.0),
    "ptz": (1920.0, 30.0),
    "dome": (1920.0, 30.0),
}
#: Fields of view from this width up are treated as fisheye/panoramic lenses.
PANORAMIC_FOV_DEG = 180.0
#: Largest angle between two consecutive arc vertices, degrees.
ARC_STEP_DEG = 45.0
#: Smallest angle between two consecutive arc vertices, degrees (at most 128 per circle).
MIN_ARC_STEP_DEG = 360.0 / 128
#: Largest gap between a drawn arc and the true circle, metres. A fixed 5.625° step spends 64
#: vertices on every disk whatever its size; sizing the step to this gap draws a 57 m disk with
#: 34 and a 6 m one with 12, which is what makes a national registry's coverage cheap to
#: store, send and index. 25 cm is far inside the uncertainty of any DORI range.
ARC_TOLERANCE_M = 0.25


def arc_step_deg(radius_m: ArrayLike) -> NDArray[np.float64]:
    """Angle between consecutive arc vertices so the chords stay within :data:`ARC_TOLERANCE_M`.

    A chord spanning angle θ on a circle of radius r lies ``r·(1 − cos(θ/2))`` inside the arc
    at most; the step is the largest θ keeping that under the tolerance, clipped to
    [:data:`MIN_ARC_STEP_DEG`, :data:`ARC_STEP_DEG`].

    Examples
    --------
    >>> arc_step_deg([6.5, 26.6, 200.0]).round(1)
    array([31.9, 15.7,  5.7])
    """
    r = np.asarray(radius_m, dtype=np.float64)
    cos_half = np.clip(1.0 - ARC_TOLERANCE_M / np.maximum(r, 1e-9), -1.0, 1.0)
    step = np.degrees(2.0 * np.arccos(cos_half))
    return np.asarray(np.clip(step, MIN_ARC_STEP_DEG, ARC_STEP_DEG))


def level_px_per_m(level: str) -> float:
    """Pixels per metre that DORI ``level`` requires.

    Examples
    --------
    >>> level_px_per_m("observe")
    62.5
    """
    try:
        return DORI_PX_PER_M[level]
    except KeyError:
        raise InvalidInput(
            f"unknown DORI level {level!r}; use one of {', '.join(DORI_LEVELS)}"
        ) from None


def lens_width_factor(fov_deg: NDArray[np.float64]) -> NDArray[np.float64]:
    """Metres of scene width per metre of distance across the field of view."""
    fov_rad = np.radians(fov_deg)
    rectilinear = 2.0 * np.tan(np.minimum(fov_rad, math.radians(PANORAMIC_FOV_DEG) - 1e-9) / 2)
    return np.where(fov_deg < PANORAMIC_FOV_DEG, rectilinear, fov_rad)


def pixel_density(pixels_h: ArrayLike, fov_deg: ArrayLike, distance_m: ArrayLike) -> NDArray:
    """Horizontal pixels per metre of target at ``distance_m`` metres from the camera.

    Examples
    --------
    >>> round(float(pixel_density(1920, 90.0, 15.36)[()]), 6)
    62.5
    >>> round(float(pixel_density(2560, 360.0, 10.0)[()]), 2)  # 2560 px around 2π·10 m
    40.74
    """
    pixels = np.asarray(pixels_h, dtype=np.float64)
    fov = np.asarray(fov_deg, dtype=np.float64)
    distance = np.asarray(distance_m, dtype=np.float64)
    with np.errstate(divide="ignore", over="ignore"):
        return np.asarray(pixels / (lens_width_factor(fov) * distance))


def dori_range_m(
    pixels_h: ArrayLike,
    fov_deg: ArrayLike,
    *,
    level: str = "observe",
    max_range_m: float = DEFAULT_MAX_RANGE_M,
) -> NDArray[np.float64]:
    """Distance in metres up to which a camera reaches DORI ``level``, capped at ``max_range_m``.

    ``range = pixels_h / (2·tan(fov/2)·px_per_m)`` for a field of view under 180°,
    ``pixels_h / (fov_rad·px_per_m)`` from 180° up (panoramic lens: pixels over the arc).

    Parameters
    ----------
    pixels_h
        Horizontal resolution, pixels.
    fov_deg
        Horizontal field of view, degrees, in (0, 360].
    level
        ``"detect"`` (25 px/m), ``"observe"`` (62.5), ``"recognise"`` (125), ``"identify"`` (250).
    max_range_m
        Cap, metres.

    Examples
    --------
    >>> dori_range_m([1920, 1920], [90.0, 60.0]).round(2)
    array([15.36, 26.6 ])
    >>> float(dori_range_m(1920, 2.0, level="detect")[()])  # a zoomed PTZ hits the cap
    200.0
    >>> round(float(dori_range_m(2560, 360.0, level="detect")[()]), 2)  # fixed fisheye
    16.3
    """
    px_per_m = level_px_per_m(level)
    pixels = np.asarray(pixels_h, dtype=np.float64)
    fov = np.asarray(fov_deg, dtype=np.float64)
    if np.any(~(pixels > 0)) or np.any(~((fov > 0) & (fov <= 360))):
        raise InvalidInput("pixels_h must be > 0 and fov_deg in (0, 360]; fill defaults first")
    # a field of view so narrow (a few 1e-300 degrees) that its width rounds to 0 sees as far
    # as the cap: the division gives inf there, which the cap bounds
    with np.errstate(divide="ignore", over="ignore"):
        return np.asarray(np.minimum(pixels / (lens_width_factor(fov) * px_per_m), max_range_m))


def dori_level_index(pixels_h: ArrayLike, fov_deg: ArrayLike, distance_m: ArrayLike) -> NDArray:
    """Index into :data:`DORI_LEVELS` of the strongest level reached at ``distance_m``; -1 if none.

    Examples
    --------
    >>> dori_level_index(1920, 90.0, [3.0, 10.0, 20.0, 100.0]).tolist()
    [3, 1, 0, -1]
    """
    density = pixel_density(pixels_h, fov_deg, distance_m)
    thresholds = np.array([DORI_PX_PER_M[name] for name in DORI_LEVELS])
    return np.asarray(np.searchsorted(thresholds, density, side="right") - 1)


def fill_camera_defaults(
    kind: ArrayLike, pixels_h: ArrayLike, fov_deg: ArrayLike
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Pixels and *lens* field of view, missing values (NaN / NA / <= 0) filled by kind defaults.

    A PTZ or dome listed with 180° or more is telling where it can look, not its lens: its
    lens field of view is the kind's default.

    Examples
    --------
    >>> px, fov = fill_camera_defaults(["fixed", "dome", "fixed"], [np.nan, 3840, 2560],
    ...                                [np.nan, 360.0, 360.0])
    >>> px.tolist(), fov.tolist()
    ([1920.0, 3840.0, 2560.0], [60.0, 30.0, 360.0])
    """
    kinds = np.asarray(kind, dtype=object)
    pixels = np.array(pixels_h, dtype=np.float64, copy=True).reshape(kinds.shape)
    fov = np.array(fov_deg, dtype=np.float64, copy=True).reshape(kinds.shape)
    unknown_kinds = set(pd.unique(kinds).tolist()) - set(KIND_DEFAULTS)  # hashed: O(n)
    if unknown_kinds:
        raise InvalidInput(
            f"unknown camera kind(s) {sorted(map(str, unknown_kinds))}; "
            f"use one of {', '.join(KIND_DEFAULTS)}"
        )
    for name, (default_px, default_fov) in KIND_DEFAULTS.items():
        mine = kinds == name
        pixels[mine & ~(pixels > 0)] = default_px
        fov[mine & ~((fov > 0) & (fov <= 360))] = default_fov
        if name != "fixed":
            fov[mine & (fov >= PANORAMIC_FOV_DEG)] = default_fov
    return pixels, fov


def _as_column(values: ArrayLike | None, n: int) -> NDArray[np.float64]:
    if values is None:
        return np.full(n, np.nan)
    return np.broadcast_to(np.asarray(values, dtype=np.float64), (n,)).copy()


def coverage_spans(
    heading_deg: ArrayLike,
    fov_deg: ArrayLike,
    *,
    kind: ArrayLike,
    pan_min_deg: ArrayLike | None = None,
    pan_max_deg: ArrayLike | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_]]:
    """Angular extent of each camera's coverage: start azimuth, clockwise span, known heading.

    Returns ``(start_deg, span_deg, heading_known)``; a span of 360 means a disk. Azimuths are
    in degrees clockwise from north (use grid north of the working CRS for polygons).

    Examples
    --------
    >>> start, span, known = coverage_spans([90.0, np.nan, 0.0], [60.0, 60.0, 30.0],
    ...                                     kind=["fixed", "fixed", "ptz"])
    >>> start.tolist(), span.tolist(), known.tolist()
    ([60.0, 0.0, 0.0], [60.0, 360.0, 360.0], [True, False, True])
    >>> coverage_spans([0.0], [30.0], kind=["ptz"], pan_min_deg=[350.0], pan_max_deg=[20.0])[:2]
    (array([335.]), array([60.]))
    """
    kinds = np.asarray(kind, dtype=object)
    n = kinds.shape[0]
    heading = _as_column(heading_deg, n)
    fov = _as_column(fov_deg, n)
    pan_min = _as_column(pan_min_deg, n)
    pan_max = _as_column(pan_max_deg, n)
    fixed = kinds == "fixed"
    heading_known = ~fixed | np.isfinite(heading)

    start = np.zeros(n)
    span = np.full(n, 360.0)
    sector = fixed & np.isfinite(heading) & (fov < 360)
    start[sector] = np.mod(heading[sector] - fov[sector] / 2, 360)
    span[sector] = fov[sector]

    pan_limited = ~fixed & np.isfinite(pan_min) & np.isfinite(pan_max)
    pan_span = np.mod(pan_max - pan_min, 360) + fov
    pan_sector = pan_limited & (pan_span < 360)
    start[pan_sector] = np.mod(pan_min[pan_sector] - fov[pan_sector] / 2, 360)
    span[pan_sector] = pan_span[pan_sector]
    return start, span, heading_known


def sector_polygons(
    x: ArrayLike, y: ArrayLike, start_deg: ArrayLike, span_deg: ArrayLike, radius_m: ArrayLike
) -> NDArray[np.object_]:
    """Circular sectors (a disk where the span is 360°) as shapely polygons, vectorised.

    Parameters
    ----------
    x, y
        Centres, metres (working CRS).
    start_deg
        Azimuth where each sector starts, degrees clockwise from the grid's north.
    span_deg
        Clockwise angular width, degrees, in (0, 360]; 360 draws a disk.
    radius_m
        Radii, metres, > 0.

    Examples
    --------
    >>> poly = sector_polygons([0.0], [0.0], [45.0], [90.0], [10.0])[0]
    >>> poly.contains(shapely.Point(5, 0)), poly.contains(shapely.Point(0, 5))
    (True, False)
    >>> round(sector_polygons([0.0], [0.0], [0.0], [360.0], [10.0])[0].area / (100 * np.pi), 3)
    0.971
    """
    cx = np.atleast_1d(np.asarray(x, dtype=np.float64))
    n = cx.shape[0]
    cy = _as_column(y, n)
    start = _as_column(start_deg, n)
    span = _as_column(span_deg, n)
    radius = _as_column(radius_m, n)
    if n == 0:
        return np.empty(0, dtype=object)
    px, py, ring = sector_rings(
        floats(cx), floats(cy), floats(start), floats(span), floats(radius),
        ARC_TOLERANCE_M, MIN_ARC_STEP_DEG, ARC_STEP_DEG,
    )  # fmt: skip
    rings = shapely.linearrings(np.column_stack([px, py]), indices=ring)
    return np.asarray(shapely.polygons(rings), dtype=object)


def coverage_polygons(
    x: ArrayLike,
    y: ArrayLike,
    heading_deg: ArrayLike,
    fov_deg: ArrayLike,
    range_m: ArrayLike,
    *,
    kind: ArrayLike,
    pan_min_deg: ArrayLike | None = None,
    pan_max_deg: ArrayLike | None = None,
    heading_source: ArrayLike | None = None,
) -> tuple[NDArray[np.object_], NDArray[np.str_]]:
    """Coverage polygons and their confidence, one per camera, vectorised.

    Parameters
    ----------
    x, y
        Camera positions, metres (working CRS).
    heading_deg
        Heading, degrees clockwise from the working CRS's grid north (NaN: unknown). Convert a
        compass heading by adding :func:`geo.crs.north_azimuth_deg`.
    fov_deg
        Horizontal field of view, degrees (NaN: the kind's default, :data:`KIND_DEFAULTS`).
    range_m
        Radius, metres (e.g. from :func:`dori_range_m`).
    kind
        ``"fixed"``, ``"ptz"`` or ``"dome"`` per camera.
    pan_min_deg, pan_max_deg
        Pan limits of PTZ/dome cameras, degrees clockwise from grid north (NaN: unlimited);
        the pan sweeps clockwise from ``pan_min_deg`` to ``pan_max_deg``.
    heading_source
        ``"surveyed"``, ``"osm_tag"``, ``"inferred"`` or ``"unknown"``; an inferred heading
        draws its sector but with ``"low"`` confidence.

    Returns
    -------
    polygons
        shapely Polygons: sector (fixed), disk or pan-limited sector (PTZ/dome), disk (fixed,
        heading unknown).
    confidence
        ``"high"``, or ``"low"`` where a fixed camera's heading is unknown or only inferred.

    Examples
    --------
    >>> polys, conf = coverage_polygons([0.0, 0.0], [0.0, 0.0], [0.0, np.nan], [60.0, 60.0],
    ...                                 [20.0, 20.0], kind=["fixed", "fixed"])
    >>> conf.tolist(), [round(p.area) for p in polys]
    (['high', 'low'], [207, 1236])
    """
    kinds = np.atleast_1d(np.asarray(kind, dtype=object))
    n = kinds.shape[0]
    _, fov = fill_camera_defaults(kinds, np.full(n, np.nan), _as_column(fov_deg, n))
    start, span, heading_known = coverage_spans(
        heading_deg, fov, kind=kinds, pan_min_deg=pan_min_deg, pan_max_deg=pan_max_deg
    )
    polygons = sector_polygons(x, y, start, span, range_m)
    return polygons, coverage_confidence(heading_known, kind=kinds, heading_source=heading_source)


def coverage_confidence(
    heading_known: ArrayLike, *, kind: ArrayLike, heading_source: ArrayLike | None = None
) -> NDArray[np.str_]:
    """``"high"``, or ``"low"`` for a fixed camera whose heading is unknown or only inferred.

    Examples
    --------
    >>> coverage_confidence([True, False, True], kind=["fixed", "fixed", "fixed"],
    ...                     heading_source=["surveyed", "unknown", "inferred"]).tolist()
    ['high', 'low', 'low']
    """
    confidence = np.where(np.asarray(heading_known, dtype=bool), "high", "low")
    if heading_source is not None:
        inferred = np.asarray(heading_source, dtype=object) == "inferred"
        confidence[(np.asarray(kind, dtype=object) == "fixed") & inferred] = "low"
    return confidence
