"""Typed settings, read from ``GILMOK_*`` environment variables once, at start-up.

The settings come in groups, one class per concern, each parsed with pydantic-settings from
its own variables: :class:`DatabaseSettings`, :class:`RegistrySettings`, :class:`FeedSettings`,
:class:`ApiSettings`, :class:`AuditSettings`, :class:`ConsoleSettings` and the relay's
:class:`RelaySettings`.
:class:`Settings` is all of them at once; its attributes keep the variables' names
(``GILMOK_WORKING_CRS`` is ``settings.working_crs``), the relay's excepted (``settings.relay``).

Nothing reads the environment at import time, nor when a group is built from keywords (tests
do): call :func:`load_settings` (the CLI and the app factory do) and pass the result down. A
wrong value raises :class:`~geo.errors.ConfigurationError`, one line naming the variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from pydantic import Field, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from geo.crs import DEFAULT_COUNTRY_BOUNDS, DEFAULT_WORKING_CRS
from geo.errors import ConfigurationError

#: The service's login role: not the schema's owner (scripts/setup.sh creates both roles).
DEFAULT_DATABASE_URL = "postgresql+psycopg://gilmok_service:gilmok_service@127.0.0.1:5432/gilmok"
#: The owner's credentials, used on the service URL's server and database when
#: ``GILMOK_OWNER_DATABASE_URL`` is unset (the development roles of scripts/setup.sh).
DEFAULT_OWNER_USER = "gilmok"
DEFAULT_OWNER_PASSWORD = "gilmok"
#: Shortest audit anchor key accepted (``GILMOK_AUDIT_ANCHOR_KEY``), characters.
MIN_ANCHOR_KEY_LENGTH = 32


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


class _Group(BaseSettings):
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


def _default_relay_runtime_dir() -> Path:
    """Per-user state folder for the relay's generated configuration, logs and secret."""
    return Path.home() / ".local" / "state" / "gilmok" / "relay"


def _default_data_dir() -> Path | None:
    """``../shared/data`` next to the project checkout, where it exists."""
    candidate = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
    return candidate if candidate.is_dir() else None


def _default_owner_url() -> URL:
    return make_url(DEFAULT_DATABASE_URL).set(
        username=DEFAULT_OWNER_USER, password=DEFAULT_OWNER_PASSWORD
    )


def _parse_url(raw: str, *, name: str = "GILMOK_DATABASE_URL") -> URL:
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise ConfigurationError(
            f"{name} is not a database URL "
            "(expected postgresql+psycopg://USER:PASSWORD@HOST:PORT/DBNAME)"
        ) from exc
    if url.get_backend_name() != "postgresql":
        raise ConfigurationError(
            f"{name} must point at PostgreSQL/PostGIS, not {url.get_backend_name()!r}"
        )
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    if not url.database:
        raise ConfigurationError(f"{name} names no database")
    return url


def _parse_float(name: str, raw: str, *, low: float, high: float) -> float:
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
    values = [_parse_float("GILMOK_COUNTRY_BOUNDS", p, low=-180, high=180) for p in parts]
    min_lon, min_lat, max_lon, max_lat = values
    if not (min_lon < max_lon and min_lat < max_lat and min_lat >= -90 and max_lat <= 90):
        raise ConfigurationError(f"GILMOK_COUNTRY_BOUNDS={raw!r} is not a valid box")
    return (min_lon, min_lat, max_lon, max_lat)


def _parse_rate(name: str, raw: str) -> str | None:
    """A rate string of the ``limits`` library (``30/minute``, ``5/second;100/hour``), or None
    for ``off``."""
    from limits import parse_many

    if raw.strip().lower() == "off":
        return None
    try:
        parse_many(raw)
    except ValueError as exc:
        raise ConfigurationError(
            f"{name}={raw!r} is not a rate such as 30/minute or 5/second;100/hour (or off)"
        ) from exc
    return raw.strip()


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


def _parse_port(name: str, raw: str) -> int:
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise ConfigurationError(f"{name}={raw!r} is not a TCP/UDP port (1..65535)")
    return int(raw)


