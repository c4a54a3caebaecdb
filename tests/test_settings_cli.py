"""Settings are validated once and a broken database gives one clear line, password hidden."""

from __future__ import annotations

import subprocess
import sys

import pytest

from api.settings import load_settings
from geo.errors import ConfigurationError


def test_defaults_are_usable() -> None:
    settings = load_settings({})
    assert settings.working_crs == "EPSG:5179"
    assert settings.database_url.drivername == "postgresql+psycopg"


@pytest.mark.parametrize(
    ("environ", "names"),
    [
        ({"GILMOK_DATABASE_URL": "mysql://u:p@h/db"}, "PostgreSQL"),
        ({"GILMOK_DATABASE_URL": "not a url"}, "GILMOK_DATABASE_URL"),
        ({"GILMOK_WORKING_CRS": "EPSG:4326"}, "projected CRS in metres"),
        ({"GILMOK_WORKING_CRS": "EPSG:999999"}, "GILMOK_WORKING_CRS"),
        ({"GILMOK_WORKING_CRS": "EPSG:5186"}, "GILMOK_WORKING_CRS='EPSG:5186' is not supported"),
        ({"GILMOK_DATA_DIR": "/nonexistent/folder"}, "GILMOK_DATA_DIR"),
        ({"GILMOK_GPKG": "/nonexistent/registry.gpkg"}, "GILMOK_GPKG"),
        ({"GILMOK_COUNTRY_BOUNDS": "130,30,120,40"}, "GILMOK_COUNTRY_BOUNDS"),
        ({"GILMOK_MAX_COVERAGE_RANGE_M": "lots"}, "GILMOK_MAX_COVERAGE_RANGE_M"),
        ({"GILMOK_REQUEST_STATEMENT_TIMEOUT_MS": "0"}, "GILMOK_REQUEST_STATEMENT_TIMEOUT_MS"),
        ({"GILMOK_RATE_LIMIT": "many"}, "GILMOK_RATE_LIMIT"),
        ({"GILMOK_RATE_LIMIT_REFUSED_FEEDS": "30/fortnight"}, "GILMOK_RATE_LIMIT_REFUSED_FEEDS"),
    ],
)
def test_bad_settings_name_the_variable(environ: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigurationError, match=names):
        load_settings(environ)


def test_request_limits_are_read() -> None:
    defaults = load_settings({})
    assert defaults.request_statement_timeout_ms == 2000
    assert defaults.rate_limit == "1200/minute"
    assert defaults.rate_limit_refused_feeds == "30/minute"
    settings = load_settings(
        {
            "GILMOK_REQUEST_STATEMENT_TIMEOUT_MS": "500",
            "GILMOK_RATE_LIMIT": "20/second;1000/minute",
            "GILMOK_RATE_LIMIT_REFUSED_FEEDS": "off",
        }
    )
    assert settings.request_statement_timeout_ms == 500
    assert settings.rate_limit == "20/second;1000/minute"
    assert settings.rate_limit_refused_feeds is None


def test_plain_postgresql_url_uses_psycopg3() -> None:
    settings = load_settings({"GILMOK_DATABASE_URL": "postgresql://a:b@localhost/x"})
    assert settings.database_url.drivername == "postgresql+psycopg"
    assert "b@" not in settings.safe_database_url


def test_the_service_and_the_owner_log_in_as_two_roles_on_one_database() -> None:
    default = load_settings({})
    assert (default.database_url.username, default.owner_database_url.username) == (
        "gilmok_service",
        "gilmok",
    )
    assert default.owner_database_url.database == default.database_url.database
    # the owner follows the service's database unless set: a migration never lands elsewhere
    moved = load_settings({"GILMOK_DATABASE_URL": "postgresql://svc:pw@db.internal:6432/prod"})
    assert moved.owner_database_url.render_as_string(hide_password=False) == (
        "postgresql+psycopg://gilmok:gilmok@db.internal:6432/prod"
    )
    both = load_settings(
        {
            "GILMOK_DATABASE_URL": "postgresql://svc:pw@db/prod",
            "GILMOK_OWNER_DATABASE_URL": "postgresql://boss:s3cret@db/prod",
        }
    )
    assert both.safe_owner_database_url == "postgresql+psycopg://boss:***@db/prod"
    with pytest.raises(ConfigurationError, match="GILMOK_OWNER_DATABASE_URL names no database"):
        load_settings({"GILMOK_OWNER_DATABASE_URL": "postgresql://boss:s3cret@db"})


def test_the_audit_anchor_key_is_long_and_never_shown() -> None:
    assert load_settings({}).audit_anchor_key is None
    with pytest.raises(ConfigurationError, match="at least 32 characters"):
        load_settings({"GILMOK_AUDIT_ANCHOR_KEY": "x" * 31})
    key = "an-anchor-key-that-is-long-enough-" + "9" * 8
    settings = load_settings({"GILMOK_AUDIT_ANCHOR_KEY": key})
    assert settings.audit_anchor_key == key
    assert key not in repr(settings)


def _gilmok(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # these two need the server at 5432 to answer (and refuse them)
        pytest.param(
            "postgresql://gilmok:s3cr3t-pw@127.0.0.1:5432/gilmok",
            "password authentication failed",
            marks=pytest.mark.db,
        ),
        (
            "postgresql://gilmok:s3cr3t-pw@127.0.0.1:1/gilmok",
            "no server is answering at 127.0.0.1:1",
        ),
        pytest.param(
            "postgresql://nobody_here:s3cr3t-pw@127.0.0.1:5432/gilmok",
            "'nobody_here'",
            marks=pytest.mark.db,
        ),
    ],
)
def test_unusable_database_is_one_line_without_password(url: str, expected: str) -> None:
    result = _gilmok("db", "current", env={"GILMOK_DATABASE_URL": url})
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "s3cr3t-pw" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_another_working_crs_is_refused_with_one_line() -> None:
    """The schema stores SRID 5179: a command run with EPSG:5186 stops before any query, with
    one line naming the variable, rather than answering "outside the loaded road data"."""
    result = _gilmok(
        "approaches", "--lon", "126.9769", "--lat", "37.5759",
        env={"GILMOK_WORKING_CRS": "EPSG:5186"},
    )  # fmt: skip
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "GILMOK_WORKING_CRS='EPSG:5186' is not supported" in lines[0]
    assert load_settings({"GILMOK_WORKING_CRS": "epsg:5179"}).working_crs == "EPSG:5179"
