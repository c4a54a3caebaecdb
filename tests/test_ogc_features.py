"""OGC API – Features at /ogc on the real Mapo roads and the real Seoul cameras in them.

Checked against PostGIS itself: every link of every document resolves; paging ``cameras``
through a bbox gives exactly the cameras PostGIS finds in that box, each once, also while
cameras are added and retired between pages; ``prev`` walks back the same pages; the output
CRSs put each camera where PostGIS's own transform does, in the CRS's axis order.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mapo_world import MapoWorld, mapo_fixtures
from sqlalchemy import text
from sqlalchemy.engine import Connection

pytestmark = pytest.mark.db

#: Most of the Mapo roads' extent (around Gongdeok).
BOX = (126.947, 37.539, 126.969, 37.558)


world, db, app, client = mapo_fixtures()


def _path(href: str) -> str:
    parts = urlsplit(href)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _get(client: FlaskClient, world: MapoWorld, url: str, who: str = "admin") -> Any:
    response = client.get(_path(url), headers=world.headers(who))
    assert response.status_code == 200, (url, response.status_code, response.get_data()[:400])
    return response


def cameras_in_box(db: Connection, box: tuple[float, float, float, float]) -> list[int]:
    """PostGIS's own answer: the non-retired cameras whose position lies in the lon/lat box."""
    return list(
        db.execute(
            text(
                "SELECT id FROM camera WHERE status <> 'retired' AND ST_Intersects("
                " ST_Transform(position, 4326), ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326))"
                " ORDER BY id"
            ),
            dict(zip(("x0", "y0", "x1", "y1"), box, strict=True)),
        ).scalars()
    )


def _json(response: Any) -> Any:
    body: Any = response.json
    return body


def _page_through(
    client: FlaskClient, world: MapoWorld, url: str, *, between: Any = None
) -> tuple[list[int], list[dict[str, Any]]]:
    ids: list[int] = []
    pages = []
    while url:
        page = _get(client, world, url).json
        pages.append(page)
        assert page["numberReturned"] == len(page["features"])
        ids.extend(f["id"] for f in page["features"])
        url = next((link["href"] for link in page["links"] if link["rel"] == "next"), "")
        if between is not None and url:
            between(len(pages))
    return ids, pages


