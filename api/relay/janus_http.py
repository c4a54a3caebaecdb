"""Janus's JSON-over-HTTP API, as gilmok speaks it: the client, the error codes it meets and how
they become gilmok's errors.

:class:`JanusHttp` keeps one keep-alive connection per thread to the core API (``/janus``, the
``apisecret``) or the admin API (``/admin``, the ``admin_secret``) and turns a relay that cannot
be reached, or answers something that is not Janus JSON, into
:class:`api.relay.errors.RelayUnavailable`. Janus reports plugin errors as HTTP 200 with
``plugindata.data.error_code`` (the codes below); :class:`PluginError` and :class:`AdminError`
carry the ones the adapter (:mod:`api.relay.janus`) maps itself.
"""

from __future__ import annotations

import http.client
import json
import secrets
import threading
from typing import Any, NoReturn

from api.relay.errors import RelayRefused, RelayUnavailable

PLUGIN = "janus.plugin.streaming"
NO_SUCH_MOUNTPOINT = 455
CANNOT_CREATE = 456
UNAUTHORIZED = 457
CORE_UNAUTHORIZED = 403
NO_SUCH_SESSION = 458
NO_SUCH_HANDLE = 459
TOKEN_NOT_FOUND = 490


class PluginError(Exception):
    """A streaming-plugin error other than 455/457, mapped by the caller."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


class AdminError(Exception):
    """An admin API error other than 403, with Janus's code."""

    def __init__(self, code: int | None) -> None:
        super().__init__(code)
        self.code = code


def raise_core_error(reply: dict[str, Any]) -> NoReturn:
    error = reply.get("error", {})
    if error.get("code") == CORE_UNAUTHORIZED:
        raise RelayRefused(
            "the stream relay refused gilmok's API secret: it was started with another "
            "GILMOK_RELAY_SECRET (restart it: `gilmok relay stop && gilmok relay start`)"
        )
    raise RelayUnavailable(f"Janus error {error.get('code')}: {error.get('reason')}")


class JanusHttp:
    """Janus's JSON-over-HTTP API with one keep-alive connection per thread.

    The same client serves the admin API: ``base`` ``/admin``, the secret sent as
    ``admin_secret`` instead of ``apisecret``.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        api_secret: str,
        timeout_s: float,
        base: str = "/janus",
        secret_field: str = "apisecret",
    ) -> None:
        self.host, self.port = host, port
        self.api_secret = api_secret
        self.timeout_s = timeout_s
        self.base = base
        self.secret_field = secret_field
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)
            self._local.conn = conn
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None

    def _down(self, reason: str, *, reached: bool = True) -> RelayUnavailable:
        # details["reached"] False: the request never got to Janus, so it changed nothing.
        return RelayUnavailable(
            f"the stream relay (Janus at {self.host}:{self.port}) cannot be reached ({reason}); "
            "is it running? `gilmok relay status`",
            details={"reached": reached},
        )

    def _exchange(self, method: str, path: str, payload: bytes | None) -> dict[str, Any]:
        # A kept-alive connection may have been closed by Janus meanwhile: one fresh retry.
        for attempt in (0, 1):
            conn = self._connection()
            try:
                headers = {"Content-Type": "application/json"} if payload else {}
                conn.request(method, f"{self.base}{path}", payload, headers)
                resp = conn.getresponse()
                raw = resp.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._drop()
                if attempt == 0:
                    continue
                raise self._down("connection closed") from None
            except ConnectionRefusedError:
                self._drop()
                raise self._down("connection refused", reached=False) from None
            except TimeoutError:
                self._drop()
                raise self._down(f"no answer within {self.timeout_s:g} s") from None
            except (OSError, http.client.HTTPException) as exc:
                self._drop()
                raise self._down(getattr(exc, "strerror", None) or type(exc).__name__) from None
            if resp.status != 200:
                raise self._down(f"HTTP {resp.status}")
            try:
                reply: dict[str, Any] = json.loads(raw)
            except ValueError:
                raise self._down("the answer is not JSON") from None
            return reply
        raise AssertionError("unreachable")

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` (plus transaction and secret) to ``{base}{path}``; the JSON reply.

        Raises
        ------
        RelayUnavailable
            Janus does not answer, or answers something that is not Janus JSON.
        """
        payload = {**body, "transaction": secrets.token_hex(6), self.secret_field: self.api_secret}
        return self._exchange("POST", path, json.dumps(payload).encode())

    def get_info(self) -> dict[str, Any]:
        """Janus's unauthenticated server description (``GET /janus/info``)."""
        return self._exchange("GET", "/info", None)

    def close(self) -> None:
        self._drop()