def _parse_port_range(name: str, raw: str) -> tuple[int, int]:
    low, sep, high = raw.partition("-")
    if not sep:
        raise ConfigurationError(f"{name}={raw!r} must be a port range like 20000-20999")
    ports = (_parse_port(name, low.strip()), _parse_port(name, high.strip()))
    if ports[0] >= ports[1]:
        raise ConfigurationError(f"{name}={raw!r}: the low port must be below the high one")
    return ports


class RelaySettings(_Group):
    """The stream relay (Janus by default) and the camera simulator (``GILMOK_RELAY_*``,
    ``GILMOK_CAMSIM_PORT``).

    Attributes
    ----------
    backend
        Adapter name for :func:`api.relay.make_relay` (``GILMOK_RELAY_BACKEND``, default janus).
    host
        Address of the relay's HTTP API; loopback only by design (``GILMOK_RELAY_HOST``).
    ws_port
        TCP port of the relay's WebSocket API, which browsers use: one connection per feed,
        where HTTP long polls would queue behind a browser's six connections per host
        (``GILMOK_RELAY_WS_PORT``).
    port, admin_port
        TCP ports of the relay's HTTP API and admin API (``GILMOK_RELAY_PORT``,
        ``GILMOK_RELAY_ADMIN_PORT``).
    public_url
        Base URL viewers use to reach the relay, when it differs from the internal one
        (``GILMOK_RELAY_PUBLIC_URL``).
    secret
        Master secret from which every relay secret is derived (``GILMOK_RELAY_SECRET``); when
        unset, ``gilmok relay start`` generates one in ``runtime_dir``. Never shown in repr.
    runtime_dir
        Folder for the generated relay configuration, log, pid file and secret
        (``GILMOK_RELAY_RUNTIME_DIR``).
    binary
        The relay executable (``GILMOK_RELAY_BINARY``, default ``janus``).
    media_ports, source_ports
        UDP port ranges (low, high) for viewers' WebRTC media and for RTP pulled from camera
        sources (``GILMOK_RELAY_MEDIA_PORTS``, ``GILMOK_RELAY_SOURCE_PORTS``, as ``low-high``).
    source_timeout_s
        Seconds the relay waits for a camera source to answer when a stream is provisioned
        (``GILMOK_RELAY_SOURCE_TIMEOUT_S``).
    camsim_port
        TCP port of the camera simulator's RTSP server (``GILMOK_CAMSIM_PORT``).
    configured
        Whether the app and the worker drive a relay: True once ``GILMOK_RELAY_BACKEND`` is set
        (the relay commands work without it, on the defaults).
    """

    model_config = SettingsConfigDict(env_prefix="GILMOK_RELAY_")

    backend: str = "janus"
    host: str = "127.0.0.1"
    port: int = 8088
    admin_port: int = 7088
    ws_port: int = 8188
    public_url: str | None = None
    secret: str | None = Field(default=None, repr=False)
    runtime_dir: Path = Field(default_factory=_default_relay_runtime_dir)
    binary: str = "janus"
    media_ports: tuple[int, int] = (20000, 20999)
    source_ports: tuple[int, int] = (21000, 21999)
    source_timeout_s: float = 3.0
    camsim_port: int = Field(default=8554, validation_alias="GILMOK_CAMSIM_PORT")
    configured: bool = False

    @classmethod
    def variables(cls, environ: Mapping[str, str]) -> dict[str, Any]:
        found = super().variables(environ)
        found.pop("configured", None)
        return {**found, "configured": "backend" in found}

    @field_validator("backend", mode="before")
    @classmethod
    def _backend(cls, raw: Any) -> Any:
        return raw.strip().lower() if isinstance(raw, str) else raw

    @field_validator("port", "admin_port", mode="before")
    @classmethod
    def _port(cls, raw: Any, info: ValidationInfo) -> Any:
        name = f"GILMOK_RELAY_{str(info.field_name).upper()}"
        return _parse_port(name, raw) if isinstance(raw, str) else raw

    @field_validator("camsim_port", mode="before")
    @classmethod
    def _camsim_port(cls, raw: Any) -> Any:
        return _parse_port("GILMOK_CAMSIM_PORT", raw) if isinstance(raw, str) else raw

    @field_validator("public_url", mode="before")
    @classmethod
    def _public_url(cls, raw: Any) -> Any:
        return raw.rstrip("/") if isinstance(raw, str) else raw

    @field_validator("secret", mode="before")
    @classmethod
    def _secret(cls, raw: Any) -> Any:
        if isinstance(raw, str) and len(raw) < 16:
            raise ConfigurationError("GILMOK_RELAY_SECRET must be at least 16 characters long")
        return raw

    @field_validator("runtime_dir", mode="before")
    @classmethod
    def _runtime_dir(cls, raw: Any) -> Any:
        return Path(raw).expanduser() if isinstance(raw, str) else raw

    @field_validator("media_ports", "source_ports", mode="before")
    @classmethod
    def _port_range(cls, raw: Any, info: ValidationInfo) -> Any:
        name = f"GILMOK_RELAY_{str(info.field_name).upper()}"
        return _parse_port_range(name, raw) if isinstance(raw, str) else raw

    @field_validator("source_timeout_s", mode="before")
    @classmethod
    def _source_timeout(cls, raw: Any) -> Any:
        if isinstance(raw, str):
            return _parse_float("GILMOK_RELAY_SOURCE_TIMEOUT_S", raw, low=0.1, high=60)
        return raw


