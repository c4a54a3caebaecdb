"""The stream-relay adapter interface: what gilmok asks of Janus, MediaMTX or go2rtc.

A relay takes a camera's source URL (a secret that never leaves the server) and exposes the
video to one viewer organization under a credential of its own that expires with the grant.
Adapters implement :class:`Relay`; the application keeps the durable record of what it
provisioned through a :class:`StreamLedger` (relays such as Janus cannot list private
streams, and every relay forgets them when it restarts).

How each relay fits the interface:

- Janus streaming plugin: one private RTSP mountpoint per stream, a per-stream management secret,
  the viewer credential is the mountpoint pin plus a stored core token of that stream's own,
  both removed when the stream is revoked (at its expiry, revocation or replacement).
- MediaMTX: ``POST /v3/config/paths/add/{name}`` with ``source``; the viewer credential is a JWT
  (or user/pass) whose permissions name that one path; viewer endpoint is WHEP/HLS on the path.
- go2rtc: ``PUT /api/streams?name=&src=``; credentials are global in go2rtc, so the credential
  is issued by the proxy in front of it; the viewer endpoint is ``/api/webrtc?src=name``.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal, Protocol

from api.relay.errors import CameraSourceUnavailable
from geo.errors import InvalidInput

RecordState = Literal["provisioning", "live"]


@dataclass(frozen=True)
class Grant:
    """Who may watch a relayed stream, and until when.

    Attributes
    ----------
    viewer_org
        Identifier of the viewing organization (e.g. a situation room); the credential issued
        for this grant is its own.
    expires_at
        Timezone-aware instant after which the credential must no longer open the stream. The
        application caps it at the activation's end and the session limit.
    viewer_label
        Optional human label shown in the relay's own tooling (never a secret).
    """

    viewer_org: str
    expires_at: datetime
    viewer_label: str | None = None

    def __post_init__(self) -> None:
        if self.expires_at.tzinfo is None:
            raise InvalidInput("a grant's expires_at must be timezone-aware")
        if not self.viewer_org:
            raise InvalidInput("a grant needs a viewer organization")


@dataclass(frozen=True)
class ViewerEndpoint:
    """How a viewer reaches one relayed stream.

    Attributes
    ----------
    protocol
        ``janus-streaming`` (Janus HTTP API + streaming plugin), ``janus-streaming-ws`` (its
        WebSocket API, for browsers), ``whep``, ``hls``, ``rtsp`` ...
    url
        Base URL the viewer talks to (Janus: the HTTP API base, e.g. ``http://host:8088/janus``).
    stream
        The relay's name for the stream at that URL (Janus: the mountpoint id).
    """

    protocol: str
    url: str
    stream: str


@dataclass(frozen=True)
class RelayedStream:
    """A stream provisioned on the relay, as returned once to the caller of ``provision``.

    Attributes
    ----------
    relay_stream_id
        The relay's identifier for the stream, used for ``revoke`` and ``status``.
    key
        The caller's key given to ``provision`` (e.g. the feed session id).
    viewer
        Endpoints a viewer may use (at least one).
    credential
        Secrets the viewer presents (Janus: ``pin`` and ``token``). Returned once: it is not
        stored in the ledger and is hidden from ``repr``.
    expires_at
        When the credential stops working (timezone-aware).
    """

    relay_stream_id: str
    key: str
    viewer: tuple[ViewerEndpoint, ...]
    credential: Mapping[str, str] = field(repr=False)
    expires_at: datetime


@dataclass(frozen=True)
class StreamStatus:
    """What the relay says about one stream right now.

    Attributes
    ----------
    relay_stream_id
        The stream asked about.
    present
        The relay knows the stream (False after a relay restart or a revoke).
    flowing
        Media arrived from the source within the adapter's freshness limit.
    media_age_ms
        Milliseconds since the last media packet from the source, None if none ever arrived.
    viewers
        Number of viewers attached, None when the relay does not say.
    codec
        Video codec name as the relay reports it (e.g. ``h264``), None if unknown.
    """

    relay_stream_id: str
    present: bool
    flowing: bool = False
    media_age_ms: int | None = None
    viewers: int | None = None
    codec: str | None = None


@dataclass(frozen=True)
class RelayHealth:
    """Whether the relay answers, for ``gilmok relay status`` and the app's health check.

    Attributes
    ----------
    up
        The relay answered an authenticated request.
    backend
        Adapter name (``janus``).
    detail
        One line for a person: version when up, the reason when down (never a secret).
    version
        The relay's version string when known.
    """

    up: bool
    backend: str
    detail: str
    version: str | None = None


@dataclass(frozen=True)
class ProvisionRecord:
    """The durable fact "gilmok provisioned this stream", kept by a :class:`StreamLedger`.

    Written *before* the relay is asked to create the stream (state ``provisioning``), so a
    crash between the two leaves a record to clean up rather than an orphan nobody can find.
    Holds no secret: adapters derive what they need to manage the stream from their own key.

    Attributes
    ----------
    relay_stream_id, key
        As in :class:`RelayedStream`.
    backend
        Adapter name that created it.
    viewer_org
        The grant's viewer organization.
    expires_at
        The grant's expiry (timezone-aware).
    created_at
        When provisioning started (timezone-aware, UTC).
    state
        ``provisioning`` until the relay confirmed the stream, then ``live``.
    """

    relay_stream_id: str
    key: str
    backend: str
    viewer_org: str
    expires_at: datetime
    created_at: datetime
    state: RecordState = "provisioning"


class StreamLedger(Protocol):
    """Where an adapter records what it provisioned; the app backs it with its database."""

    def put(self, record: ProvisionRecord) -> None:
        """Insert or replace the record with this ``relay_stream_id``."""
        ...

    def remove(self, relay_stream_id: str) -> None:
        """Forget a record; no error when it is absent."""
        ...

    def get(self, relay_stream_id: str) -> ProvisionRecord | None:
        """The record, or None."""
        ...

    def records(self, *, backend: str | None = None) -> list[ProvisionRecord]:
        """Every record (of one backend, when given)."""
        ...


class InMemoryLedger:
    """A thread-safe :class:`StreamLedger` that lives as long as the process (tests, CLI)."""

    def __init__(self, records: Iterable[ProvisionRecord] = ()) -> None:
        self._lock = threading.Lock()
        self._records = {r.relay_stream_id: r for r in records}

    def put(self, record: ProvisionRecord) -> None:
        with self._lock:
            self._records[record.relay_stream_id] = record

    def remove(self, relay_stream_id: str) -> None:
        with self._lock:
            self._records.pop(relay_stream_id, None)

    def get(self, relay_stream_id: str) -> ProvisionRecord | None:
        with self._lock:
            return self._records.get(relay_stream_id)

    def records(self, *, backend: str | None = None) -> list[ProvisionRecord]:
        with self._lock:
            return [r for r in self._records.values() if backend in (None, r.backend)]


class Relay(ABC):
    """A stream relay adapter.

    Subclasses implement the five relay operations; the ledger bookkeeping around them is
    theirs too, because only the adapter knows when the relay has really created a stream.
    Every method may raise :class:`api.relay.errors.RelayUnavailable` (relay down) and
    :class:`api.relay.errors.RelayRefused` (relay rejects gilmok's own credentials); messages never
    contain secrets or source URLs.
    """

    #: Adapter name, as registered in :data:`api.relay.RELAYS`.
    name: str = "relay"

    def __init__(self, *, ledger: StreamLedger | None = None) -> None:
        self.ledger: StreamLedger = ledger if ledger is not None else InMemoryLedger()

    @abstractmethod
    def provision(self, key: str, source_url: str, grant: Grant) -> RelayedStream:
        """Relay ``source_url`` for ``grant``'s viewer until ``grant.expires_at``.

        Returns once the relay accepted the stream (media may follow a few milliseconds later:
        see :func:`wait_flowing`).

        Raises
        ------
        api.relay.errors.CameraSourceUnavailable
            The relay is up but cannot pull the source; nothing is left on the relay or in the
            ledger.
        api.relay.errors.RelayUnavailable
            The relay cannot be reached; the ledger keeps a ``provisioning`` record only when
            the relay may have created the stream (the reconciler then destroys it).
        """

    @abstractmethod
    def revoke(self, relay_stream_id: str) -> None:
        """Destroy the stream and disconnect its viewers; a stream already gone is not an error."""

    @abstractmethod
    def status(self, relay_stream_id: str) -> StreamStatus:
        """Ask the relay about one stream (``present=False`` when it does not know it)."""

    @abstractmethod
    def health(self) -> RelayHealth:
        """Whether the relay answers; never raises for a relay that is down."""

    def list_provisioned(self) -> list[ProvisionRecord]:
        """What this adapter provisioned and has not revoked, from its ledger."""
        return self.ledger.records(backend=self.name)

    def survey(self) -> list[tuple[ProvisionRecord, StreamStatus]]:
        """Each registered stream with the relay's view of it, for the reconciler.

        A record whose status has ``present=False`` was lost by the relay (restart, crash);
        a ``present`` stream that is not ``flowing`` has a source that stopped sending.
        """
        return [(r, self.status(r.relay_stream_id)) for r in self.list_provisioned()]

    def close(self) -> None:  # noqa: B027 (optional hook: most adapters hold nothing)
        """Release connections or sessions held towards the relay."""


def utc_now() -> datetime:
    """The current instant, timezone-aware UTC."""
    return datetime.now(UTC)


def new_record(relay: Relay, relay_stream_id: str, key: str, grant: Grant) -> ProvisionRecord:
    """The ``provisioning`` record an adapter writes before asking the relay to create."""
    return ProvisionRecord(
        relay_stream_id=relay_stream_id,
        key=key,
        backend=relay.name,
        viewer_org=grant.viewer_org,
        expires_at=grant.expires_at,
        created_at=utc_now(),
    )


def mark_live(record: ProvisionRecord) -> ProvisionRecord:
    """The same record once the relay confirmed the stream."""
    return replace(record, state="live")


def wait_flowing(
    relay: Relay,
    relay_stream_ids: Iterable[str],
    *,
    timeout_s: float = 2.0,
    poll_s: float = 0.005,
) -> dict[str, float]:
    """Wait until media flows through every stream.

    Parameters
    ----------
    relay
        The adapter that provisioned the streams.
    relay_stream_ids
        Streams to watch.
    timeout_s
        Seconds to wait in total.
    poll_s
        Seconds between two rounds of status requests.

    Returns
    -------
    dict
        Stream id → seconds (monotonic clock) from the call until it was first seen flowing.

    Raises
    ------
    api.relay.errors.CameraSourceUnavailable
        when some stream is not flowing after ``timeout_s`` (the relay accepted it, so the
        source is the one not sending); the message says how many.
    """
    start = time.monotonic()
    pending = set(relay_stream_ids)
    seen: dict[str, float] = {}
    while pending:
        for sid in sorted(pending):
            if relay.status(sid).flowing:
                seen[sid] = time.monotonic() - start
        pending -= seen.keys()
        if not pending:
            break
        if time.monotonic() - start > timeout_s:
            raise CameraSourceUnavailable(
                f"{len(pending)} of {len(seen) + len(pending)} relayed streams carried no media "
                f"within {timeout_s:g} s"
            )
        time.sleep(poll_s)
    return seen
