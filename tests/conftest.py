"""Shared fixtures: a fresh PostGIS database for the run, one rolled-back transaction per test;
a private Janus and camera simulator for the relay tests.

The run's database is created and migrated by the schema's owner (``engine``, ``db``: test
set-up may change the schema or tamper with the audit trail); the API under test works as the
service role (``gilmok_app``'s privileges: the app drops to it in every transaction, and
``service_engine`` logs in as ``gilmok_service`` itself).

Database tests never skip: if PostGIS cannot be reached they error, and under ``CI=true`` any
skipped test fails the run (a silently skipped database test proves nothing).
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import signal
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_world import Keys, make_keys
from flask import Flask
from flask.testing import FlaskClient
from relay_helpers import CAMERAS, free_tcp_port
from scratch_db import drop_database
from sqlalchemy import text
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.orm import Session

from api.relay.camsim import SYSTEM_PYTHON, CameraSimulator
from api.relay.janus_process import JanusProcess
from api.relay.settings import RelaySettings
from api.settings import Settings, load_settings
from geo.store import connect
from geo.store.migrate import upgrade

DATA_DIR = Path(
    os.environ.get("GILMOK_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data")
)

# A run started in the background of a non-interactive shell inherits SIGINT ignored (POSIX),
# and so would every process it starts: the Ctrl-C tests need it as a terminal delivers it.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real data folder (``GILMOK_DATA_DIR``, default ``../shared/data``)."""
    if not DATA_DIR.is_dir():
        pytest.fail(f"real data folder {DATA_DIR} is missing: set GILMOK_DATA_DIR")
    return DATA_DIR


@pytest.fixture(scope="module")
def seoul_url(base_settings: Settings, data_dir: Path) -> Iterator[URL]:
    """A database of its own holding the real central-Seoul roads and Seoul 2018 cameras,
    committed (for code that reads on connections of its own: shared snapshots, workers);
    one per test module, which may change it."""
    from scratch_db import scratch_database

    from geo.ingest.cctv import read_cctv
    from geo.ingest.osm import read_road_network
    from geo.store.imports import import_cameras, import_road_network

    with scratch_database(base_settings.owner_database_url) as url:
        engine = connect(url)
        with engine.begin() as conn:
            roads = data_dir / "seoul_central_drive.graphml"
            import_road_network(conn, read_road_network(roads), path=roads)
            cctv = data_dir / "seoul_cctv_2018.csv"
            import_cameras(conn, read_cctv(cctv), path=cctv, max_range_m=SEOUL_MAX_RANGE_M)
        engine.dispose()
        yield url


#: The coverage cap the committed Seoul database (:func:`seoul_url`) was imported with.
SEOUL_MAX_RANGE_M = 200.0


