"""The outbox of events out to platforms (``platform_outbox``).

A message is written in the transaction of the change it tells of (a feed gone live or ended),
so that it is sent if and only if that change committed; the loop's sender
(:mod:`api.platform_sender`) delivers it afterwards, never the request. Each message is
``pending`` until the platform's callback accepts it (``delivered``), retried with exponential
back-off, and ``failed`` after the last attempt; its attempts and last error stay readable.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from geo.store.queries import query

OUTBOX_STATES = ("pending", "delivered", "failed")


@dataclass(frozen=True)
class OutboxMessage:
    id: int
    platform_id: int
    event_id: int | None
    target_url: str
    body: dict[str, Any]
    attempts: int


def enqueue(
    conn: Connection,
    *,
    platform_id: int,
    event_id: int | None,
    target_url: str,
    body: dict[str, Any],
) -> int:
    """Queue ``body`` for ``target_url``; its id."""
    return int(
        conn.execute(
            query("platform_outbox/enqueue"),
            {
                "platform": platform_id,
                "event": event_id,
                "target_url": target_url,
                "body": json.dumps(body, ensure_ascii=False),
            },
        ).scalar_one()
    )


def any_due(conn: Connection, *, now: dt.datetime) -> bool:
    return bool(conn.execute(query("platform_outbox/any_due"), {"now": now}).scalar_one())


def next_due(conn: Connection, *, now: dt.datetime) -> OutboxMessage | None:
    """The oldest message due, locked until the transaction ends (others skip it)."""
    row = conn.execute(query("platform_outbox/next_due"), {"now": now}).first()
    return None if row is None else OutboxMessage(**row._mapping)


def mark_delivered(conn: Connection, message_id: int, *, now: dt.datetime) -> None:
    conn.execute(query("platform_outbox/delivered"), {"id": message_id, "now": now})


def mark_failed_attempt(
    conn: Connection, message_id: int, *, error: str, next_at: dt.datetime, give_up: bool
) -> None:
    conn.execute(
        query("platform_outbox/retry"),
        {
            "id": message_id,
            "state": "failed" if give_up else "pending",
            "next_at": next_at,
            "error": error[:1000],
        },
    )


def list_outbox(
    conn: Connection, *, state: str | None = None, after_id: int = 0, limit: int = 100
) -> list[dict[str, Any]]:
    """Messages oldest first, with their delivery state."""
    rows = conn.execute(
        query("platform_outbox/listed"), {"state": state, "after_id": after_id, "limit": limit}
    )
    return [dict(r._mapping) for r in rows]
