"""What defines a cordon around an incident: its size, how it is measured, which way, for whom.

One frozen :class:`CordonOptions` carries the six options from the edge that receives them (the
API's query schema, the CLI's options, a drill's stored options) to the query path
(:func:`geo.approaches.find_approaches`, :func:`geo.incident.answer_incident`, the drills), and
is validated once, when it is made, against the vocabularies of :mod:`geo.domain`:

- the size is a radius in metres, **or** minutes of travel at a speed (R = speed × time), never
  both; R lies between :data:`MIN_RADIUS_M` and :data:`MAX_RADIUS_M`;
- ``mode``: ``network`` (along the roads) or ``euclidean`` (a circle);
- ``direction``: ``inbound`` (approaches), ``outbound`` (exits) or ``both``;
- ``travel``: ``drive`` (one-way streets respected) or ``foot``.

Pure: no numpy, no database, so the web layer and the CLI import it for nothing.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from typing import Any, Final

from geo.domain import CORDON_MODES, DIRECTIONS, TRAVEL_MODES
from geo.errors import InvalidInput

MIN_RADIUS_M: Final = 50.0
MAX_RADIUS_M: Final = 5000.0
DEFAULT_RADIUS_M: Final = 500.0


def _refuse(message: str, field: str, **details: Any) -> InvalidInput:
    """The error for a bad option; ``details["field"]`` names the option to blame."""
    return InvalidInput(message, details={"field": field, **details})


def check_choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    """Raise :class:`InvalidInput` naming ``name`` unless ``value`` is one of ``allowed``.

    Examples
    --------
    >>> check_choice("mode", "network", CORDON_MODES)
    >>> check_choice("mode", "walk", CORDON_MODES)
    Traceback (most recent call last):
    ...
    geo.errors.InvalidInput: mode must be one of network, euclidean, not 'walk'
    """
    if value not in allowed:
        raise _refuse(f"{name} must be one of {', '.join(allowed)}, not {value!r}", name)


@dataclass(frozen=True)
class CordonOptions:
    """The options of one cordon, checked when made (:class:`InvalidInput` names what is wrong).

    Attributes
    ----------
    radius_m
        Cordon radius R, metres (default :data:`DEFAULT_RADIUS_M` when no time is given).
    minutes, speed_kmh
        A time-based cordon: R = speed × time. Both or neither, and not with ``radius_m``.
    mode, direction, travel
        See the module's docstring.

    Examples
    --------
    >>> CordonOptions().radius
    500.0
    >>> walk = CordonOptions(minutes=20, speed_kmh=5, travel="foot")
    >>> round(walk.radius, 1), walk.describe()
    (1666.7, '20 min at 5 km/h = 1667 m')
    >>> CordonOptions(radius_m=300, minutes=5)
    Traceback (most recent call last):
    ...
    geo.errors.InvalidInput: give either a radius or minutes and a speed, not both
    """

    radius_m: float | None = None
    minutes: float | None = None
    speed_kmh: float | None = None
    mode: str = "network"
    direction: str = "inbound"
    travel: str = "drive"

    def __post_init__(self) -> None:
        check_choice("mode", self.mode, CORDON_MODES)
        check_choice("direction", self.direction, DIRECTIONS)
        check_choice("travel", self.travel, TRAVEL_MODES)
        _ = self.radius  # the size rule, checked now rather than at the first query

    @functools.cached_property
    def radius(self) -> float:
        """R in metres: ``radius_m``, or ``speed_kmh`` × ``minutes``, or the default."""
        if self.minutes is not None or self.speed_kmh is not None:
            if self.radius_m is not None:
                raise _refuse("give either a radius or minutes and a speed, not both", "radius_m")
            if self.minutes is None:
                raise _refuse("a time-based cordon needs both minutes and speed_kmh", "minutes")
            if self.speed_kmh is None:
                raise _refuse("a time-based cordon needs both minutes and speed_kmh", "speed_kmh")
            if not (self.minutes > 0 and self.speed_kmh > 0):
                raise _refuse("minutes and speed_kmh must be positive", "minutes")
            radius = float(self.speed_kmh) * 1000.0 * float(self.minutes) / 60.0
            where, field = (
                f"{self.minutes:g} minutes at {self.speed_kmh:g} km/h is {radius:.0f} m,"
                " but the radius",
                "minutes",
            )
        else:
            radius = DEFAULT_RADIUS_M if self.radius_m is None else float(self.radius_m)
            where, field = f"radius {radius:g} m: the radius", "radius_m"
        if not MIN_RADIUS_M <= radius <= MAX_RADIUS_M:
            raise _refuse(
                f"{where} must be between {MIN_RADIUS_M:g} and {MAX_RADIUS_M:g} m",
                field,
                radius_m=radius,
            )
        return radius

    @property
    def timed(self) -> bool:
        """True for a cordon set by minutes of travel at a speed."""
        return self.minutes is not None

    def describe(self) -> str:
        """The size as a person reads it: ``500 m`` or ``20 min at 5 km/h = 1667 m``."""
        if self.timed:
            return f"{self.minutes:g} min at {self.speed_kmh:g} km/h = {self.radius:.0f} m"
        return f"{self.radius:g} m"

    def as_dict(self) -> dict[str, Any]:
        """The six options as given (JSON-ready), e.g. as stored with a drill or an answer."""
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> CordonOptions:
        """The options named in ``values`` (other keys are ignored); checked like any other."""
        return cls(**{k: values[k] for k in cls.__dataclass_fields__ if k in values})


#: The default cordon: 500 m along the roads, approaches, driving.
DEFAULT_CORDON: Final = CordonOptions()
