"""Typed settings, read from ``GILMOK_*`` environment variables once, at start-up.

Nothing reads the environment at import time: call :func:`load_settings` (the CLI and the app
factory do) and pass the result down.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

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


def _default_relay_runtime_dir() -> Path:
    """Per-user state folder for the relay's generated configuration, logs and secret."""
    return Path.home() / ".local" / "state" / "gilmok" / "relay"


@dataclass(frozen=True)
class RelaySettings:
    """The stream relay (Janus by default) and the camera simulator.

    Attributes
    ----------
    backend
        Adapter name for :func:`api.relay.make_relay` (``GILMOK_RELAY_BACKEND``, default janus).
    host
        Address of the relay's HTTP API; loopback only by design (``GILMOK_RELAY_HOST``).
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

    backend: str = "janus"
    host: str = "127.0.0.1"
    port: int = 8088
    admin_port: int = 7088
    public_url: str | None = None
    secret: str | None = field(default=None, repr=False)
    runtime_dir: Path = field(default_factory=_default_relay_runtime_dir)
    binary: str = "janus"
    media_ports: tuple[int, int] = (20000, 20999)
    source_ports: tuple[int, int] = (21000, 21999)
    source_timeout_s: float = 3.0
    camsim_port: int = 8554
    configured: bool = False


def _default_data_dir() -> Path | None:
    """``../shared/data`` next to the project checkout, where it exists."""
    candidate = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
    return candidate if candidate.is_dir() else None


@dataclass(frozen=True)
class Settings:
    """gilmok's configuration.

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
    audit_anchor_key
        HMAC-SHA256 key that signs the audit chain's head for ``gilmok audit head`` and
        ``audit verify --head`` (``GILMOK_AUDIT_ANCHOR_KEY``, at least 32 characters); kept
        away from the database's owner. Never shown in repr.
    data_dir
        Folder holding the real input data (``GILMOK_DATA_DIR``), or None when absent.
    gpkg
        A registry GeoPackage (from ``gilmok export gpkg``) the planners' workbench opens
        instead of PostGIS (``GILMOK_GPKG``), or None.
    working_crs
        Projected CRS in metres for every distance and area (default EPSG:5179, UTM-K).
    country_bounds
        (min_lon, min_lat, max_lon, max_lat) of the country: camera positions outside are rejected.
    max_coverage_range_m
        Cap on any camera's coverage radius, metres.
    relay
        The stream relay and the camera simulator (``GILMOK_RELAY_*``, ``GILMOK_CAMSIM_*``).
    feed_session_max_s
        Longest a feed session's credential lives, seconds, whatever the activation's end
        (``GILMOK_FEED_SESSION_MAX_S``, default 2 hours).
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
    """

    database_url: URL = field(default_factory=lambda: make_url(DEFAULT_DATABASE_URL))
    owner_database_url: URL = field(
        default_factory=lambda: make_url(DEFAULT_DATABASE_URL).set(
            username=DEFAULT_OWNER_USER, password=DEFAULT_OWNER_PASSWORD
        )
    )
    audit_anchor_key: str | None = field(default=None, repr=False)
    data_dir: Path | None = field(default_factory=_default_data_dir)
    gpkg: Path | None = None
    working_crs: str = DEFAULT_WORKING_CRS
    country_bounds: tuple[float, float, float, float] = DEFAULT_COUNTRY_BOUNDS
    max_coverage_range_m: float = 200.0
    relay: RelaySettings = field(default_factory=RelaySettings)
    feed_session_max_s: float = 7200.0
    request_statement_timeout_ms: int = 2000
    rate_limit: str | None = "1200/minute"
    rate_limit_refused_feeds: str | None = "30/minute"

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields replaced (tests, CLI options)."""
        return replace(self, **changes)

    @property
    def safe_database_url(self) -> str:
        """The database URL with its password hidden, for messages and logs."""
        return self.database_url.render_as_string(hide_password=True)

    @property
    def safe_owner_database_url(self) -> str:
        """The owner's database URL with its password hidden."""
        return self.owner_database_url.render_as_string(hide_password=True)


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


