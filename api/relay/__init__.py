"""Stream relays gilmok can drive, by name: ``make_relay(name, settings)``.

Adapters are imported only when asked for (a name → dotted path registry, as pygeoapi's
plugins), so a deployment without one relay's dependencies still imports this package.
"""

from __future__ import annotations

import importlib

from api.relay.base import (
    Grant,
    InMemoryLedger,
    ProvisionRecord,
    Relay,
    RelayedStream,
    RelayHealth,
    StreamLedger,
    StreamStatus,
    ViewerEndpoint,
    wait_flowing,
)
from api.relay.settings import RelaySettings
from geo.errors import ConfigurationError

#: Adapter name → ``module:Class``. MediaMTX and go2rtc adapters register here when written.
RELAYS: dict[str, str] = {
    "janus": "api.relay.janus:JanusRelay",
}

__all__ = [
    "RELAYS",
    "Grant",
    "InMemoryLedger",
    "ProvisionRecord",
    "Relay",
    "RelayHealth",
    "RelayedStream",
    "StreamLedger",
    "StreamStatus",
    "ViewerEndpoint",
    "make_relay",
    "wait_flowing",
]


def make_relay(name: str, settings: RelaySettings, *, ledger: StreamLedger | None = None) -> Relay:
    """The relay adapter called ``name`` (``GILMOK_RELAY_BACKEND``), configured by ``settings``.

    Raises
    ------
    ConfigurationError
        for a name that is not in :data:`RELAYS`.
    """
    try:
        dotted = RELAYS[name]
    except KeyError:
        known = ", ".join(sorted(RELAYS))
        raise ConfigurationError(
            f"unknown stream relay {name!r} (GILMOK_RELAY_BACKEND); known relays: {known}"
        ) from None
    module_name, class_name = dotted.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    relay: Relay = cls(settings, ledger=ledger)
    return relay
