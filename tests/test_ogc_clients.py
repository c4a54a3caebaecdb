"""Real OGC API – Features clients read gilmok: GDAL's OAPIF driver (through pyogrio) and
OWSLib, against ``gilmok serve`` on a loopback port, with the API key in a header.

Each reads ``cameras`` within a bbox, page after page, and must end with exactly the cameras
PostGIS finds in that box. The database is a committed scratch database holding the real Mapo
roads and the Seoul cameras in them (the serve is another process).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyogrio
import pytest
from mapo_world import build_mapo_world
from scratch_db import database_env, scratch_database
from sqlalchemy import text
from sqlalchemy.engine import URL

from geo.settings import Settings
from geo.store import connect

pytestmark = pytest.mark.db
ROOT = Path(__file__).resolve().parents[1]
#: Most of the Mapo roads' extent (around Gongdeok), lon/lat.
BOX = (126.947, 37.539, 126.969, 37.558)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Served:
    def __init__(self, url: URL, base: str, key: str) -> None:
        self.url, self.base, self.key = url, base, key

    def postgis(self, sql: str, **params: Any) -> list[int]:
        engine = connect(self.url)
        try:
            with engine.connect() as conn:
                return [int(i) for i in conn.execute(text(sql), params).scalars()]
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def served(
    base_settings: Settings, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    with scratch_database(base_settings.owner_database_url) as url:
        engine = connect(url)
        with engine.begin() as conn:
            key = build_mapo_world(conn, data_dir, base_settings).keys["planner"]
        engine.dispose()
        port = _free_port()
        log = tmp_path_factory.mktemp("serve") / "serve.log"
        env = {**os.environ, **database_env(url, base_settings), "PYTHONUNBUFFERED": "1",
               "GILMOK_RATE_LIMIT": "off"}  # fmt: skip
        command = [sys.executable, "-m", "api.cli", "serve", "--workers", "1", "--port", str(port)]
        with log.open("wb") as out:
            server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=out)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                assert server.poll() is None, log.read_text()
                assert time.monotonic() < deadline, log.read_text()
                try:
                    urllib.request.urlopen(f"{base}/healthz", timeout=5).close()
                    break
                except urllib.error.HTTPError:
                    break
                except OSError:
                    time.sleep(0.2)
            yield Served(url, base, key)
        finally:
            server.terminate()
            server.wait(timeout=30)


def _in_box_lonlat(served: Served) -> list[int]:
    return served.postgis(
        "SELECT id FROM camera WHERE status <> 'retired' AND ST_Intersects("
        " ST_Transform(position, 4326), ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)) ORDER BY id",
        **dict(zip(("x0", "y0", "x1", "y1"), BOX, strict=True)),
    )


def test_gdal_oapif_reads_every_camera_in_a_bbox(served: Served) -> None:
    expected = _in_box_lonlat(served)
    assert len(expected) > 100
    source = f"OAPIF:{served.base}/ogc"
    pyogrio.set_gdal_config_options({"GDAL_HTTP_HEADERS": f"Authorization: Bearer {served.key}"})
    try:
        layers = {name for name, _ in pyogrio.list_layers(source)}
        assert {"cameras", "coverage-observe", "roads"} <= layers
        info = pyogrio.read_info(source, layer="cameras")
        frame = (
            pyogrio.read_dataframe(
                source, layer="cameras", bbox=BOX, columns=["id", "kind"], fid_as_index=False
            )
            if info["crs"] in ("OGC:CRS84", "EPSG:4326")
            else None
        )
    finally:
        pyogrio.set_gdal_config_options({"GDAL_HTTP_HEADERS": None})
    assert frame is not None, info["crs"]
    assert sorted(frame["id"].astype(int)) == expected
    assert frame["id"].is_unique


def test_gdal_without_the_key_is_refused(served: Served) -> None:
    with pytest.raises(pyogrio.errors.DataSourceError):
        pyogrio.list_layers(f"OAPIF:{served.base}/ogc")


def test_owslib_pages_through_every_camera_in_a_bbox(served: Served) -> None:
    from owslib.ogcapi.features import Features

    expected = _in_box_lonlat(served)
    api = Features(f"{served.base}/ogc", headers={"Authorization": f"Bearer {served.key}"})
    assert "cameras" in {c["id"] for c in api.collections()["collections"]}
    assert (
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
        in (api.conformance()["conformsTo"])
    )
    ids: list[int] = []
    params: dict[str, Any] = {"bbox": list(BOX), "limit": 40}
    pages = 0
    while True:
        page = api.collection_items("cameras", **params)
        pages += 1
        assert page["numberMatched"] == len(expected)
        ids.extend(f["id"] for f in page["features"])
        nxt = next((link["href"] for link in page["links"] if link["rel"] == "next"), None)
        if nxt is None:
            break
        params["cursor"] = parse_qs(urlsplit(nxt).query)["cursor"][0]
    assert ids == expected
    assert pages == -(-len(expected) // 40)
