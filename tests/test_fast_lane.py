"""The fast lane (``scripts/test --fast``) leaves out every test that needs PostGIS or the relay:
conftest marks the users of their fixtures, modules and parameters mark the rest."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FAST = "not db and not relay and not slow"  # as scripts/test --fast selects


@pytest.mark.slow  # a collection in a fresh process: ~10 s
def test_tests_reaching_the_database_or_the_relay_are_left_out_of_the_fast_lane() -> None:
    files = ["tests/test_relay.py", "tests/test_schema.py", "tests/test_serve.py",
             "tests/test_settings_cli.py"]  # fmt: skip
    env = {**os.environ, "GILMOK_DATABASE_URL": "postgresql://nobody:x@127.0.0.1:1/none"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
         "-m", FAST, *files],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    ids = [line for line in done.stdout.splitlines() if "::" in line]
    # the relay's own tests (the janus fixture), the schema's (engine), the server's (a
    # registry database of its own), and the CLI against the server at 5432
    assert not [i for i in ids if "test_relay.py::test_make_relay" in i]
    assert not [i for i in ids if "test_relay.py::test_media_flows" in i]
    assert not [i for i in ids if i.startswith(("tests/test_schema.py", "tests/test_serve.py"))]
    assert not [i for i in ids if ":5432/" in i]
    # what needs neither stays
    assert "tests/test_relay.py::test_simulated_sources_for_real_cameras" in ids
    assert any("127.0.0.1:1/gilmok" in i for i in ids)
    assert "tests/test_settings_cli.py::test_defaults_are_usable" in ids
