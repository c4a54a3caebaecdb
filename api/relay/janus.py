"""Janus streaming-plugin adapter: one private RTSP mountpoint per relayed stream.

gilmok talks to Janus's HTTP API on loopback with its API secret, through one API session and
plugin handle shared by all threads (re-created when Janus forgot them: session timeout or a
restart). Each stream gets:

- a random, unguessable string id (Janus does not list private mountpoints, and viewers see the
  id, so it must reveal nothing about the incident);
- a management secret derived from the master relay secret and the id, so the ledger stores
  no secret and any gilmok process can destroy any stream;
- a viewer credential returned once: the mountpoint ``pin`` and a Janus core ``token`` of its
  own, both random. The token is a *stored* token, added through Janus's admin API (allowed
  the streaming plugin only) before the mountpoint is created and removed when the stream is
  revoked — which is how a stream ends at its expiry, its revocation, or its replacement by a
  new credential. It starts with the stream id (``<stream id>.<random>``), so that any gilmok
  process can find and remove a stream's token through ``list_tokens`` without gilmok
  keeping it.

What Janus can bind, and what it cannot: a core token admits API requests (creating a
session, attaching to the streaming plugin, messages, keepalives, long polls) and names the
plugins it may attach to; it cannot name a mountpoint — the streaming plugin has no per-token
access list. The mountpoint is bound by its ``pin``, checked on ``watch``. So a viewer needs
a live token to talk to Janus at all and the stream's pin to watch it: a token with another
stream's pin is refused (457), but Janus would accept another live feed's token together with
this feed's pin — the pin is this feed's secret, shown once to its requester only, and it is
what binds the viewer to the stream. Once revoked, neither opens anything: the mountpoint is
destroyed (its viewers hung up) and the token removed (new sessions, keepalives and requests
on sessions made with it answer 403, so such a session times out).

Stored tokens are kept by :mod:`api.relay.janus_tokens`; like the (non-permanent) mountpoints,
they live in Janus's memory only.

Janus reports plugin errors as HTTP 200 with ``plugindata.data.error_code``: 455 no such
mountpoint, 456 cannot create (source unreachable, or duplicate id), 457 unauthorized.
"""

from __future__ import annotations

import math
import secrets
import threading
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from api.relay._secrets import derive, relay_secret
from api.relay.base import (
    Grant,
    Relay,
    RelayedStream,
    RelayHealth,
    StreamLedger,
    StreamStatus,
    ViewerEndpoint,
    mark_live,
    new_record,
    utc_now,
)
from api.relay.errors import CameraSourceUnavailable, RelayRefused, RelayUnavailable
from api.relay.janus_http import (
    CANNOT_CREATE,
    NO_SUCH_HANDLE,
    NO_SUCH_MOUNTPOINT,
    NO_SUCH_SESSION,
    PLUGIN,
    UNAUTHORIZED,
    AdminError,
    JanusHttp,
    PluginError,
    raise_core_error,
)
from api.relay.janus_process import janus_secrets
from api.relay.janus_tokens import JanusTokens, new_viewer_token
from api.relay.settings import RelaySettings
from geo.errors import Conflict

#: A stream whose last packet is older than this is not "flowing" (live video at 15 fps sends
#: a packet every ~67 ms; a second of silence means the source stalled).
FLOWING_MAX_AGE_MS = 1000


class _MountpointMissing(Exception):
    """Janus error 455, handled by the callers that expect it."""


def _split_credentials(source_url: str) -> tuple[str, dict[str, str]]:
    """The source URL without user:password, and those as Janus's ``rtsp_user``/``rtsp_pwd``.

    Janus writes mountpoint URLs to its log; credentials passed separately stay out of it.
    """
    parts = urlsplit(source_url)
    if parts.username is None:
        return source_url, {}
    netloc = parts.hostname or ""
    if ":" in netloc:  # an IPv6 literal needs its brackets back
        netloc = f"[{netloc}]"
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    extra = {"rtsp_user": unquote(parts.username)}
    if parts.password is not None:
        extra["rtsp_pwd"] = unquote(parts.password)
    return urlunsplit(parts._replace(netloc=netloc)), extra