class DatabaseSettings(_Group):
    """The PostGIS database and the two roles that log in to it.

    Attributes
    ----------
    database_url
        SQLAlchemy URL of the PostGIS database as the service's login role
        (``GILMOK_DATABASE_URL``, ``postgresql+psycopg://...``): the API, the worker and every
        command that only reads or writes rows. The role must not own the schema.
    owner_database_url
        The same database as the schema's owner (``GILMOK_OWNER_DATABASE_URL``): migrations and
        imports. Default: ``database_url``'s server and database as the development owner
        ``gilmok`` (password ``gilmok``).
    """

    database_url: URL = Field(default_factory=lambda: make_url(DEFAULT_DATABASE_URL))
    owner_database_url: URL = Field(default_factory=_default_owner_url)

    @classmethod
    def variables(cls, environ: Mapping[str, str]) -> dict[str, Any]:
        found = super().variables(environ)
        if "owner_database_url" not in found:
            # The owner follows the service's database: a migration never lands elsewhere.
            service = _parse_url(found.get("database_url", DEFAULT_DATABASE_URL))
            found["owner_database_url"] = service.set(
                username=DEFAULT_OWNER_USER, password=DEFAULT_OWNER_PASSWORD
            )
        return found

    @field_validator("database_url", "owner_database_url", mode="before")
    @classmethod
    def _url(cls, raw: Any, info: ValidationInfo) -> Any:
        name = f"GILMOK_{str(info.field_name).upper()}"
        return _parse_url(raw, name=name) if isinstance(raw, str) else raw

    @property
    def safe_database_url(self) -> str:
        """The database URL with its password hidden, for messages and logs."""
        return self.database_url.render_as_string(hide_password=True)

    @property
    def safe_owner_database_url(self) -> str:
        """The owner's database URL with its password hidden."""
        return self.owner_database_url.render_as_string(hide_password=True)


