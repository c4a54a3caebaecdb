"""A feed's relay stream and what its viewer is handed: its key, the offer, destroying it.

The offer (where to watch, with which credential) is the requester's once: the database keeps
the credential's SHA-256 only (:func:`hash_credential`), and the audit trail a 12-character
fingerprint of that hash, to match a presented credential against (:func:`audit_credential`).

A stream is filed under its feed request (``feed_request:<id>``), which is how the reconciler
tells a stream a transaction is provisioning right now (its request row is locked) from an
orphan. A stream that cannot be destroyed now (the relay is unreachable) is left to the
reconciler, which destroys every stream no live session holds once the relay answers.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Connection

from api.relay.base import Relay, RelayedStream
from api.relay.errors import RelayRefused, RelayUnavailable
from geo.store import audit, feed_sessions
from geo.store.audit import canonical_json

log = logging.getLogger("gilmok.feeds")

_KEY_PREFIX = "feed_request:"


def stream_key(feed_request_id: int) -> str:
    """The key under which a request's relay stream is filed in the ledger."""
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


def hash_credential(credential: Mapping[str, str]) -> bytes:
    """SHA-256 of the credential's canonical JSON: what the database keeps of it."""
    return hashlib.sha256(canonical_json(dict(credential)).encode()).digest()


def offer(
    feed_request_id: int, session_id: int, camera_id: int, stream: RelayedStream
) -> dict[str, Any]:
    """What the requester receives, once: where to watch and with which credential."""
    return {
        "feed_request_id": feed_request_id,
        "feed_session_id": session_id,
        "camera_id": camera_id,
        "expires_at": stream.expires_at.isoformat(),
        "viewer": [
            {"protocol": v.protocol, "url": v.url, "stream": v.stream} for v in stream.viewer
        ],
        "credential": dict(stream.credential),
    }


def audit_credential(
    conn: Connection,
    target: feed_sessions.RequestForProvisioning | feed_sessions.LiveSession,
    session_id: int,
    stream: RelayedStream,
    credential_hash: bytes,
    *,
    actor: str,
) -> None:
    """Audit a credential handed out (``feed.credential_issued``): its fingerprint, never it."""
    audit.append(
        conn,
        actor=actor,
        organization_id=target.requester_id,
        action="feed.credential_issued",
        subject_type="feed_session",
        subject_id=session_id,
        legal_basis=target.basis,
        details={
            "feed_request_id": (
                target.id
                if isinstance(target, feed_sessions.RequestForProvisioning)
                else target.feed_request_id
            ),
            "viewer_org": target.requester_id,
            "relay_stream_id": stream.relay_stream_id,
            "expires_at": stream.expires_at,
            # A fingerprint to match a presented credential against, not the credential.
            "credential_sha256_prefix": credential_hash.hex()[:12],
        },
    )
