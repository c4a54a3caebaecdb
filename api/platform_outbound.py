"""Events out: a platform hears when the feeds of its situation go live or end.

:func:`notify_feed` is called by the feed lifecycle in the transaction that records the change
(:mod:`api.feeds.provision` when a session goes live, :mod:`api.feeds.revoke` when one ends):
for an incident a platform event raised, it writes the message to the outbox
(:mod:`geo.store.platform_outbox`), in the platform's format (:func:`geo.platform_message.
feed_message`); for any other incident it does nothing. The request never waits on a platform.

:class:`OutboxSender` delivers what is due: an HTTP POST of the JSON message to the callback,
accepted when the platform answers 2xx with ``result`` ``"0"`` (or no body). Otherwise it
retries after ``base_s`` × 2^(attempts − 1) seconds, at most ``max_s``, and gives up after
``max_attempts`` (``failed``, with the last error kept). It runs beside the expiry loop, in a
thread of the process that leads it (:class:`api.feeds.loop.Worker`), so one sender works per
database; a message being sent is locked, so a second one would skip it anyway.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Connection, Engine

from geo.platform_message import SUCCESS_RESULT, feed_message
from geo.store import platform_events, platform_outbox
from geo.store.app_role import app_transaction

log = logging.getLogger("gilmok.platform")

#: Seconds the sender waits for a platform's answer.
TIMEOUT_S = 5.0


def notify_feed(
    conn: Connection,
    *,
    incident_id: int,
    camera_id: int,
    feed: str,
    reason: str = "",
    at: dt.datetime | None = None,
) -> int | None:
    """Queue the news that the feed of ``camera_id`` for ``incident_id`` is now ``feed``
    (``live``, ``revoked``, ``expired``), when a platform event raised the incident and its
    platform has a callback; the outbox message's id, or None."""
    situation = platform_events.situation_of_incident(conn, incident_id)
    if situation is None:
        return None
    target = situation.callback_url or situation.registered_callback
    if not target:
        return None
    body = feed_message(
        platform_code=situation.platform_code,
        event_type=situation.event_type,
        event_name=situation.event_name,
        ocr_nbr=situation.ocr_nbr,
        lon=situation.lon,
        lat=situation.lat,
        place=situation.place,
        feed=feed,
        camera_id=camera_id,
        incident_id=incident_id,
        reason=reason,
        at=at or dt.datetime.now(dt.UTC),
    )
    return platform_outbox.enqueue(
        conn,
        platform_id=situation.platform_id,
        event_id=situation.id,
        target_url=target,
        body=body,
    )


def post_json(url: str, body: dict[str, Any], *, timeout_s: float = TIMEOUT_S) -> str | None:
    """POST ``body``; None when the platform accepted it, else what went wrong (one line)."""
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
            "X-Scsns-svcTy": str(body.get("svcTy", "")),
            "X-Scsns-sendCd": str(body.get("sendCd", "")),
            "X-Scsns-rcvCd": str(body.get("rcvCd", "")),
            "X-Scsns-sysCd": str(body.get("sysCd", "")),
            "X-Scsns-encAt": "N",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            raw = response.read(65536)
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
    if not raw.strip():
        return None
    try:
        answer = json.loads(raw)
    except ValueError:
        return "the platform's answer is not JSON"
    if isinstance(answer, dict) and str(answer.get("result", SUCCESS_RESULT)) != SUCCESS_RESULT:
        return (
            f"the platform refused it: result {answer.get('result')!r} {answer.get('message', '')}"
        )
    return None


class OutboxSender:
    """Delivers due outbox messages with exponential back-off (module docstring).

    Parameters
    ----------
    engine
        The database, as the service role.
    base_s, max_s
        First retry delay and the longest one, seconds.
    max_attempts
        Attempts before a message is ``failed``.
    post
        How a message is sent (:func:`post_json`).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        base_s: float = 1.0,
        max_s: float = 300.0,
        max_attempts: int = 12,
        interval_s: float = 0.25,
        post: Callable[[str, dict[str, Any]], str | None] = post_json,
    ) -> None:
        self.engine = engine
        self.base_s = base_s
        self.max_s = max_s
        self.max_attempts = max_attempts
        self.interval_s = interval_s
        self.post = post

    def delay_s(self, attempts: int) -> float:
        """Seconds before the next try after ``attempts`` failed ones (≥ 1)."""
        return float(min(self.max_s, self.base_s * 2 ** max(0, attempts - 1)))

    def deliver_due(self, *, limit: int = 50) -> int:
        """Try each message due now, oldest first, at most ``limit``; how many were tried."""
        tried = 0
        while tried < limit:
            with app_transaction(self.engine) as conn:
                now = dt.datetime.now(dt.UTC)
                if tried == 0 and not platform_outbox.any_due(conn, now=now):
                    return 0
                message = platform_outbox.next_due(conn, now=now)
                if message is None:
                    return tried
                error = self.post(message.target_url, message.body)
                tried += 1
                done = dt.datetime.now(dt.UTC)
                if error is None:
                    platform_outbox.mark_delivered(conn, message.id, now=done)
                    continue
                attempts = message.attempts + 1
                give_up = attempts >= self.max_attempts
                log.warning(
                    "platform callback %s: attempt %d failed: %s%s",
                    message.target_url,
                    attempts,
                    error,
                    " (giving up)" if give_up else "",
                )
                platform_outbox.mark_failed_attempt(
                    conn,
                    message.id,
                    error=error,
                    next_at=done + dt.timedelta(seconds=self.delay_s(attempts)),
                    give_up=give_up,
                )
        return tried

    def run(self, stop: threading.Event, *, leading: Callable[[], bool] = lambda: True) -> None:
        """Deliver every ``interval_s`` while ``leading()``, until ``stop`` is set."""
        while not stop.is_set():
            if leading():
                try:
                    self.deliver_due()
                except Exception:  # a platform or a bug must not stop the sender for good
                    log.exception("platform sender: a round failed")
            stop.wait(self.interval_s)