@pytest.fixture(scope="session", autouse=True)
def snapshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The run's registry snapshot folder (``GILMOK_SNAPSHOT_DIR``, for this process and the
    commands it starts): never the user's own."""
    folder = tmp_path_factory.mktemp("snapshots")
    before = os.environ.get("GILMOK_SNAPSHOT_DIR")
    os.environ["GILMOK_SNAPSHOT_DIR"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("GILMOK_SNAPSHOT_DIR", None)
    else:
        os.environ["GILMOK_SNAPSHOT_DIR"] = before


@pytest.fixture(scope="session")
def base_settings(snapshot_dir: Path) -> Settings:
    return load_settings()


def _admin_url(url: URL) -> URL:
    return url.set(database="postgres")


@pytest.fixture(scope="session")
def fresh_database_url(base_settings: Settings) -> Iterator[URL]:
    """URL, as the schema's owner, of a database created empty for this test run and dropped
    at its end."""
    name = f"gilmok_test_{uuid.uuid4().hex[:10]}"
    admin = connect(_admin_url(base_settings.owner_database_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base_settings.owner_database_url.set(database=name)
    try:
        yield url
    finally:
        drop_database(admin, name)
        admin.dispose()


@pytest.fixture(scope="session")
def engine(fresh_database_url: URL) -> Iterator[Engine]:
    """Engine on the run's database, migrated to head."""
    upgrade(fresh_database_url)
    eng = connect(fresh_database_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def service_database_url(base_settings: Settings, engine: Engine) -> URL:
    """URL of the run's (migrated) database as the service's login role."""
    return base_settings.database_url.set(database=engine.url.database)


@pytest.fixture(scope="session")
def service_engine(service_database_url: URL) -> Iterator[Engine]:
    """Engine on the run's database as the service's login role (``gilmok_service``)."""
    eng = connect(service_database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def db(engine: Engine) -> Iterator[Connection]:
    """A connection inside a transaction that is rolled back after the test.

    Code under test may commit: its commits become savepoints inside the outer transaction.
    """
    with engine.connect() as conn:
        outer = conn.begin()
        try:
            yield conn
        finally:
            outer.rollback()


@pytest.fixture
def app(db: Connection, base_settings: Settings) -> Flask:
    """The API on the test's rolled-back connection: every request a savepoint."""
    from api import create_app

    return create_app(base_settings, engine=db)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def keys(db: Connection) -> Keys:
    """An organization and a key per role (tests/api_world.py)."""
    return make_keys(db)


@pytest.fixture
def session(db: Connection) -> Iterator[Session]:
    """An ORM session on the rolled-back connection."""
    with Session(bind=db, join_transaction_mode="create_savepoint") as sess:
        yield sess


@pytest.fixture(scope="session")
def relay_settings(tmp_path_factory: pytest.TempPathFactory) -> RelaySettings:
    """Settings for a private Janus: free ports, a temporary runtime folder, its own secret."""
    if shutil.which("janus") is None:
        pytest.fail("janus is not installed: run scripts/setup.sh --with-relay")
    if not Path(SYSTEM_PYTHON).exists():
        pytest.fail(f"{SYSTEM_PYTHON} is missing: run scripts/setup.sh --with-relay")
    # UDP blocks below the kernel's ephemeral range (32768+), picked at random so that two
    # test runs at once rarely share one.
    block = random.randrange(22000, 32000, 500)
    return RelaySettings(
        port=free_tcp_port(),
        admin_port=free_tcp_port(),
        ws_port=free_tcp_port(),
        secret=f"test-{secrets.token_urlsafe(24)}",
        runtime_dir=tmp_path_factory.mktemp("relay"),
        media_ports=(block, block + 199),
        source_ports=(block + 200, block + 499),
        source_timeout_s=2.0,
    )


@pytest.fixture(scope="session")
def janus(relay_settings: RelaySettings) -> Iterator[JanusProcess]:
    """A real Janus for the whole run (tests that kill it must start it again)."""
    with JanusProcess(relay_settings) as proc:
        yield proc


@pytest.fixture(scope="session")
def camsim() -> Iterator[CameraSimulator]:
    """The GStreamer camera simulator: /cam1 .. /cam{CAMERAS} on a free port."""
    with CameraSimulator(cameras=CAMERAS, port=0) as sim:
        yield sim


@pytest.fixture(scope="module")
def console_registry_url(base_settings: Settings, data_dir: Path) -> URL:
    """The real central-Seoul registry's database (roads and the Seoul CCTV), as its owner."""
    from real_registry import real_registry_url

    return real_registry_url(base_settings.owner_database_url, data_dir)


@pytest.fixture(scope="module")
def console_stack(
    base_settings: Settings, console_registry_url: URL, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """Janus, the camera simulator, ``gilmok serve`` and Chromium (:meth:`ConsoleStack.browser`)
    in a network namespace of their own, on the real registry (``tests/console_stack.py``);
    the namespace is deleted at teardown, whatever happened."""
    from console_stack import ConsoleStack

    with ConsoleStack(
        console_registry_url, base_settings, tmp_path_factory.mktemp("console")
    ) as stack:
        yield stack


#: Fixtures that reach the PostGIS database, and the relay (Janus, the camera simulator): a test
#: using one, directly or through another fixture, is marked ``db`` or ``relay``, so that the fast
#: lane (``scripts/test --fast``: ``-m "not db and not relay"``) runs with neither.
DB_FIXTURES = frozenset({"fresh_database_url", "engine", "console_registry_url"})
RELAY_FIXTURES = frozenset({"relay_settings", "janus", "camsim", "console_stack"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & DB_FIXTURES:
            item.add_marker(pytest.mark.db)
        if used & RELAY_FIXTURES:
            item.add_marker(pytest.mark.relay)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if os.environ.get("CI") == "true" and terminalreporter.stats.get("skipped"):
        terminalreporter.write_line("CI=true: skipped tests are failures here", red=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if os.environ.get("CI") == "true" and reporter is not None and reporter.stats.get("skipped"):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