def _load_relay(env: Mapping[str, str]) -> RelaySettings:
    changes: dict[str, Any] = {}
    if raw := env.get("GILMOK_RELAY_BACKEND"):
        changes["backend"] = raw.strip().lower()
        changes["configured"] = True
    if raw := env.get("GILMOK_RELAY_HOST"):
        changes["host"] = raw
    for key, name in (
        ("port", "GILMOK_RELAY_PORT"),
        ("admin_port", "GILMOK_RELAY_ADMIN_PORT"),
        ("camsim_port", "GILMOK_CAMSIM_PORT"),
    ):
        if raw := env.get(name):
            changes[key] = _parse_port(name, raw)
    if raw := env.get("GILMOK_RELAY_PUBLIC_URL"):
        changes["public_url"] = raw.rstrip("/")
    if raw := env.get("GILMOK_RELAY_SECRET"):
        if len(raw) < 16:
            raise ConfigurationError("GILMOK_RELAY_SECRET must be at least 16 characters long")
        changes["secret"] = raw
    if raw := env.get("GILMOK_RELAY_RUNTIME_DIR"):
        changes["runtime_dir"] = Path(raw).expanduser()
    if raw := env.get("GILMOK_RELAY_BINARY"):
        changes["binary"] = raw
    for key, name in (
        ("media_ports", "GILMOK_RELAY_MEDIA_PORTS"),
        ("source_ports", "GILMOK_RELAY_SOURCE_PORTS"),
    ):
        if raw := env.get(name):
            changes[key] = _parse_port_range(name, raw)
    if raw := env.get("GILMOK_RELAY_SOURCE_TIMEOUT_S"):
        changes["source_timeout_s"] = _parse_float(
            "GILMOK_RELAY_SOURCE_TIMEOUT_S", raw, low=0.1, high=60
        )
    return replace(RelaySettings(), **changes)


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the ``GILMOK_*`` variables.

    Raises
    ------
    ConfigurationError
        naming the variable that is wrong.
    """
    env = os.environ if environ is None else environ
    settings = Settings()
    changes: dict[str, Any] = {}
    if raw := env.get("GILMOK_DATABASE_URL"):
        changes["database_url"] = _parse_url(raw)
    if raw := env.get("GILMOK_OWNER_DATABASE_URL"):
        changes["owner_database_url"] = _parse_url(raw, name="GILMOK_OWNER_DATABASE_URL")
    else:
        service = changes.get("database_url", settings.database_url)
        changes["owner_database_url"] = service.set(
            username=DEFAULT_OWNER_USER, password=DEFAULT_OWNER_PASSWORD
        )
    if raw := env.get("GILMOK_AUDIT_ANCHOR_KEY"):
        if len(raw) < MIN_ANCHOR_KEY_LENGTH:
            raise ConfigurationError(
                f"GILMOK_AUDIT_ANCHOR_KEY must be at least {MIN_ANCHOR_KEY_LENGTH} characters long"
            )
        changes["audit_anchor_key"] = raw
    if raw := env.get("GILMOK_DATA_DIR"):
        path = Path(raw).expanduser()
        if not path.is_dir():
            raise ConfigurationError(f"GILMOK_DATA_DIR={raw!r} is not a directory")
        changes["data_dir"] = path
    if raw := env.get("GILMOK_GPKG"):
        path = Path(raw).expanduser()
        if not path.is_file():
            raise ConfigurationError(f"GILMOK_GPKG={raw!r} is not a file")
        changes["gpkg"] = path
    if raw := env.get("GILMOK_WORKING_CRS"):
        changes["working_crs"] = _parse_crs(raw)
    if raw := env.get("GILMOK_COUNTRY_BOUNDS"):
        changes["country_bounds"] = _parse_bounds(raw)
    if raw := env.get("GILMOK_MAX_COVERAGE_RANGE_M"):
        changes["max_coverage_range_m"] = _parse_float(
            "GILMOK_MAX_COVERAGE_RANGE_M", raw, low=1, high=5000
        )
    if raw := env.get("GILMOK_FEED_SESSION_MAX_S"):
        changes["feed_session_max_s"] = _parse_float(
            "GILMOK_FEED_SESSION_MAX_S", raw, low=1, high=7 * 24 * 3600
        )
    if raw := env.get("GILMOK_REQUEST_STATEMENT_TIMEOUT_MS"):
        changes["request_statement_timeout_ms"] = int(
            _parse_float("GILMOK_REQUEST_STATEMENT_TIMEOUT_MS", raw, low=1, high=600_000)
        )
    for key, name in (
        ("rate_limit", "GILMOK_RATE_LIMIT"),
        ("rate_limit_refused_feeds", "GILMOK_RATE_LIMIT_REFUSED_FEEDS"),
    ):
        if raw := env.get(name):
            changes[key] = _parse_rate(name, raw)
    changes["relay"] = _load_relay(env)
    return settings.with_overrides(**changes)
