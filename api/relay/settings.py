"""The relay's settings: the stream relay (Janus by default) and the camera simulator."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import SettingsConfigDict

from geo.errors import ConfigurationError
from geo.settings import SettingsGroup, parse_float, parse_port, parse_port_range


def _default_relay_runtime_dir() -> Path:
    """Per-user state folder for the relay's generated configuration, logs and secret."""
    return Path.home() / ".local" / "state" / "gilmok" / "relay"


class RelaySettings(SettingsGroup):
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

    @field_validator("port", "admin_port", "ws_port", mode="before")
    @classmethod
    def _port(cls, raw: Any, info: ValidationInfo) -> Any:
        name = f"GILMOK_RELAY_{str(info.field_name).upper()}"
        return parse_port(name, raw) if isinstance(raw, str) else raw

    @field_validator("camsim_port", mode="before")
    @classmethod
    def _camsim_port(cls, raw: Any) -> Any:
        return parse_port("GILMOK_CAMSIM_PORT", raw) if isinstance(raw, str) else raw

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
        return parse_port_range(name, raw) if isinstance(raw, str) else raw

    @field_validator("source_timeout_s", mode="before")
    @classmethod
    def _source_timeout(cls, raw: Any) -> Any:
        if isinstance(raw, str):
            return parse_float("GILMOK_RELAY_SOURCE_TIMEOUT_S", raw, low=0.1, high=60)
        return raw
