"""The relay's stream ledger in PostgreSQL, and the relay the app and the loop drive.

:class:`DbStreamLedger` keeps what gilmok provisioned on a relay in the ``relay_stream`` table
(:mod:`geo.store.relay_streams`, no secrets). Each call is its own committed transaction,
independent of the caller's: the record of a stream must outlive a rolled-back provisioning,
which is how the reconciler finds the stream.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection, Engine

from api.relay.base import ProvisionRecord, Relay
from api.settings import Settings
from geo.store import relay_streams
from geo.store.app_role import app_transaction


class DbStreamLedger:
    """A :class:`api.relay.base.StreamLedger` in the ``relay_stream`` table (no secrets).

    Each call is its own committed transaction (as the app role) on ``bind``, independent of
    the caller's: the record of a stream must outlive a rolled-back provisioning, which is how
    the reconciler finds the stream. ``bind`` may be a connection in a transaction (tests):
    calls are then savepoints in it.
    """

    def __init__(self, bind: Engine | Connection) -> None:
        self.bind = bind

    def put(self, record: ProvisionRecord) -> None:
        with app_transaction(self.bind) as conn:
            relay_streams.put_relay_stream(
                conn,
                {
                    "relay_stream_id": record.relay_stream_id,
                    "backend": record.backend,
                    "key": record.key,
                    "viewer_org": record.viewer_org,
                    "expires_at": record.expires_at,
                    "created_at": record.created_at,
                    "state": record.state,
                },
            )

    def remove(self, relay_stream_id: str) -> None:
        with app_transaction(self.bind) as conn:
            relay_streams.remove_relay_stream(conn, relay_stream_id)

    def get(self, relay_stream_id: str) -> ProvisionRecord | None:
        with app_transaction(self.bind) as conn:
            rows = relay_streams.relay_stream_rows(conn, relay_stream_id=relay_stream_id)
        return ProvisionRecord(**rows[0]) if rows else None

    def records(self, *, backend: str | None = None) -> list[ProvisionRecord]:
        with app_transaction(self.bind) as conn:
            rows = relay_streams.relay_stream_rows(conn, backend=backend)
        return [ProvisionRecord(**row) for row in rows]


def make_app_relay(settings: Settings, bind: Engine | Connection) -> Relay | None:
    """The relay the app and the loop drive, its ledger in the database; None if unset.

    A relay is driven once ``GILMOK_RELAY_BACKEND`` is set; the adapter is built without
    contacting the relay, so the app starts while the relay is down.
    """
    from api.relay import make_relay

    if not settings.relay.configured:
        return None
    return make_relay(settings.relay.backend, settings.relay, ledger=DbStreamLedger(bind))
