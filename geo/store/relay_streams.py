"""The relay's stream ledger (table ``relay_stream``): what gilmok provisioned on a relay.

One row per stream gilmok asked a relay to create and has not destroyed, written before the
relay is asked (state ``provisioning``) and marked ``live`` once it answered, so a stream whose
provisioning crashed half-way is still found and destroyed by the reconciler. No secret is
kept: an adapter derives a stream's management secret from its id. Read and written through
:class:`api.feeds.ledger.StreamLedger`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from geo.store.models import RelayStream
from geo.store.queries import query

_t = RelayStream.__table__
_COLUMNS = ("relay_stream_id", "backend", "key", "viewer_org", "expires_at", "created_at", "state")


def put_relay_stream(conn: Connection, record: Mapping[str, Any]) -> None:
    """Insert or replace the ledger row of ``record["relay_stream_id"]``."""
    conn.execute(query("relay_streams/put"), dict(record))


def remove_relay_stream(conn: Connection, relay_stream_id: str) -> None:
    conn.execute(query("relay_streams/remove"), {"id": relay_stream_id})


def relay_stream_rows(
    conn: Connection, *, relay_stream_id: str | None = None, backend: str | None = None
) -> list[dict[str, Any]]:
    """Ledger rows (all, one backend's, or the one with this id), oldest first."""
    statement = select(*(_t.c[name] for name in _COLUMNS))
    if relay_stream_id is not None:
        statement = statement.where(_t.c.relay_stream_id == relay_stream_id)
    if backend is not None:
        statement = statement.where(_t.c.backend == backend)
    rows = conn.execute(statement.order_by(_t.c.created_at, _t.c.relay_stream_id))
    return [dict(r._mapping) for r in rows]
