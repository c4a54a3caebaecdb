"""``GET /v1/cameras`` as a GIS client reads it: ``links`` to the next page, ``numberMatched``,
and GeoJSON's media type when asked — beside ``next_after_id``, which existing clients read."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from mapo_world import MapoWorld, mapo_fixtures
from sqlalchemy import text

from api import create_app
from api.settings import Settings

pytestmark = pytest.mark.db
BOX = (126.947, 37.539, 126.969, 37.558)


world = mapo_fixtures().world


@pytest.fixture
def client(world: MapoWorld, base_settings: Settings) -> FlaskClient:
    return create_app(base_settings, engine=world.conn).test_client()


def test_next_links_walk_the_box_and_number_matched_counts_it(
    client: FlaskClient, world: MapoWorld
) -> None:
    expected = list(
        world.conn.execute(
            text(
                "SELECT id FROM camera WHERE status <> 'retired' AND ST_Intersects("
                " ST_Transform(position, 4326), ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326))"
                " ORDER BY id"
            ),
            dict(zip(("x0", "y0", "x1", "y1"), BOX, strict=True)),
        ).scalars()
    )
    assert len(expected) > 100
    url = "/v1/cameras?bbox=" + ",".join(map(str, BOX)) + "&limit=40"
    ids: list[int] = []
    while url:
        response = client.get(url, headers=world.headers("planner"))
        assert response.status_code == 200
        page: Any = response.json
        assert page["numberMatched"] == len(expected)
        assert page["numberReturned"] == len(page["features"])
        ids.extend(f["id"] for f in page["features"])
        link = next((x["href"] for x in page["links"] if x["rel"] == "next"), None)
        if page["next_after_id"] is None:
            assert link is None
            break
        assert link is not None
        assert f"after_id={page['next_after_id']}" in link
        parts = urlsplit(link)
        url = f"{parts.path}?{parts.query}"
    assert ids == expected


def test_geojson_media_type_when_asked(client: FlaskClient, world: MapoWorld) -> None:
    url = "/v1/cameras?bbox=" + ",".join(map(str, BOX)) + "&limit=5"
    asked = client.get(url, headers={**world.headers("planner"), "Accept": "application/geo+json"})
    assert asked.status_code == 200
    assert asked.mimetype == "application/geo+json"
    plain = client.get(url, headers=world.headers("planner"))
    assert plain.mimetype == "application/json"
