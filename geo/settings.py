"""Settings machinery, and the registry's settings: what every reader of the data applies.

gilmok's configuration is read from ``GILMOK_*`` environment variables once, at start-up, in
groups, one class per concern, each parsed with pydantic-settings from its own variables and
kept where its concern lives:

- here, :class:`SettingsGroup` (the machinery) and :class:`RegistrySettings` (data folder,
  working CRS, country bounds, coverage cap): pure, no database library;
- :class:`geo.store.settings.DatabaseSettings`: the database and its two login roles;
- :mod:`api.settings`: the service's groups (feeds, API limits, audit anchor), and
  :class:`api.settings.Settings`, all groups at once (the relay's,
  :class:`api.relay.settings.RelaySettings`, included), which the CLI and the app factory
  load and pass down.

Nothing reads the environment at import time, nor when a group is built from keywords (tests
do): ``from_environ`` reads a mapping given to it. A wrong value raises
:class:`~geo.errors.ConfigurationError`, one line naming the variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from pydantic import Field, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

from geo.crs import DEFAULT_COUNTRY_BOUNDS, DEFAULT_WORKING_CRS
from geo.errors import ConfigurationError


class _EnvironSource(EnvSettingsSource):
    """The variables of one mapping (``os.environ`` or a test's dict), each value left as the
    string it is: the groups' validators parse it and name the variable when it is wrong."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # Only upper-case names count, as the variables are documented (the source itself
        # matches names whatever their case).
        upper = {name: value for name, value in self._environ.items() if name.isupper()}
        return parse_env_vars(
            upper, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str
        )

    def decode_complex_value(
        self,
        field_name: str,  # noqa: ARG002 (the library's hook)
        field: FieldInfo,  # noqa: ARG002
        value: Any,
    ) -> Any:
        return value


class SettingsGroup(BaseSettings):
    """A group of settings: built from keywords, or from the variables by :meth:`from_environ`."""

    model_config = SettingsConfigDict(
        env_prefix="GILMOK_",
        env_ignore_empty=True,
        extra="ignore",
        frozen=True,
        arbitrary_types_allowed=True,
        populate_by_name=True,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],  # noqa: ARG003 (the library passes them by name)
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,  # noqa: ARG003
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Keywords only: the environment is read by from_environ, never behind a caller's back.
        return (init_settings,)

    @classmethod
    def variables(cls, environ: Mapping[str, str]) -> dict[str, Any]:
        """The group's fields set in ``environ``, as raw strings keyed by field name."""
        return _EnvironSource(cls, environ)()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Self:
        """The group as ``environ`` sets it, defaults elsewhere."""
        return cls(**cls.variables(environ))

    def with_overrides(self, **changes: Any) -> Self:
        """A copy with some fields replaced (tests, CLI options)."""
        return self.model_copy(update=changes)


def _default_snapshot_dir() -> Path:
    """Per-user state folder of the registry snapshots every process on the machine maps."""
    return Path.home() / ".local" / "state" / "gilmok" / "snapshots"


def _default_data_dir() -> Path | None:
    """``../shared/data`` next to the project checkout, where it exists."""
    candidate = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
    return candidate if candidate.is_dir() else None


def parse_float(name: str, raw: str, *, low: float, high: float) -> float:
    try:
        value = float(raw)
    except ValueError as exc:
        raise ConfigurationError(f"{name}={raw!r} is not a number") from exc
    if not low <= value <= high:
        raise ConfigurationError(f"{name}={raw!r} is outside {low}..{high}")
    return value


def _parse_bounds(raw: str) -> tuple[float, float, float, float]:
    parts = raw.split(",")
    if len(parts) != 4:
        raise ConfigurationError(
            f"GILMOK_COUNTRY_BOUNDS={raw!r} must be min_lon,min_lat,max_lon,max_lat"
        )
    values = [parse_float("GILMOK_COUNTRY_BOUNDS", p, low=-180, high=180) for p in parts]
    min_lon, min_lat, max_lon, max_lat = values
    if not (min_lon < max_lon and min_lat < max_lat and min_lat >= -90 and max_lat <= 90):
        raise ConfigurationError(f"GILMOK_COUNTRY_BOUNDS={raw!r} is not a valid box")
    return (min_lon, min_lat, max_lon, max_lat)


def _parse_crs(raw: str) -> str:
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        crs = CRS.from_user_input(raw)
    except CRSError as exc:
        raise ConfigurationError(f"GILMOK_WORKING_CRS={raw!r} is not a known CRS") from exc
    if not crs.is_projected or crs.axis_info[0].unit_name not in {"metre", "meter"}:
        raise ConfigurationError(f"GILMOK_WORKING_CRS={raw!r} must be a projected CRS in metres")
    if crs.to_epsg() != 5179:
        # The schema stores every geometry in SRID 5179 (migration 0001) and the snapshot reads
        # it as such: another working CRS would mislabel stored metres, so it is refused.
        raise ConfigurationError(
            f"GILMOK_WORKING_CRS={raw!r} is not supported: gilmok's schema stores geometry in"
            f" {DEFAULT_WORKING_CRS} (Korea 2000 / UTM-K), the only working CRS it accepts"
        )
    return DEFAULT_WORKING_CRS


def parse_port(name: str, raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ConfigurationError(f"{name}={raw!r} is not a TCP/UDP port (1..65535)")
    return int(raw)


def parse_port_range(name: str, raw: str) -> tuple[int, int]:
    low, sep, high = raw.partition("-")
    if not sep:
        raise ConfigurationError(f"{name}={raw!r} must be a port range like 20000-20999")
    ports = (parse_port(name, low.strip()), parse_port(name, high.strip()))
    if ports[0] >= ports[1]:
        raise ConfigurationError(f"{name}={raw!r}: the low port must be below the high one")
    return ports


class RegistrySettings(SettingsGroup):
    """The camera registry's inputs and the geometry rules every reader applies.

    Attributes
    ----------
    data_dir
        Folder holding the real input data (``GILMOK_DATA_DIR``), or None when absent.
    gpkg
        A registry GeoPackage (from ``gilmok export gpkg``) the planners' workbench opens
        instead of PostGIS (``GILMOK_GPKG``), or None.
    working_crs
        Projected CRS in metres for every distance and area (``GILMOK_WORKING_CRS``, default
        EPSG:5179, UTM-K, the only one the schema accepts).
    country_bounds
        (min_lon, min_lat, max_lon, max_lat) of the country: camera positions outside are
        rejected (``GILMOK_COUNTRY_BOUNDS``).
    max_coverage_range_m
        Cap on any camera's coverage radius, metres (``GILMOK_MAX_COVERAGE_RANGE_M``).
    snapshot_dir
        Folder of the registry snapshots, one sub-folder per database and version, built once
        and mapped by every process of the machine (``GILMOK_SNAPSHOT_DIR``, default
        ``~/.local/state/gilmok/snapshots``; see :mod:`geo.snapshot_file`).
    snapshot_compact_after
        Cameras changed since a worker's snapshot (held in its live delta) past which the
        worker has a new version built that includes them, keyed by the change sequence
        (``GILMOK_SNAPSHOT_COMPACT_AFTER``, default 5,000): the delta stays small, and a worker
        starting later replays only the changes after that version.
    """

    data_dir: Path | None = Field(default_factory=_default_data_dir)
    gpkg: Path | None = None
    working_crs: str = DEFAULT_WORKING_CRS
    country_bounds: tuple[float, float, float, float] = DEFAULT_COUNTRY_BOUNDS
    max_coverage_range_m: float = 200.0
    snapshot_dir: Path = Field(default_factory=_default_snapshot_dir)
    snapshot_compact_after: int = Field(default=5_000, ge=1)

    @field_validator("snapshot_dir", mode="before")
    @classmethod
    def _snapshot_dir(cls, raw: Any) -> Any:
        return Path(raw).expanduser() if isinstance(raw, str) else raw

    @field_validator("data_dir", mode="before")
    @classmethod
    def _data_dir(cls, raw: Any) -> Any:
        if isinstance(raw, str):
            path = Path(raw).expanduser()
            if not path.is_dir():
                raise ConfigurationError(f"GILMOK_DATA_DIR={raw!r} is not a directory")
            return path
        return raw

    @field_validator("gpkg", mode="before")
    @classmethod
    def _gpkg(cls, raw: Any) -> Any:
        if isinstance(raw, str):
            path = Path(raw).expanduser()
            if not path.is_file():
                raise ConfigurationError(f"GILMOK_GPKG={raw!r} is not a file")
            return path
        return raw

    @field_validator("working_crs", mode="before")
    @classmethod
    def _working_crs(cls, raw: Any) -> Any:
        return _parse_crs(raw) if isinstance(raw, str) else raw

    @field_validator("country_bounds", mode="before")
    @classmethod
    def _country_bounds(cls, raw: Any) -> Any:
        return _parse_bounds(raw) if isinstance(raw, str) else raw

    @field_validator("max_coverage_range_m", mode="before")
    @classmethod
    def _max_coverage_range(cls, raw: Any) -> Any:
        if isinstance(raw, str):
            return parse_float("GILMOK_MAX_COVERAGE_RANGE_M", raw, low=1, high=5000)
        return raw