class JanusRelay(Relay):
    """The :class:`~api.relay.base.Relay` adapter for Janus 1.1's streaming plugin.

    Parameters
    ----------
    settings
        Relay settings: address, master secret (or the runtime folder holding it), source
        timeout.
    ledger
        Where provisioned streams are recorded; in memory by default.
    """

    name = "janus"

    def __init__(self, settings: RelaySettings, *, ledger: StreamLedger | None = None) -> None:
        super().__init__(ledger=ledger)
        self.settings = settings
        self._master = relay_secret(settings)
        self._secrets = janus_secrets(self._master)
        self._http = JanusHttp(
            settings.host,
            settings.port,
            api_secret=self._secrets["api_secret"],
            # Janus fetches the RTSP description inside `create`: allow for the source timeout.
            timeout_s=settings.source_timeout_s + 2.0,
        )
        self._admin = JanusHttp(
            settings.host,
            settings.admin_port,
            api_secret=self._secrets["admin_secret"],
            timeout_s=5.0,
            base="/admin",
            secret_field="admin_secret",
        )
        self.tokens = JanusTokens(self._admin)
        self._lock = threading.Lock()
        self._session: tuple[int, int] | None = None
        base = settings.public_url or f"http://{settings.host}:{settings.port}"
        self.viewer_url = f"{base}/janus"
        #: The WebSocket API, for browsers (beside the HTTP API, when no public URL is set).
        self.viewer_ws_url = (
            None if settings.public_url else f"ws://{settings.host}:{settings.ws_port}"
        )

    # ---- Janus API session -----------------------------------------------------------------

    def _core(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = self._http.post(path, body)
        if reply.get("janus") == "error":
            raise_core_error(reply)
        return reply

    def _handle(self) -> tuple[int, int]:
        with self._lock:
            if self._session is None:
                session = int(self._core("", {"janus": "create"})["data"]["id"])
                handle = self._core(f"/{session}", {"janus": "attach", "plugin": PLUGIN})
                self._session = (session, int(handle["data"]["id"]))
            return self._session

    def _forget(self, stale: tuple[int, int]) -> None:
        with self._lock:
            if self._session == stale:
                self._session = None

    def _message(self, body: dict[str, Any]) -> dict[str, Any]:
        """Send a synchronous streaming-plugin request; its ``plugindata.data``.

        Raises
        ------
        _MountpointMissing
            error 455.
        RelayRefused
            error 457 (gilmok's admin key or a stream's derived secret refused).
        PluginError
            any other plugin error.
        """
        for attempt in (0, 1):
            session = self._handle()
            reply = self._http.post(
                f"/{session[0]}/{session[1]}", {"janus": "message", "body": body}
            )
            if reply.get("janus") == "error":
                code = reply.get("error", {}).get("code")
                # The session expired or Janus restarted: a new session, then once more.
                if code in {NO_SUCH_SESSION, NO_SUCH_HANDLE} and attempt == 0:
                    self._forget(session)
                    continue
                raise_core_error(reply)
            data: dict[str, Any] = reply.get("plugindata", {}).get("data", {})
            code = data.get("error_code")
            if code == NO_SUCH_MOUNTPOINT:
                raise _MountpointMissing(body.get("id"))
            if code == UNAUTHORIZED:
                # Janus's reason says which secret ("wrong admin_key"), never its value.
                raise RelayRefused(
                    f"the stream relay refused gilmok's credentials ({data.get('error')})"
                )
            if code is not None:
                raise PluginError(int(code), str(data.get("error", "")))
            return data
        raise AssertionError("unreachable")

    def _stream_secret(self, relay_stream_id: str) -> str:
        return derive(self._master, f"janus:stream:{relay_stream_id}")

    # ---- viewers' stored tokens (admin API) --------------------------------------------------

    def _add_token(self, relay_stream_id: str, token: str) -> None:
        """Store a new stream's token; on failure, forget the stream's record unless unsure."""
        try:
            self.tokens.add(token)
        except RelayRefused:
            self.ledger.remove(relay_stream_id)  # refused: nothing was stored
            raise
        except AdminError as exc:
            self.ledger.remove(relay_stream_id)
            raise RelayUnavailable(
                f"Janus could not store a viewer token (error {exc.code})"
            ) from None
        except RelayUnavailable as exc:
            # Cut off mid-way, Janus may hold it: the record stays for the reconciler.
            if exc.details.get("reached") is False:
                self.ledger.remove(relay_stream_id)
            raise

    def stored_tokens(self) -> list[str]:
        """Every stored token Janus holds (the admin API's ``list_tokens``)."""
        return self.tokens.stored()

    def _abandon(self, relay_stream_id: str, token: str) -> None:
        """Undo a provisioning that failed: its token, then its record (kept if unsure)."""
        try:
            self.tokens.remove(token)
        except (RelayUnavailable, RelayRefused):
            return  # the record stays: the reconciler revokes the stream, token included
        self.ledger.remove(relay_stream_id)

    def keepalive(self) -> None:
        """Keep gilmok's API session alive (or replace it when Janus forgot it).

        Optional: every request re-creates a lost session by itself; calling this more often
        than the session timeout (60 s) only saves that one extra round trip.
        """
        for attempt in (0, 1):
            session = self._handle()
            reply = self._http.post(f"/{session[0]}", {"janus": "keepalive"})
            if reply.get("janus") != "error":
                return
            if reply.get("error", {}).get("code") == NO_SUCH_SESSION and attempt == 0:
                self._forget(session)
                continue
            raise_core_error(reply)

    # ---- the adapter interface ---------------------------------------------------------------

    def provision(self, key: str, source_url: str, grant: Grant) -> RelayedStream:
        relay_stream_id = f"g{secrets.token_hex(12)}"
        url, rtsp_auth = _split_credentials(source_url)
        timeout_s = max(1, math.ceil(self.settings.source_timeout_s))
        pin = secrets.token_urlsafe(12)
        token = new_viewer_token(relay_stream_id)
        body: dict[str, Any] = {
            "request": "create",
            "admin_key": self._secrets["admin_key"],
            "type": "rtsp",
            "id": relay_stream_id,
            "description": grant.viewer_label or grant.viewer_org,
            "url": url,
            **rtsp_auth,
            "audio": False,
            "video": True,
            # A new viewer gets the latest keyframe at once instead of waiting for the next one
            # (up to a GOP: 2 s at 15 fps and key-int 30): the wall's first frame comes sooner.
            "videobufferkf": True,
            "secret": self._stream_secret(relay_stream_id),
            "pin": pin,
            "is_private": True,
            "permanent": False,
            "rtsp_conn_timeout": timeout_s,
            "rtsp_timeout": timeout_s,
        }
        if (urlsplit(url).hostname or "").startswith("127."):
            # Receive a local source's RTP on loopback only, not on every interface.
            body["rtspiface"] = "127.0.0.1"
        record = new_record(self, relay_stream_id, key, grant)
        self.ledger.put(record)
        # The token first: a stream never exists without the one token that opens it, and a
        # token never without the ledger record through which it is revoked.
        self._add_token(relay_stream_id, token)
        try:
            self._message(body)
        except PluginError as exc:
            self._abandon(relay_stream_id, token)
            if exc.code == CANNOT_CREATE and "already exists" in exc.reason:
                raise Conflict(f"relay stream id {relay_stream_id} already exists") from None
            if exc.code == CANNOT_CREATE:
                raise CameraSourceUnavailable(
                    f"the relay cannot pull the camera source of {key!r} (no RTSP answer within "
                    f"{timeout_s} s, unknown path, or refused)",
                    details={"key": key},
                ) from None
            raise RelayUnavailable(
                f"Janus refused to create the stream (error {exc.code})"
            ) from None
        except RelayRefused:
            self._abandon(relay_stream_id, token)
            raise
        except RelayUnavailable as exc:
            # Janus may have created it before the connection broke: keep the record so that
            # the reconciler destroys it, unless Janus certainly does not have it.
            if exc.details.get("reached") is False or self._certainly_absent(relay_stream_id):
                self._abandon(relay_stream_id, token)
            raise
        self.ledger.put(mark_live(record))
        return RelayedStream(
            relay_stream_id=relay_stream_id,
            key=key,
            viewer=(
                ViewerEndpoint("janus-streaming", self.viewer_url, relay_stream_id),
                *(
                    [ViewerEndpoint("janus-streaming-ws", self.viewer_ws_url, relay_stream_id)]
                    if self.viewer_ws_url
                    else []
                ),
            ),
            credential={"pin": pin, "token": token},
            expires_at=grant.expires_at,
        )

    def _certainly_absent(self, relay_stream_id: str) -> bool:
        try:
            return not self.status(relay_stream_id).present
        except (RelayUnavailable, RelayRefused):
            return False

    def revoke(self, relay_stream_id: str) -> None:
        try:
            self._message(
                {
                    "request": "destroy",
                    "id": relay_stream_id,
                    "secret": self._stream_secret(relay_stream_id),
                }
            )
        except _MountpointMissing:
            pass  # already gone (revoked before, or lost in a relay restart): done
        except PluginError as exc:
            raise RelayUnavailable(f"Janus could not destroy a stream (error {exc.code})") from None
        # The record goes only once the token is gone too: else the reconciler comes back.
        self.tokens.remove_stream_tokens(relay_stream_id)
        self.ledger.remove(relay_stream_id)

    def status(self, relay_stream_id: str) -> StreamStatus:
        try:
            data = self._message(
                {
                    "request": "info",
                    "id": relay_stream_id,
                    "secret": self._stream_secret(relay_stream_id),
                }
            )
        except _MountpointMissing:
            return StreamStatus(relay_stream_id, present=False)
        except PluginError as exc:
            raise RelayUnavailable(
                f"Janus could not describe a stream (error {exc.code})"
            ) from None
        # With the secret, `info` also echoes the source URL, secret and pin: read only these.
        info = data.get("info", {})
        video = [m for m in info.get("media", []) if m.get("type") == "video"]
        ages = [int(m["age_ms"]) for m in video if "age_ms" in m]
        age = min(ages) if ages else None
        record = self.ledger.get(relay_stream_id)
        if age is not None and record is not None:
            # Before the first packet Janus reports its clock's age (hours): not a packet age.
            lived_ms = (utc_now() - record.created_at).total_seconds() * 1000
            if age > lived_ms + 1000:
                age = None
        return StreamStatus(
            relay_stream_id,
            present=True,
            flowing=age is not None and age < FLOWING_MAX_AGE_MS and bool(info.get("enabled")),
            media_age_ms=age,
            viewers=info.get("viewers"),
            codec=video[0].get("codec") if video else None,
        )

    def health(self) -> RelayHealth:
        try:
            info = self._http.get_info()
            self.keepalive()
            # Viewers' tokens go through the admin API: without it nothing can be provisioned.
            self.tokens.ping()
        except AdminError as exc:
            return RelayHealth(
                up=False, backend=self.name, detail=f"Janus admin API error {exc.code}"
            )
        except (RelayUnavailable, RelayRefused) as exc:
            return RelayHealth(up=False, backend=self.name, detail=exc.message)
        version = info.get("version_string")
        return RelayHealth(
            up=True,
            backend=self.name,
            detail=f"Janus {version} at {self.settings.host}:{self.settings.port}",
            version=str(version) if version else None,
        )

    def close(self) -> None:
        self._http.close()
        self._admin.close()