class RegistrySettings(_Group):
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
    """

    data_dir: Path | None = Field(default_factory=_default_data_dir)
    gpkg: Path | None = None
    working_crs: str = DEFAULT_WORKING_CRS
    country_bounds: tuple[float, float, float, float] = DEFAULT_COUNTRY_BOUNDS
    max_coverage_range_m: float = 200.0

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
            return _parse_float("GILMOK_MAX_COVERAGE_RANGE_M", raw, low=1, high=5000)
        return raw


class FeedSettings(_Group):
    """Live feeds.

    Attributes
    ----------
    feed_session_max_s
        Longest a feed session's credential lives, seconds, whatever the activation's end
        (``GILMOK_FEED_SESSION_MAX_S``, default 2 hours).
    """

    feed_session_max_s: float = 7200.0

    @field_validator("feed_session_max_s", mode="before")
    @classmethod
    def _feed_session_max(cls, raw: Any) -> Any:
        if isinstance(raw, str):
            return _parse_float("GILMOK_FEED_SESSION_MAX_S", raw, low=1, high=7 * 24 * 3600)
        return raw


class ApiSettings(_Group):
    """What one API request may cost.

    Attributes
    ----------
    request_statement_timeout_ms
        Longest any one SQL statement of an API request may run, milliseconds, before
        PostgreSQL cancels it and the request answers 503 with nothing written
        (``GILMOK_REQUEST_STATEMENT_TIMEOUT_MS``, default 2000).
    rate_limit
        Requests one API key may make, across every endpoint, every worker and every
        ``gilmok serve`` sharing the database, as a rate string such as ``1200/minute`` or
        ``20/second;1200/minute``; ``off`` for none (``GILMOK_RATE_LIMIT``). Requests without a
        key are counted by client address.
    rate_limit_refused_feeds
        Feed requests one API key may have refused (any 4xx answer: no legal basis, a camera
        outside the activation, ...) before every further feed request of the key is refused
        for the rest of the window (``GILMOK_RATE_LIMIT_REFUSED_FEEDS``, default 30/minute).
    rate_limit_refused_logins
        Sign-ins (``POST /v1/session``) one client address may have refused before every
        further sign-in from it is refused for the rest of the window
        (``GILMOK_RATE_LIMIT_REFUSED_LOGINS``, default 10/minute).
    """

    request_statement_timeout_ms: int = 2000
    rate_limit: str | None = "1200/minute"
    rate_limit_refused_feeds: str | None = "30/minute"
    rate_limit_refused_logins: str | None = "10/minute"

    @field_validator("request_statement_timeout_ms", mode="before")
    @classmethod
    def _statement_timeout(cls, raw: Any) -> Any:
        if isinstance(raw, str):
            name = "GILMOK_REQUEST_STATEMENT_TIMEOUT_MS"
            return int(_parse_float(name, raw, low=1, high=600_000))
        return raw

    @field_validator(
        "rate_limit", "rate_limit_refused_feeds", "rate_limit_refused_logins", mode="before"
    )
    @classmethod
    def _rate(cls, raw: Any, info: ValidationInfo) -> Any:
        name = f"GILMOK_{str(info.field_name).upper()}"
        return _parse_rate(name, raw) if isinstance(raw, str) else raw


class AuditSettings(_Group):
    """The audit chain's anchor.

    Attributes
    ----------
    audit_anchor_key
        HMAC-SHA256 key that signs the audit chain's head for ``gilmok audit head`` and
        ``audit verify --head`` (``GILMOK_AUDIT_ANCHOR_KEY``, at least 32 characters); kept
        away from the database's owner. Never shown in repr.
    """

    audit_anchor_key: str | None = Field(default=None, repr=False)

    @field_validator("audit_anchor_key", mode="before")
    @classmethod
    def _anchor_key(cls, raw: Any) -> Any:
        if isinstance(raw, str) and len(raw) < MIN_ANCHOR_KEY_LENGTH:
            raise ConfigurationError(
                f"GILMOK_AUDIT_ANCHOR_KEY must be at least {MIN_ANCHOR_KEY_LENGTH} characters long"
            )
        return raw


def _parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigurationError(f"{name}={raw!r} is not a boolean (true or false)")


def _parse_origins(raw: str) -> tuple[str, ...]:
    """``GILMOK_CORS_ORIGINS``: comma-separated ``scheme://host[:port]`` origins, or empty."""
    origins = []
    for part in raw.split(","):
        origin = part.strip().rstrip("/")
        if not origin:
            continue
        if origin == "*" or not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+", origin):
            raise ConfigurationError(
                f"GILMOK_CORS_ORIGINS: {origin!r} is not an origin such as"
                " https://console.example.org (no wildcard, no path)"
            )
        origins.append(origin.lower())
    return tuple(dict.fromkeys(origins))


