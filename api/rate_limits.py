"""Per-key rate limits (Flask-Limiter), counted in PostgreSQL so every worker shares them.

Two limits, both set in :class:`geo.settings.ApiSettings`:

- ``GILMOK_RATE_LIMIT`` (default 1200/minute): every request of one API key, across every
  endpoint. Requests without a key count by client address; ``/healthz`` is never limited.
- ``GILMOK_RATE_LIMIT_REFUSED_FEEDS`` (default 30/minute): feed requests of one key that were
  refused (any 4xx but 429). Once spent, every feed request of the key is refused until the
  window ends: each refusal writes an audit record, and a client probing for cameras it may
  not have must not be able to write thousands.

- ``GILMOK_RATE_LIMIT_REFUSED_LOGINS`` (default 10/minute): refused sign-ins
  (``POST /v1/session``) of one client address.

A browser signed in is counted by its session cookie's digest. A limit spent answers 429 in the
one error shape, with ``Retry-After`` (:mod:`api.errors`).

Why PostgreSQL: gunicorn runs several worker processes and a deployment may run several
``gilmok serve``; a limit counted in each process's memory would multiply by their number.
Flask-Limiter's shared storages (Redis, Memcached, MongoDB) are servers gilmok does not run;
PostgreSQL is already shared by all of them. The counters are one UNLOGGED table
(:mod:`geo.store.rate_limits`), fixed windows. A round trip per request would have doubled the
time of ``/v1/approaches``, answered from memory in about 1.5 ms, so a worker takes a key's hits
in leases (:class:`LeasedFixedWindow`): one UPSERT claims the next 1 % of the limit (at least
one hit) for this process, which spends them without SQL. No lease is ever spent past the limit:
each holds numbered hits of the one shared count. What a process leased and did not spend is
lost when the window ends (at most 1 % of the limit per process and window), so a limit of 100
or less is counted hit by hit.
A key is the SHA-256 of the presented API key, so that nobody without the key can spend its
budget (a key's public prefix would let anyone lock another organization out).
Should the database fail, the limiter lets the request through (it logs the error) rather than
refusing every request: the requests that write need the database anyway.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, g, request
from flask.wrappers import Response
from flask_limiter import ApplicationLimit, Limiter, RequestLimit
from limits import RateLimitItem
from limits.storage import Storage
from limits.strategies import STRATEGIES, FixedWindowRateLimiter
from sqlalchemy.engine import Connection

from api.browser_sessions import COOKIE_NAME, digest
from api.keys import hash_api_key
from geo.errors import GilmokError
from geo.store import rate_limits as store
from geo.store.app_role import app_transaction

#: The storage scheme of :class:`PostgresStorage` (a ``limits`` storage URI).
STORAGE_URI = "gilmok+postgresql://"
#: Seconds between two purges of ended windows, per process.
PURGE_EVERY_S = 60.0
#: A lease claims this fraction of a limit's hits at once (at least one).
LEASE_FRACTION = 0.01
#: The strategy name :class:`LeasedFixedWindow` is registered under.
STRATEGY = "gilmok-leased-fixed-window"
#: Endpoints no limit applies to (a load balancer's health checks).
EXEMPT_ENDPOINTS = frozenset({"health.Health"})


def _settings() -> Any:
    return current_app.extensions["gilmok"].settings


@dataclass
class _Lease:
    """Hits ``next``..``last`` of one window of one key's shared count, this process's to spend."""

    next: int
    last: int
    ends_at: float


class PostgresStorage(Storage):
    """A ``limits`` storage in the current app's database (fixed windows only).

    Each call runs in a short transaction of its own, as the app role, on the database of the
    app handling the request — so one storage serves every app of the process (tests make
    many). It keeps the leases of :meth:`leased_incr` and the time of its last purge.
    """

    STORAGE_SCHEME = ["gilmok+postgresql"]  # noqa: RUF012 (the limits registry reads a list)

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **_: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self._purged_at = time.monotonic()
        self._leases: dict[str, _Lease] = {}
        self._lock = threading.Lock()

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return GilmokError

    def _run(self, work: Any) -> Any:
        state = current_app.extensions["gilmok"]
        timeout = state.settings.request_statement_timeout_ms
        with app_transaction(state.bind, statement_timeout_ms=timeout) as conn:
            return work(conn)

    def _claim(self, key: str, expiry: int, amount: int) -> tuple[int, float]:
        def work(conn: Connection) -> tuple[int, float]:
            if time.monotonic() - self._purged_at > PURGE_EVERY_S:
                self._purged_at = time.monotonic()
                store.purge_expired(conn)
                now = time.time()
                with self._lock:
                    self._leases = {k: v for k, v in self._leases.items() if v.ends_at > now}
            return store.hit(conn, key, window_s=expiry, amount=amount)

        hits, ends_at = self._run(work)
        return int(hits), float(ends_at)

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return self._claim(key, expiry, amount)[0]

    def leased_incr(self, key: str, expiry: int, *, limit: int, amount: int = 1) -> int:
        """The number, in ``key``'s shared count, of the last of ``amount`` hits taken now:
        from this process's lease when it holds enough, else from a new lease of
        ``max(amount, LEASE_FRACTION × limit)`` hits claimed in one UPSERT."""
        with self._lock:
            lease = self._leases.get(key)
            live = lease is not None and lease.ends_at > time.time()
            if (
                live
                and lease is not None
                and (lease.next + amount - 1 <= lease.last or lease.next > limit)
            ):
                # hits of the lease, or past the limit: the window is spent until it ends
                lease.next += amount
                return lease.next - 1
        size = max(amount, int(limit * LEASE_FRACTION))
        hits, ends_at = self._claim(key, expiry, size)
        first = hits - size + 1
        with self._lock:
            self._leases[key] = _Lease(next=first + amount, last=hits, ends_at=ends_at)
        return first + amount - 1

    def lease_end(self, key: str) -> float | None:
        """When the window of this process's live lease on ``key`` ends, if it holds one."""
        with self._lock:
            lease = self._leases.get(key)
        return lease.ends_at if lease is not None and lease.ends_at > time.time() else None

    def get(self, key: str) -> int:
        return int(self._run(lambda conn: store.hits(conn, key)))

    def get_expiry(self, key: str) -> float:
        end = self._run(lambda conn: store.window_end(conn, key))
        return time.time() if end is None else float(end)

    def check(self) -> bool:
        self._run(lambda conn: store.hits(conn, ""))
        return True

    def reset(self) -> int | None:
        return int(self._run(store.clear_all))

    def clear(self, key: str) -> None:
        self._run(lambda conn: store.clear(conn, key))


