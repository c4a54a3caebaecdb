"""Real OGC API – Features clients read gilmok: GDAL's OAPIF driver (through pyogrio) and
OWSLib, against ``gilmok serve`` on a loopback port, with the API key in a header.

Each reads ``cameras`` within a bbox, page after page, and must end with exactly the cameras
PostGIS finds in that box. The database is a committed scratch database holding the real Mapo
roads and the Seoul cameras in them (the serve is another process).
"""

from __future__ import annotations

import json
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

from api.settings import Settings
from geo.crs import lonlat_to_xy
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
    def __init__(self, url: URL, base: str, key: str, log: Path) -> None:
        self.url, self.base, self.key, self.log = url, base, key, log

    def pages_served(self, collection: str) -> int:
        """Item pages of ``collection`` the server answered after the first (access log)."""
        return sum(
            f"/ogc/collections/{collection}/items?" in line
            and "cursor=" in line
            and " 200 " in line
            for line in self.log.read_text(errors="replace").splitlines()
        )

    def postgis(self, sql: str, **params: Any) -> list[int]:
        return [int(i) for i in self.postgis_floats(sql, **params)]

    def postgis_floats(self, sql: str, **params: Any) -> list[float]:
        engine = connect(self.url)
        try:
            with engine.connect() as conn:
                return [float(i) for i in conn.execute(text(sql), params).scalars()]
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
            yield Served(url, base, key, log)
        finally:
            server.terminate()
            server.wait(timeout=30)


def _walk(url: str, key: str) -> list[int]:
    """Feature ids of every page from ``url`` on, following next links (plain HTTP)."""
    ids: list[int] = []
    next_url: str | None = url
    while next_url:
        request = urllib.request.Request(next_url, headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(request, timeout=60) as response:
            page = json.load(response)
        ids.extend(f["id"] for f in page["features"])
        next_url = next((x["href"] for x in page["links"] if x["rel"] == "next"), None)
    return sorted(ids)


def _in_box_lonlat(served: Served) -> list[int]:
    return served.postgis(
        "SELECT id FROM camera WHERE status <> 'retired' AND ST_Intersects("
        " ST_Transform(position, 4326), ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326)) ORDER BY id",
        **dict(zip(("x0", "y0", "x1", "y1"), BOX, strict=True)),
    )


def test_gdal_oapif_reads_every_camera_in_a_bbox(served: Served) -> None:
    """GDAL takes the storage CRS (EPSG:5179, northing first on the wire) as the layer's CRS
    by default; asked for CRS84 (open option CRS), it reads longitude and latitude."""
    source = f"OAPIF:{served.base}/ogc"
    # GDAL_HTTP_HEADERS does not reach the server through the OAPIF driver of GDAL 3.12 (the
    # driver's own Accept header replaces it); GDAL_HTTP_AUTH=BEARER does, as does a header file
    auth = {"GDAL_HTTP_AUTH": "BEARER", "GDAL_HTTP_BEARER": served.key}
    x0, y0 = lonlat_to_xy([BOX[0]], [BOX[1]])
    x1, y1 = lonlat_to_xy([BOX[2]], [BOX[3]])
    box_m = (float(x0[0]), float(y0[0]), float(x1[0]), float(y1[0]))
    pyogrio.set_gdal_config_options(auth)
    try:
        layers = {name for name, _ in pyogrio.list_layers(source)}
        levels = {f"coverage-{level}" for level in ("detect", "observe", "recognise", "identify")}
        assert layers == {"cameras", "roads", *levels}  # a planner: no incidents
        assert pyogrio.read_info(source, layer="cameras")["crs"] == "EPSG:5179"
        metres = pyogrio.read_dataframe(
            source, layer="cameras", bbox=box_m, fid_as_index=True, PAGE_SIZE="25"
        )
        identify = pyogrio.read_dataframe(
            source, layer="coverage-identify", bbox=box_m, fid_as_index=True, PAGE_SIZE="10"
        )
        degrees = pyogrio.read_dataframe(
            source, layer="cameras", bbox=BOX, fid_as_index=True, CRS="OGC:CRS84"
        )
    finally:
        pyogrio.set_gdal_config_options(dict.fromkeys(auth))
    in_metres = served.postgis(
        "SELECT id FROM camera WHERE status <> 'retired' AND ST_Intersects(position,"
        " ST_MakeEnvelope(:x0, :y0, :x1, :y1, 5179)) ORDER BY id",
        **dict(zip(("x0", "y0", "x1", "y1"), box_m, strict=True)),
    )
    assert len(in_metres) > 100
    # GDAL followed every next link: the pages after the first
    assert served.pages_served("cameras") == -(-len(in_metres) // 25) - 1
    assert sorted(metres.index.astype(int)) == in_metres
    assert metres.index.is_unique  # GDAL reads the integer feature id as its FID
    # where GDAL put each camera is where PostGIS has it (the axes were read in their order)
    xs = dict(zip(metres.index.astype(int), metres.geometry.x, strict=True))
    for cid, x in zip(
        in_metres,
        served.postgis_floats(
            "SELECT ST_X(position) FROM camera WHERE id = ANY(:ids) ORDER BY id", ids=in_metres
        ),
        strict=True,
    ):
        assert abs(xs[cid] - x) < 0.002
    assert sorted(degrees.index.astype(int)) == _in_box_lonlat(served)
    # coverage drawn on demand (no numberMatched): GDAL pages it to the end, each polygon once
    assert identify.index.is_unique
    assert set(identify.geometry.geom_type) == {"Polygon"}
    walked = _walk(
        f"{served.base}/ogc/collections/coverage-identify/items?limit=1000&bbox-crs="
        "http://www.opengis.net/def/crs/EPSG/0/5179&bbox="
        + ",".join(map(str, (box_m[1], box_m[0], box_m[3], box_m[2]))),
        served.key,
    )
    assert sorted(identify.index.astype(int)) == walked
    assert len(walked) > 10
    assert degrees.geometry.x.between(BOX[0], BOX[2]).all()


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
