"""What one app holds (settings, its database, its relay) and the request's transaction."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy.engine import Connection, Engine

from geo.settings import Settings
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
def transaction() -> Iterator[Connection]:
    """One database transaction as the app role, committed when the block ends without error."""
    with app_transaction(app_state().bind) as conn:
        yield conn
