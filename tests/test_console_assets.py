"""The console bundle's files as they go out (``/console/assets/...``), and the page that names
them carrying the signed-in session.

Against the bundle ``scripts/build-console`` builds (it compresses each file ahead of time) and
the real app: a client gets the smallest copy its ``Accept-Encoding`` allows, which decodes to
the very file (brotli decoded by Node's zlib, gzip by Python's); one that accepts neither gets
the file itself; every answer varies by ``Accept-Encoding``, is immutable for a year, and
revalidates by an ETag of its own. The page carries the session's facts (the same as
``GET /v1/session``'s) only to the browser holding its cookie, and no cache may keep it.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
from html import unescape
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy.engine import Connection

from api.console import STATIC_DIR, bundle_manifest
from api.keys import issue_api_key
from geo.store import orgs

pytestmark = pytest.mark.db

ROOT = Path(__file__).resolve().parents[1]
BROWSER = "gzip, deflate, br, zstd"  # what Chromium sends


@pytest.fixture(scope="module")
def manifest() -> dict[str, str]:
    subprocess.run([str(ROOT / "scripts" / "build-console")], check=True, cwd=ROOT)
    found = bundle_manifest()
    assert found is not None
    return found


def unbrotli(data: bytes) -> bytes:
    """Brotli decoded by Node's zlib (the console's build needs Node anyway)."""
    script = (
        "process.stdout.write(require('zlib').brotliDecompressSync(require('fs').readFileSync(0)))"
    )
    return subprocess.run(
        ["node", "-e", script], input=data, capture_output=True, check=True
    ).stdout


@pytest.mark.parametrize("key", ["js", "css", "worker"])
def test_each_file_goes_out_as_small_as_the_client_can_read(
    app: Flask, manifest: dict[str, str], key: str
) -> None:
    name = manifest[key]
    original = (STATIC_DIR / name).read_bytes()
    client = app.test_client()
    path = f"/console/assets/{name}"
    media = "text/css" if key == "css" else "text/javascript"

    sent = {}
    for accept, coding, decode in (
        (BROWSER, "br", unbrotli),
        ("gzip", "gzip", gzip.decompress),
        ("br;q=0, gzip;q=1.0", "gzip", gzip.decompress),
        (None, None, bytes),
        ("identity", None, bytes),
        ("br;q=0, gzip;q=0", None, bytes),
    ):
        headers = {"Accept-Encoding": accept} if accept else {}
        got = client.get(path, headers=headers)
        assert got.status_code == 200
        assert got.headers.get("Content-Encoding") == coding, accept
        assert got.mimetype == media
        assert "Accept-Encoding" in got.headers["Vary"]
        cache_control = got.headers["Cache-Control"]
        assert "immutable" in cache_control
        assert "max-age=31536000" in cache_control
        assert "Content-Disposition" not in got.headers
        assert decode(got.data) == original, accept
        assert int(got.headers["Content-Length"]) == len(got.data)
        sent[coding] = got
    assert len(sent["br"].data) < len(sent["gzip"].data) < len(original) / 2
    etags = {coding: got.headers["ETag"] for coding, got in sent.items()}
    assert len(set(etags.values())) == 3  # a copy's ETag is its own
    again = client.get(path, headers={"Accept-Encoding": BROWSER, "If-None-Match": etags["br"]})
    assert again.status_code == 304
    assert again.data == b""
    # the gzip copy's ETag does not stand for the brotli copy
    other = client.get(path, headers={"Accept-Encoding": BROWSER, "If-None-Match": etags["gzip"]})
    assert other.status_code == 200


def test_the_copies_are_not_files_of_their_own(app: Flask, manifest: dict[str, str]) -> None:
    client = app.test_client()
    for suffix in (".br", ".gz"):
        assert client.get(f"/console/assets/{manifest['js']}{suffix}").status_code == 404
    assert client.get("/console/assets/../__init__.py").status_code == 404
    assert client.get("/console/assets/nothing-here.js").status_code == 404


def _page_data(html: str, name: str) -> object:
    found = re.search(rf'data-{name}="([^"]*)"', html)
    assert found, html
    return json.loads(unescape(found.group(1)))


def test_the_page_carries_the_session_to_its_holder_only(
    app: Flask, db: Connection, manifest: dict[str, str]
) -> None:
    orgs.seed_pilot(db, actor="test")
    _, key = issue_api_key(db, organization=orgs.REGIONAL_CENTRE, role="regional_centre", actor="t")
    client = app.test_client()

    anonymous = client.get("/")
    assert anonymous.status_code == 200
    assert _page_data(anonymous.get_data(as_text=True), "session") is None
    view = _page_data(anonymous.get_data(as_text=True), "view")
    assert isinstance(view, dict)
    assert view["zoom"] == 15

    signed = client.post("/v1/session", json={"api_key": key})
    assert signed.status_code == 200
    page = client.get("/")
    assert page.headers["Cache-Control"] == "no-store"
    assert "Cookie" in page.headers["Vary"]
    html = page.get_data(as_text=True)
    carried = _page_data(html, "session")
    assert carried == client.get("/v1/session").get_json()
    assert isinstance(carried, dict)
    assert carried["role"] == "regional_centre"
    assert carried["csrf_token"] == signed.get_json()["csrf_token"]
    assert key not in html
    assert "<script>" not in html  # data, not script: the policy allows no inline script

    client.delete("/v1/session", headers={"X-CSRF-Token": carried["csrf_token"]})
    assert _page_data(client.get("/").get_data(as_text=True), "session") is None
