"""Verified API keys kept in memory: the revocation bound, no cached failures, no database on the
hot path.

The app runs on the test's rolled-back connection; ``/v1/approaches`` answers from an in-memory
snapshot of the real central-Seoul roads and Seoul 2018 CCTV registry, so every SQL statement a
request sends is one the request itself needed.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import shapely
from flask import Flask
from flask.testing import FlaskClient
from spatial_helpers import DATA_DIR, seoul_segments
from sqlalchemy import event
from sqlalchemy.engine import Connection

import api.auth
from api import create_app
from api.auth import KEY_TTL_S, VerifiedKeys, verified_keys
from api.keys import hash_api_key, issue_api_key
from api.settings import Settings
from api.snapshot import snapshot_cache
from geo.index import build_coverage_index
from geo.ingest.cctv import read_cctv
from geo.network import build_road_network
from geo.registry import NetworkSnapshot, RegistrySnapshot
from geo.store import orgs

pytestmark = pytest.mark.db

ACTOR = "test"
GWANGHWAMUN = "/v1/approaches?lon=126.9769&lat=37.5759&radius_m=500"


@pytest.fixture(scope="module")
def snapshot(base_settings: Settings) -> RegistrySnapshot:
    cameras = read_cctv(DATA_DIR / "seoul_cctv_2018.csv").cameras
    crs = base_settings.working_crs
    network = build_road_network(seoul_segments(), crs=crs)
    everywhere = shapely.box(-1e9, -1e9, 1e9, 1e9)
    return RegistrySnapshot(
        networks=[NetworkSnapshot(1, "central Seoul", everywhere, network)],
        cameras=cameras,
        index=build_coverage_index(cameras, crs=crs),
        crs=crs,
    )


@pytest.fixture
def app(db: Connection, base_settings: Settings, snapshot: RegistrySnapshot) -> Flask:
    app = create_app(base_settings, engine=db)
    snapshot_cache(app).install(snapshot)
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def key(db: Connection) -> str:
    orgs.create_organization(db, name="제56보병사단", kind="military_unit", actor=ACTOR)
    return issue_api_key(db, organization="제56보병사단", role="requester", actor=ACTOR)[1]


@pytest.fixture
def statements(db: Connection) -> Iterator[list[str]]:
    """Every SQL statement sent on the app's connection while the test runs."""
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    event.listen(db, "before_cursor_execute", record)
    yield sent
    event.remove(db, "before_cursor_execute", record)


def _get(client: FlaskClient, key: str, path: str = GWANGHWAMUN) -> int:
    return client.get(path, headers={"Authorization": f"Bearer {key}"}).status_code


def _prefix(key: str) -> str:
    return key.split("_")[1]


def test_approaches_with_a_verified_key_sends_no_sql(
    client: FlaskClient, key: str, statements: list[str]
) -> None:
    assert _get(client, key) == 200
    assert any("api_key" in s for s in statements)  # verified once against the database
    statements.clear()
    for _ in range(3):
        assert _get(client, key) == 200
    assert statements == []


def test_a_revoked_key_is_refused_within_the_ttl(
    app: Flask, client: FlaskClient, db: Connection, key: str
) -> None:
    """Revoked elsewhere (another process): refused here at most KEY_TTL_S after it was verified."""
    keys = verified_keys(app)
    keys.ttl_s = 0.5  # the real clock, a short TTL: the same code path as KEY_TTL_S
    assert _get(client, key) == 200
    verified = time.monotonic()
    orgs.revoke_api_key(db, prefix=_prefix(key), actor=ACTOR)
    time.sleep(max(0.0, verified + keys.ttl_s + 0.05 - time.monotonic()))
    assert _get(client, key) == 401
    assert len(keys) == 0


def test_the_default_bound_is_key_ttl_s(
    app: Flask, client: FlaskClient, db: Connection, key: str
) -> None:
    now = [1000.0]
    verified_keys(app).clock = lambda: now[0]
    assert _get(client, key) == 200
    orgs.revoke_api_key(db, prefix=_prefix(key), actor=ACTOR)
    now[0] += KEY_TTL_S - 0.01
    assert _get(client, key) == 200  # the documented staleness: still trusted inside the TTL
    now[0] += 0.02
    assert _get(client, key) == 401
    assert 1.0 <= KEY_TTL_S <= 10.0


def test_forget_refuses_a_key_revoked_in_this_process_at_once(
    app: Flask, client: FlaskClient, db: Connection, key: str
) -> None:
    assert _get(client, key) == 200
    orgs.revoke_api_key(db, prefix=_prefix(key), actor=ACTOR)
    verified_keys(app).forget(_prefix(key))
    assert _get(client, key) == 401


def test_an_expired_entry_is_verified_again_and_kept_again(
    app: Flask, client: FlaskClient, key: str, statements: list[str]
) -> None:
    now = [0.0]
    verified_keys(app).clock = lambda: now[0]
    assert _get(client, key) == 200
    now[0] += KEY_TTL_S
    statements.clear()
    assert _get(client, key) == 200
    assert any("api_key" in s for s in statements)
    statements.clear()
    assert _get(client, key) == 200
    assert statements == []


def test_failed_keys_are_never_kept_and_always_cost_a_lookup(
    app: Flask, client: FlaskClient, key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lookups: list[str] = []
    real = api.auth.authenticate

    def counting(conn: Connection, presented: str) -> Any:
        lookups.append(presented)
        return real(conn, presented)

    monkeypatch.setattr(api.auth, "authenticate", counting)
    # the right prefix with a guessed secret, an unknown prefix, and a malformed key
    guesses = [f"{key[:12]}{'A' * 43}", f"gk_00000000_{'a' * 43}", "gk_nothex00_x"]
    for _ in range(3):
        for guess in guesses:
            assert _get(client, guess) == 401
    assert lookups == guesses * 3
    assert len(verified_keys(app)) == 0
    assert _get(client, key) == 200
    assert _get(client, key) == 200
    assert lookups[-1] == key
    assert len(lookups) == len(guesses) * 3 + 1


def test_keys_are_kept_by_digest_and_bounded() -> None:
    keys = VerifiedKeys(max_keys=3, clock=lambda: 0.0)
    caller = orgs.Caller(1, "0000abcd", 1, "org", "military_unit", "requester")
    for i in range(7):
        keys.put(hash_api_key(f"gk_0000abcd_{i}"), caller)
        assert len(keys) <= 3
    assert keys.get(hash_api_key("gk_0000abcd_6")) == caller
    assert all(len(digest) == 32 for digest in keys._keys)
    keys.forget("0000abcd")
    assert len(keys) == 0
