"""Viewers' stored tokens in Janus, kept through its admin API.

A viewer of a relayed stream needs a Janus core token (admitting it to the streaming plugin
only) besides the mountpoint's pin (see :mod:`api.relay.janus` for what each binds). Each
stream has a token of its own, ``<stream id>.<random>``: added before the mountpoint exists,
removed when the stream ends. The stream id prefix lets any gilmok process find a stream's
token in Janus's ``list_tokens`` and remove it without gilmok ever storing it.

Tokens live in Janus's memory: a restarted Janus holds none, and the reconciler provisions
each live session anew (new stream, new pin, new token).
"""

from __future__ import annotations

import secrets
from typing import Any

from api.relay.errors import RelayRefused, RelayUnavailable
from api.relay.janus_http import CORE_UNAUTHORIZED, PLUGIN, TOKEN_NOT_FOUND, AdminError, JanusHttp


def new_viewer_token(relay_stream_id: str) -> str:
    """A fresh random Janus stored token for one stream: ``<stream id>.<random>``.

    The prefix lets :meth:`JanusTokens.remove_stream_tokens` find the stream's token in
    Janus's list; the 192 random bits are the secret.
    """
    return f"{relay_stream_id}.{secrets.token_urlsafe(24)}"


def token_stream(token: str) -> str:
    """The stream id a token was made for (its prefix).

    >>> token_stream("g0123abcd.s3cr3t")
    'g0123abcd'
    """
    return token.split(".", 1)[0]


class JanusTokens:
    """The stored tokens of one Janus, through its admin API client ``admin``."""

    def __init__(self, admin: JanusHttp) -> None:
        self._admin = admin

    def request(self, body: dict[str, Any]) -> dict[str, Any]:
        """One admin API request; its reply.

        Raises
        ------
        RelayRefused
            Janus refused gilmok's admin secret.
        AdminError
            any other admin error.
        RelayUnavailable
            the admin API cannot be reached.
        """
        reply = self._admin.post("", body)
        if reply.get("janus") == "error":
            code = reply.get("error", {}).get("code")
            if code == CORE_UNAUTHORIZED:
                raise RelayRefused(
                    "the stream relay's admin API refused gilmok's admin secret: it was started "
                    "with another GILMOK_RELAY_SECRET (restart it: `gilmok relay stop && gilmok "
                    "relay start`)"
                )
            raise AdminError(code)
        return reply

    def add(self, token: str) -> None:
        """Store ``token``, admitting its holder to the streaming plugin only.

        Raises AdminError, RelayRefused or RelayUnavailable as :meth:`request` does.
        """
        self.request({"janus": "add_token", "token": token, "plugins": [PLUGIN]})

    def remove(self, token: str) -> None:
        """Remove ``token``; one Janus no longer holds is removed already."""
        try:
            self.request({"janus": "remove_token", "token": token})
        except AdminError as exc:
            if exc.code != TOKEN_NOT_FOUND:
                raise RelayUnavailable(
                    f"Janus could not remove a viewer token (error {exc.code})"
                ) from None

    def stored(self) -> list[str]:
        """Every stored token Janus holds (the admin API's ``list_tokens``)."""
        try:
            reply = self.request({"janus": "list_tokens"})
        except AdminError as exc:
            raise RelayUnavailable(f"Janus could not list its tokens (error {exc.code})") from None
        return [str(t["token"]) for t in reply.get("data", {}).get("tokens", []) if "token" in t]

    def remove_stream_tokens(self, relay_stream_id: str) -> None:
        """Remove every token made for ``relay_stream_id``."""
        for token in self.stored():
            if token_stream(token) == relay_stream_id:
                self.remove(token)

    def ping(self) -> None:
        """Check that the admin API answers and takes gilmok's secret."""
        self.request({"janus": "ping"})
