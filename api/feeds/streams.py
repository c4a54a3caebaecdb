"""A feed's relay stream: the key it is filed under on the relay, and destroying it quietly.

A stream is filed under its feed request (``feed_request:<id>``), which is how the reconciler
tells a stream a transaction is provisioning right now (its request row is locked) from an
orphan. A stream that cannot be destroyed now (the relay is unreachable) is left to the
reconciler, which destroys every stream no live session holds once the relay answers.
"""

from __future__ import annotations

import logging

from api.relay.base import Relay
from api.relay.errors import RelayRefused, RelayUnavailable

log = logging.getLogger("gilmok.feeds")

_KEY_PREFIX = "feed_request:"


def stream_key(feed_request_id: int) -> str:
    """The key under which a request's relay stream is registered."""
    return f"{_KEY_PREFIX}{feed_request_id}"


def request_of(key: str) -> int | None:
    """The feed request a stream key names; None for a key that is not :func:`stream_key`'s."""
    if key.startswith(_KEY_PREFIX) and key[len(_KEY_PREFIX) :].isdigit():
        return int(key[len(_KEY_PREFIX) :])
    return None


def destroy_quietly(relay: Relay, relay_stream_id: str) -> bool:
    """Destroy a stream; False (logged) when the relay cannot be reached: the reconciler will."""
    try:
        relay.revoke(relay_stream_id)
    except (RelayUnavailable, RelayRefused) as exc:
        log.warning("relay stream %s not destroyed yet: %s", relay_stream_id, exc.message)
        return False
    return True