class ConsoleSettings(_Group):
    """Browser sessions, the event stream and cross-origin access (the web console's needs).

    Attributes
    ----------
    session_idle_s
        A browser session not used for this many seconds ends (``GILMOK_SESSION_IDLE_S``,
        default 30 minutes; an open event stream counts as use).
    session_max_s
        A browser session ends this many seconds after sign-in whatever its use
        (``GILMOK_SESSION_MAX_S``, default 12 hours).
    session_cookie_secure
        Whether the session cookie carries ``Secure`` (sent over HTTPS only)
        (``GILMOK_SESSION_COOKIE_SECURE``, default true; set false for plain http on loopback).
    cors_origins
        Origins other than the server's own whose pages may call the API with credentials
        (``GILMOK_CORS_ORIGINS``, comma-separated; empty, the default, allows none).
    events_max_streams
        Event streams (``GET /v1/events``) one server process holds at once; more are refused
        with 503 (``GILMOK_EVENTS_MAX_STREAMS``, default 8). Each holds one of the process's
        threads, so ``gilmok serve`` gives every worker this many threads more.
    events_heartbeat_s
        Seconds between two keep-alive comments on an idle event stream
        (``GILMOK_EVENTS_HEARTBEAT_S``, default 15).
    """

    session_idle_s: float = 1800.0
    session_max_s: float = 43200.0
    session_cookie_secure: bool = True
    cors_origins: tuple[str, ...] = ()
    events_max_streams: int = 8
    events_heartbeat_s: float = 15.0

    @field_validator("session_idle_s", "session_max_s", mode="before")
    @classmethod
    def _session_s(cls, raw: Any, info: ValidationInfo) -> Any:
        name = f"GILMOK_{str(info.field_name).upper()}"
        return _parse_float(name, raw, low=10, high=7 * 24 * 3600) if isinstance(raw, str) else raw

    @field_validator("session_cookie_secure", mode="before")
    @classmethod
    def _secure(cls, raw: Any) -> Any:
        return _parse_bool("GILMOK_SESSION_COOKIE_SECURE", raw) if isinstance(raw, str) else raw

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, raw: Any) -> Any:
        return _parse_origins(raw) if isinstance(raw, str) else raw

    @field_validator("events_max_streams", mode="before")
    @classmethod
    def _max_streams(cls, raw: Any) -> Any:
        if isinstance(raw, str):
            return int(_parse_float("GILMOK_EVENTS_MAX_STREAMS", raw, low=1, high=1000))
        return raw

    @field_validator("events_heartbeat_s", mode="before")
    @classmethod
    def _heartbeat(cls, raw: Any) -> Any:
        if isinstance(raw, str):
            return _parse_float("GILMOK_EVENTS_HEARTBEAT_S", raw, low=0.1, high=300)
        return raw


class Settings(
    DatabaseSettings,
    RegistrySettings,
    FeedSettings,
    ApiSettings,
    AuditSettings,
    ConsoleSettings,
):
    """gilmok's configuration: every group's attributes, and the relay's as ``relay``.

    Attributes
    ----------
    relay
        The stream relay and the camera simulator (:class:`RelaySettings`).
    """

    relay: RelaySettings = Field(default_factory=RelaySettings)

    @classmethod
    def variables(cls, environ: Mapping[str, str]) -> dict[str, Any]:
        found = {
            name: value
            for group in (
                DatabaseSettings,
                RegistrySettings,
                FeedSettings,
                ApiSettings,
                AuditSettings,
                ConsoleSettings,
            )
            for name, value in group.variables(environ).items()
        }
        return {**found, "relay": RelaySettings.from_environ(environ)}


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the ``GILMOK_*`` variables.

    Raises
    ------
    ConfigurationError
        naming the variable that is wrong.
    """
    return Settings.from_environ(os.environ if environ is None else environ)