class LeasedFixedWindow(FixedWindowRateLimiter):
    """The fixed-window strategy, taking hits from :meth:`PostgresStorage.leased_incr`."""

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        storage = self.storage
        assert isinstance(storage, PostgresStorage)
        taken = storage.leased_incr(
            item.key_for(*identifiers), item.get_expiry(), limit=item.amount, amount=cost
        )
        return taken <= item.amount


STRATEGIES[STRATEGY] = LeasedFixedWindow


def rate_limit_key() -> str:
    """Whom a request counts against: its API key's digest, else its browser session cookie's,
    else its client address."""
    presented = request.headers.get("X-API-Key") or ""
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        presented = value
    if presented.strip():
        return "key:" + hash_api_key(presented.strip()).hex()[:32]
    cookie = request.cookies.get(COOKIE_NAME, "").strip()
    if cookie:
        return "session:" + digest(cookie).hex()[:32]
    return address_key()


def address_key() -> str:
    """The request's client address, as a limit's key."""
    return f"addr:{request.remote_addr or 'unknown'}"


def _request_rate() -> str:
    return _settings().rate_limit or ""


def _refused_feeds_rate() -> str:
    return _settings().rate_limit_refused_feeds or ""


def _refused_logins_rate() -> str:
    return _settings().rate_limit_refused_logins or ""


def _exempt() -> bool:
    return request.endpoint in EXEMPT_ENDPOINTS


def _refused(response: Response) -> bool:
    return 400 <= response.status_code < 500 and response.status_code != 429


def _note_breach(limit: RequestLimit) -> None:
    """Keep when the spent window ends, for the 429's ``Retry-After`` (known from the lease
    that refused: a key hammering past its limit costs no SQL)."""
    storage = limiter.storage
    end = storage.lease_end(limit.key) if isinstance(storage, PostgresStorage) else None
    g.rate_limit_reset_at = end if end is not None else limit.reset_at


limiter = Limiter(
    rate_limit_key,
    application_limits=[ApplicationLimit(_request_rate, exempt_when=_exempt)],
    storage_uri=STORAGE_URI,
    strategy=STRATEGY,
    headers_enabled=False,
    swallow_errors=True,
    on_breach=_note_breach,
)

#: Decorates the feed-request view: only refused requests are counted.
limit_refused_feed_requests = limiter.limit(
    _refused_feeds_rate, deduct_when=_refused, override_defaults=False
)


#: Decorates the sign-in view: refused sign-ins are counted by client address (a guessed key
#: has no digest of its own worth counting against).
limit_refused_logins = limiter.limit(
    _refused_logins_rate, key_func=address_key, deduct_when=_refused, override_defaults=False
)


def retry_after_s() -> int:
    """Whole seconds until the window of the limit this request spent ends (at least 1)."""
    reset_at = g.get("rate_limit_reset_at")
    if reset_at is None:
        return 60
    return max(1, int(reset_at - time.time()))


def init_app(app: Flask) -> None:
    """Apply the limits to ``app`` (after its ``gilmok`` extension holds the settings)."""
    limiter.init_app(app)