def test_every_link_resolves_and_the_documents_say_what_ogc_asks(
    client: FlaskClient, world: MapoWorld
) -> None:
    landing = _get(client, world, "/ogc").json
    rels = {link["rel"]: link for link in landing["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= set(rels)
    seen: set[str] = set()
    todo = [link["href"] for link in landing["links"]]
    while todo:
        href = todo.pop()
        if _path(href) in seen:
            continue
        seen.add(_path(href))
        response = _get(client, world, href)
        if response.is_json and isinstance(response.json, dict):
            body = response.json
            todo.extend(
                link["href"] for link in body.get("links", []) if "cursor" not in link["href"]
            )
            for collection in body.get("collections", []):
                todo.extend(link["href"] for link in collection["links"])
    conformance = _get(client, world, rels["conformance"]["href"]).json["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in conformance
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in conformance
    collections = {c["id"]: c for c in _get(client, world, "/ogc/collections").json["collections"]}
    assert {"cameras", "coverage-observe", "roads", "incidents"} <= set(collections)
    for collection in collections.values():
        assert "http://www.opengis.net/def/crs/OGC/1.3/CRS84" in collection["crs"]
        assert "http://www.opengis.net/def/crs/EPSG/0/5179" in collection["crs"]
        assert "/ogc/collections/" + collection["id"] + "/items" in seen
    items = client.get("/ogc/collections/roads/items?limit=3", headers=world.headers("planner"))
    assert items.mimetype == "application/geo+json"
    assert items.headers["Content-Crs"] == "<http://www.opengis.net/def/crs/OGC/1.3/CRS84>"
    feature = _json(items)["features"][0]
    assert feature["geometry"]["type"] == "LineString"
    one = _get(client, world, f"/ogc/collections/roads/items/{feature['id']}").json
    assert one["geometry"] == feature["geometry"]
    assert one["properties"] == feature["properties"]


def test_paging_a_bbox_gives_exactly_the_cameras_postgis_finds(
    client: FlaskClient, world: MapoWorld, db: Connection
) -> None:
    expected = cameras_in_box(db, BOX)
    assert len(expected) > 100
    bbox = ",".join(map(str, BOX))
    ids, pages = _page_through(
        client, world, f"/ogc/collections/cameras/items?bbox={bbox}&limit=37"
    )
    assert ids == expected  # same ids, in id order: none twice, none missed
    assert all(p["numberMatched"] == len(expected) for p in pages)
    assert len(pages) == -(-len(expected) // 37)
    # prev walks the same pages back
    url = next(link["href"] for link in pages[-1]["links"] if link["rel"] == "self")
    back: list[list[int]] = []
    while url:
        page = _get(client, world, url).json
        back.append([f["id"] for f in page["features"]])
        url = next((link["href"] for link in page["links"] if link["rel"] == "prev"), "")
    assert back[::-1] == [[f["id"] for f in p["features"]] for p in pages]


def test_rows_added_and_retired_between_pages_neither_repeat_nor_skip(
    client: FlaskClient, world: MapoWorld, db: Connection
) -> None:
    before = cameras_in_box(db, BOX)
    added: list[int] = []
    retired: list[int] = []

    def change(pages_read: int) -> None:
        x = BOX[0] + (BOX[2] - BOX[0]) * (0.1 + 0.05 * pages_read)
        added.append(
            db.execute(
                text(
                    "INSERT INTO camera (source, source_key, site_key, owner_id, position, kind,"
                    " heading_source) SELECT 'manual', :k, :k, owner_id,"
                    " ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), 4326), 5179), 'dome',"
                    " 'unknown' FROM camera WHERE id = :any RETURNING id"
                ),
                {"k": f"ogc-{pages_read}", "x": x, "y": BOX[1] + 0.005, "any": before[0]},
            ).scalar_one()
        )
        # retire one camera the walk has not reached yet
        victim = before[-1 - pages_read]
        db.execute(text("UPDATE camera SET status = 'retired' WHERE id = :id"), {"id": victim})
        retired.append(victim)

    bbox = ",".join(map(str, BOX))
    ids, _ = _page_through(
        client, world, f"/ogc/collections/cameras/items?bbox={bbox}&limit=50", between=change
    )
    assert len(ids) == len(set(ids))
    stayed = [i for i in before if i not in retired]
    assert [i for i in ids if i in set(before)] == stayed  # every camera present throughout, once
    assert set(added) <= set(ids)  # new ids are higher than any cursor: they come last
    assert not set(retired) & set(ids)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    x0=st.floats(126.945, 126.966),
    y0=st.floats(37.537, 37.556),
    w=st.floats(0.0005, 0.02),
    h=st.floats(0.0005, 0.02),
    limit=st.integers(1, 400),
)
def test_any_box_and_page_size_matches_postgis(
    client: FlaskClient, world: MapoWorld, db: Connection,
    x0: float, y0: float, w: float, h: float, limit: int,
) -> None:  # fmt: skip
    box = (round(x0, 6), round(y0, 6), round(x0 + w, 6), round(y0 + h, 6))
    expected = cameras_in_box(db, box)
    bbox = ",".join(map(str, box))
    ids, pages = _page_through(
        client, world, f"/ogc/collections/cameras/items?bbox={bbox}&limit={limit}"
    )
    assert ids == expected
    assert pages[0]["numberMatched"] == len(expected)


@pytest.mark.parametrize(
    ("uri", "srid", "northing_first"),
    [
        ("http://www.opengis.net/def/crs/OGC/1.3/CRS84", 4326, False),
        ("http://www.opengis.net/def/crs/EPSG/0/4326", 4326, True),
        ("http://www.opengis.net/def/crs/EPSG/0/5179", 5179, True),
        ("http://www.opengis.net/def/crs/EPSG/0/5186", 5186, True),
    ],
)
def test_output_and_bbox_crs_follow_postgis_in_the_crs_axis_order(
    client: FlaskClient, world: MapoWorld, db: Connection, uri: str, srid: int, northing_first: bool
) -> None:
    expected = cameras_in_box(db, BOX)
    rows = db.execute(
        text(
            "SELECT id, ST_X(p) AS x, ST_Y(p) AS y FROM ("
            " SELECT id, ST_Transform(position, :srid) AS p FROM camera WHERE id = ANY(:ids)) s"
        ),
        {"srid": srid, "ids": expected},
    )
    where = {r.id: (r.y, r.x) if northing_first else (r.x, r.y) for r in rows}
    bbox = ",".join(map(str, BOX))
    response = _get(
        client, world, f"/ogc/collections/cameras/items?bbox={bbox}&limit=1000&crs={uri}"
    )
    assert response.headers["Content-Crs"] == f"<{uri}>"
    got = {f["id"]: f["geometry"]["coordinates"] for f in response.json["features"]}
    assert set(got) == set(expected)
    tolerance = 1e-6 if srid == 4326 else 0.002
    for fid, (a, b) in got.items():
        assert abs(a - where[fid][0]) < tolerance
        assert abs(b - where[fid][1]) < tolerance
    # a box around them given in that CRS (its corners, in its axis order) finds them all
    xs, ys = zip(*[where[i] for i in expected], strict=True)
    pad = 1e-5 if srid == 4326 else 1.0
    corner = f"{min(xs) - pad},{min(ys) - pad},{max(xs) + pad},{max(ys) + pad}"
    again = _get(
        client, world,
        f"/ogc/collections/cameras/items?bbox={corner}&bbox-crs={uri}&crs={uri}&limit=1000",
    ).json  # fmt: skip
    assert set(expected) <= {f["id"] for f in again["features"]}


def test_incidents_and_their_approaches_are_scoped_as_the_api_scopes_them(
    client: FlaskClient, world: MapoWorld
) -> None:
    raised = client.post(
        "/v1/incidents",
        json={"location": {"type": "Point", "coordinates": [126.9555, 37.5455]}, "radius_m": 400},
        headers=world.headers("requester"),
    )
    assert raised.status_code == 201, raised.json
    incident = _json(raised)["id"]
    own = _get(client, world, "/ogc/collections/incidents/items", "requester").json
    assert [f["id"] for f in own["features"]] == [incident]
    other = _get(client, world, "/ogc/collections/incidents/items", "other_requester").json
    assert other["features"] == []
    assert other["numberMatched"] == 0
    assert (
        client.get("/ogc/collections/incidents/items", headers=world.headers("planner")).status_code
        == 403
    )
    name = f"incident-{incident}-approaches"
    listed = _get(client, world, "/ogc/collections", "requester").json["collections"]
    assert name in {c["id"] for c in listed}
    approaches = _get(client, world, f"/ogc/collections/{name}/items", "requester").json
    stored = _json(raised)["approaches"]["features"]
    assert len(approaches["features"]) == len(stored) > 0
    assert {f["geometry"]["type"] for f in approaches["features"]} == {"LineString"}
    assert [f["properties"]["label"] for f in approaches["features"]] == [
        f["properties"]["id"] for f in stored
    ]
    for who in ("other_requester", "other_municipal"):  # answered as if it did not exist
        response = client.get(f"/ogc/collections/{name}/items", headers=world.headers(who))
        assert response.status_code == 404, response.json
        assert _json(response)["code"] == "not_found"
    # the owner of the cameras on its record sees it
    centre = _get(client, world, "/ogc/collections/incidents/items", "municipal_centre").json
    watched = any(f["properties"]["cameras"] for f in stored)
    assert ([incident] if watched else []) == [f["id"] for f in centre["features"]]


@pytest.mark.parametrize(
    "query",
    [
        "limit=0", "limit=10001", "limit=ten", "bbox=1,2,3", "bbox=127,37,126,38",
        "bbox=126,37,127,38&bbox-crs=http://www.opengis.net/def/crs/EPSG/0/9999",
        "crs=EPSG:4326", "cursor=bm90LWEtY3Vyc29y", "cursor=a%2Fb", "bbox-crs=[EPSG:5179]",
        "colour=red",
    ],
)  # fmt: skip
def test_bad_parameters_are_400_in_the_one_error_shape(
    client: FlaskClient, world: MapoWorld, query: str
) -> None:
    response = client.get(f"/ogc/collections/cameras/items?{query}", headers=world.headers("admin"))
    assert response.status_code == 400, (query, response.get_data()[:300])
    assert set(_json(response)) == {"code", "message", "details"}


def test_the_same_key_rules_and_unknown_things_are_404(
    client: FlaskClient, world: MapoWorld
) -> None:
    assert client.get("/ogc/collections/cameras/items").status_code == 401
    for landing in ("/ogc", "/ogc/"):  # pasted with or without the slash
        assert client.get(landing, headers={"X-API-Key": world.keys["planner"]}).status_code == 200
    for path in ("/ogc/collections/nope", "/ogc/collections/cameras/items/987654321",
                 "/ogc/collections/incident-987654-approaches/items"):  # fmt: skip
        response = client.get(path, headers=world.headers("admin"))
        assert response.status_code == 404, path
        assert set(_json(response)) == {"code", "message", "details"}
    plain = client.get(
        "/ogc/collections/cameras/items?limit=1",
        headers={**world.headers("admin"), "Accept": "application/json"},
    )
    assert plain.mimetype == "application/json"


def _drawn(db: Connection, level: str, box: tuple[float, float, float, float]) -> dict[int, Any]:
    """Brute force: every camera not retired drawn at ``level`` by geo.index.camera_coverage,
    kept where its polygon meets the lon/lat box (projected, edges followed)."""
    import shapely

    from geo.crs import projected_box
    from geo.index import camera_coverage

    rows = db.execute(
        text(
            "SELECT id, ST_X(ST_Transform(position, 4326)) AS lon,"
            " ST_Y(ST_Transform(position, 4326)) AS lat, kind, heading_deg, heading_source,"
            " fov_deg, pan_min_deg, pan_max_deg, resolution_px_h FROM camera"
            " WHERE status <> 'retired' ORDER BY id"
        )
    ).all()

    def col(name: str) -> list[Any]:
        return [float("nan") if getattr(r, name) is None else getattr(r, name) for r in rows]

    drawn = camera_coverage(
        col("lon"), col("lat"), kind=col("kind"), heading_deg=col("heading_deg"),
        fov_deg=col("fov_deg"), resolution_px_h=col("resolution_px_h"),
        pan_min_deg=col("pan_min_deg"), pan_max_deg=col("pan_max_deg"),
        heading_source=col("heading_source"), level=level, max_range_m=200.0,
    )  # fmt: skip
    outline, _ = projected_box(box)
    meets = shapely.intersects(drawn.polygons, outline)
    return {int(r.id): drawn.polygons[i] for i, r in enumerate(rows) if meets[i]}


@pytest.mark.parametrize(("level", "limit"), [("detect", 30), ("identify", 7), ("recognise", 500)])
def test_coverage_drawn_on_demand_pages_exactly_the_polygons_meeting_the_box(
    client: FlaskClient, world: MapoWorld, db: Connection, level: str, limit: int
) -> None:
    import shapely

    from geo.crs import geometry_to_xy

    box = (126.95, 37.542, 126.96, 37.55)
    expected = _drawn(db, level, box)
    assert len(expected) > 20
    bbox = ",".join(map(str, box))
    ids, pages = _page_through(
        client, world, f"/ogc/collections/coverage-{level}/items?bbox={bbox}&limit={limit}"
    )
    assert ids == sorted(expected)
    assert all(p["numberMatched"] is None for p in pages)
    got = {f["id"]: f for p in pages for f in p["features"]}
    for fid, polygon in expected.items():
        served = geometry_to_xy(np.array([shapely.geometry.shape(got[fid]["geometry"])]))[0]
        assert abs(served.area - polygon.area) < 1e-3 * polygon.area + 0.5
        assert got[fid]["properties"]["level"] == level
    one = _get(client, world, f"/ogc/collections/coverage-{level}/items/{ids[0]}").json
    assert one["geometry"] == got[ids[0]]["geometry"]


def test_levels_nest_and_observe_matches_the_stored_polygons(
    client: FlaskClient, world: MapoWorld, db: Connection
) -> None:
    """The stored observe polygon of each camera is observe drawn the brute-force way, and each
    level's polygon lies inside the weaker level's (detect ⊇ observe ⊇ recognise)."""
    import shapely

    box = (126.95, 37.542, 126.96, 37.55)
    stored = {
        int(r.camera_id): shapely.from_wkb(bytes(r.wkb))
        for r in db.execute(
            text("SELECT camera_id, ST_AsBinary(geom) AS wkb FROM coverage WHERE level = 'observe'")
        )
    }
    drawn = {level: _drawn(db, level, box) for level in ("detect", "observe", "recognise")}
    for cid, polygon in drawn["observe"].items():
        assert abs(stored[cid].area - polygon.area) < 1e-6 * polygon.area + 0.01
    for cid, polygon in drawn["observe"].items():
        assert drawn["detect"][cid].buffer(0.01).covers(polygon)
    for cid, polygon in drawn["recognise"].items():
        assert drawn["observe"][cid].buffer(0.01).covers(polygon)
