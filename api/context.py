"""What one app holds (settings, its database, its relay) and the request's transaction."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy.engine import Connection, Engine

from api.settings import Settings
from geo.store.app_role import app_transaction


@dataclass
class AppState:
    """Kept in ``app.extensions["gilmok"]``.

    ``bind`` is the app's engine, or a connection a test injected (each request's transaction is
    then a savepoint in the test's transaction). ``relay`` is the stream relay adapter
    (:class:`api.relay.base.Relay`) once one is wired in; None until then.
    """

    settings: Settings
    bind: Engine | Connection
    relay: Any = None


def app_state() -> AppState:
    state: AppState = current_app.extensions["gilmok"]
    return state


@contextlib.contextmanager
def transaction(*, bounded: bool = True) -> Iterator[Connection]:
    """One database transaction as the app role, committed when the block ends without error.

    Each statement may run for ``GILMOK_REQUEST_STATEMENT_TIMEOUT_MS`` at most: one slow query
    must not hold a sync worker (and every request queued behind it) for seconds. A statement
    past it is cancelled, the transaction rolled back, and the request answers 503
    (:class:`geo.errors.StatementTimeout`). ``bounded=False`` is for the work that is the
    worker's rather than one request's: loading the registry snapshot takes minutes at
    national scale.
    """
    state = app_state()
    timeout = state.settings.request_statement_timeout_ms if bounded else None
    with app_transaction(state.bind, statement_timeout_ms=timeout) as conn:
        yield conn
