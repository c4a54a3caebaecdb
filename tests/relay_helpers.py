"""Helpers for tests against the real relay: free ports, grants, and a bare Janus viewer."""

from __future__ import annotations

import json
import secrets
import socket
import time
import urllib.parse
import urllib.request
from datetime import timedelta
from typing import Any

from api.relay import Grant
from api.relay.base import utc_now
from api.relay.settings import RelaySettings

#: Cameras the session's simulator serves (/cam1 .. /cam20).
CAMERAS = 20


def free_tcp_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def grant(org: str = "army-ops-room", minutes: float = 10) -> Grant:
    return Grant(viewer_org=org, expires_at=utc_now() + timedelta(minutes=minutes))


class Viewer:
    """A bare Janus API client, as a situation room's browser would be (without WebRTC)."""

    def __init__(self, settings: RelaySettings, token: str) -> None:
        self.base = f"http://{settings.host}:{settings.port}/janus"
        self.token = token

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        payload = {**body, "transaction": secrets.token_hex(4), "token": self.token}
        req = urllib.request.Request(
            self.base + path, data=json.dumps(payload).encode(), method="POST"
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            return dict(json.load(resp))

    def attach(self) -> tuple[int, int]:
        reply = self.post("", {"janus": "create"})
        assert reply["janus"] == "success", reply
        session = int(reply["data"]["id"])
        handle = self.post(f"/{session}", {"janus": "attach", "plugin": "janus.plugin.streaming"})
        return session, int(handle["data"]["id"])

    def watch(self, stream: str, pin: str) -> dict[str, Any]:
        """The streaming plugin's answer to ``watch`` (it comes as an asynchronous event)."""
        session, handle = self.attach()
        ack = self.post(f"/{session}/{handle}", {"janus": "message", "body": {
            "request": "watch", "id": stream, "pin": pin}})  # fmt: skip
        assert ack["janus"] == "ack", ack
        url = f"{self.base}/{session}?maxev=1&token={urllib.parse.quote(self.token)}"
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            with urllib.request.urlopen(url, timeout=35) as resp:
                events = json.load(resp)
            for event in events if isinstance(events, list) else [events]:
                if event.get("janus") == "event":
                    self.post(f"/{session}", {"janus": "destroy"})
                    return dict(event)
        raise AssertionError("no answer to watch")
