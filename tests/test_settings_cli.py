"""Settings are validated once and a broken database gives one clear line, password hidden."""

from __future__ import annotations

import subprocess
import sys

import pytest

from geo.errors import ConfigurationError
from geo.settings import load_settings


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
        ({"GILMOK_DATA_DIR": "/nonexistent/folder"}, "GILMOK_DATA_DIR"),
        ({"GILMOK_COUNTRY_BOUNDS": "130,30,120,40"}, "GILMOK_COUNTRY_BOUNDS"),
        ({"GILMOK_MAX_COVERAGE_RANGE_M": "lots"}, "GILMOK_MAX_COVERAGE_RANGE_M"),
    ],
)
def test_bad_settings_name_the_variable(environ: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigurationError, match=names):
        load_settings(environ)


def test_plain_postgresql_url_uses_psycopg3() -> None:
    settings = load_settings({"GILMOK_DATABASE_URL": "postgresql://a:b@localhost/x"})
    assert settings.database_url.drivername == "postgresql+psycopg"
    assert "b@" not in settings.safe_database_url


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
