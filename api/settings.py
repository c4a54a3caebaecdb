"""gilmok's configuration as the service reads it: every group at once.

The groups live with their concern (see :mod:`geo.settings`); the service's own are here:
:class:`FeedSettings`, :class:`ApiSettings`, :class:`AuditSettings`, :class:`ConsoleSettings`.
:class:`Settings` is all of them at once, the database's and the registry's included; its
attributes keep the variables' names (``GILMOK_WORKING_CRS`` is ``settings.working_crs``), the
relay's excepted (``settings.relay``, :class:`api.relay.settings.RelaySettings`).

Call :func:`load_settings` (the CLI and the app factory do) and pass the result down. A wrong
value raises :class:`~geo.errors.ConfigurationError`, one line naming the variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from api.relay.settings import RelaySettings
from geo.errors import ConfigurationError
from geo.settings import RegistrySettings, SettingsGroup, parse_float
from geo.store.settings import DatabaseSettings

#: Shortest audit anchor key accepted (``GILMOK_AUDIT_ANCHOR_KEY``), characters.
MIN_ANCHOR_KEY_LENGTH = 32


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


class FeedSettings(SettingsGroup):
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
            return parse_float("GILMOK_FEED_SESSION_MAX_S", raw, low=1, high=7 * 24 * 3600)
        return raw


class ApiSettings(SettingsGroup):
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
            return int(parse_float(name, raw, low=1, high=600_000))
        return raw

    @field_validator(
        "rate_limit", "rate_limit_refused_feeds", "rate_limit_refused_logins", mode="before"
    )
    @classmethod
    def _rate(cls, raw: Any, info: ValidationInfo) -> Any:
        name = f"GILMOK_{str(info.field_name).upper()}"
        return _parse_rate(name, raw) if isinstance(raw, str) else raw


class AuditSettings(SettingsGroup):
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


class ConsoleSettings(SettingsGroup):
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
        return parse_float(name, raw, low=10, high=7 * 24 * 3600) if isinstance(raw, str) else raw

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
            return int(parse_float("GILMOK_EVENTS_MAX_STREAMS", raw, low=1, high=1000))
        return raw

    @field_validator("events_heartbeat_s", mode="before")
    @classmethod
    def _heartbeat(cls, raw: Any) -> Any:
        if isinstance(raw, str):
            return parse_float("GILMOK_EVENTS_HEARTBEAT_S", raw, low=0.1, high=300)
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
