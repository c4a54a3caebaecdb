"""No request holds a worker for long, and no key spends more than its share (issue 12, items 6
and 9): the bounding-box statements keep their GiST plan when PostgreSQL caches a generic one
and find exactly what lies in the box; every request's statements run under a timeout that
answers 503 in the error shape with nothing written; per-key rate limits, refused feed requests
counted strictly, taken in leases that never admit more than the limit.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from real_registry import real_registry_url
from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, Engine

from api import create_app
from api.keys import issue_api_key
from api.settings import Settings
from geo.crs import DEFAULT_COUNTRY_BOUNDS
from geo.store import audit, connect, orgs
from geo.store.cameras import _box_params

pytestmark = pytest.mark.db

ACTOR = "test"
ERROR_KEYS = {"code", "message", "details"}
# Central Seoul, about 4.4 × 5.5 km: a few thousand cameras of the real registry.
BOX = (126.95, 37.55, 127.0, 37.6)
CENTRAL_SEOUL = [
    [126.96, 37.555],
    [127.0, 37.555],
    [127.0, 37.58],
    [126.96, 37.58],
    [126.96, 37.555],
]


@pytest.fixture(scope="module")
def registry_url(base_settings: Settings, data_dir: Path) -> URL:
    """A committed database holding the real Seoul registry (shared by the run)."""
    return real_registry_url(base_settings.owner_database_url, data_dir)


@pytest.fixture(scope="module")
def registry_engine(registry_url: URL) -> Iterator[Engine]:
    engine = connect(registry_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def generic_engine(registry_url: URL) -> Iterator[Engine]:
    """One pooled connection to the real Seoul registry on which PostgreSQL always uses the
    generic plan of a prepared statement (psycopg prepares one after its fifth run)."""
    engine = connect(
        registry_url,
        pool_size=1,
        max_overflow=0,
        connect_args={"connect_timeout": 5, "options": "-c plan_cache_mode=force_generic_plan"},
    )
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def planner_key(generic_engine: Engine) -> str:
    with generic_engine.begin() as conn:
        name = f"plan test {time.monotonic_ns()}"
        orgs.create_organization(conn, name=name, kind="planner", actor=ACTOR)
        return issue_api_key(conn, organization=name, role="planner", actor=ACTOR)[1]


def _plan_nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _plan_nodes(child)


def _literal(value: Any) -> str:
    """SQL text of a test value (EXECUTE's arguments cannot be bound parameters)."""
    if isinstance(value, bytes):
        return f"'\\x{value.hex()}'::bytea"
    if isinstance(value, str):
        return f"'{value}'"
    return repr(float(value)) if isinstance(value, float) else str(int(value))


def _prepared(conn: Connection, opening: str) -> tuple[str, int]:
    # found by its text with the whitespace collapsed: its .sql file lays it out on many lines
    row = conn.execute(
        text(
            "SELECT name, generic_plans FROM pg_prepared_statements"
            " WHERE regexp_replace(statement, '\\s+', ' ', 'g') LIKE '%' || :opening || '%'"
        ),
        {"opening": opening},
    ).one()
    return str(row.name), int(row.generic_plans)


@pytest.mark.parametrize(
    ("path", "opening", "index", "params"),
    [
        (
            "/v1/cameras",
            "WITH page AS MATERIALIZED ( SELECT c.id FROM camera c",
            "ix_camera_position",
            ["outline", "ix0", "iy0", "ix1", "iy1", "after", "limit"],
        ),
        (
            "/v1/coverage",
            "WITH page AS MATERIALIZED ( SELECT v.id FROM coverage v",
            "ix_coverage_geom",
            ["outline", "ix0", "iy0", "ix1", "iy1", "level", "after", "limit"],
        ),
    ],
)
def test_bbox_requests_keep_the_gist_plan_when_the_plan_is_generic(
    generic_engine: Engine,
    planner_key: str,
    base_settings: Settings,
    path: str,
    opening: str,
    index: str,
    params: list[str],
) -> None:
    app = create_app(base_settings, engine=generic_engine, relay=None)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {planner_key}"}
    url = f"{path}?bbox={','.join(map(str, BOX))}&limit=500"
    seconds = []
    for _ in range(20):
        start = time.perf_counter()
        response = client.get(url, headers=headers)
        seconds.append(time.perf_counter() - start)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        assert len(response.json["features"]) == 500
    # The statement the requests ran, prepared on the one pooled connection, planned generically:
    # the box is projected once (an InitPlan), and the GiST index condition takes it.
    with generic_engine.connect() as conn:
        name, _ = _prepared(conn, opening)
        values = {**_box_params(BOX), "level": "observe", "after": 0, "limit": 500}
        args = ", ".join(_literal(values[p]) for p in params)
        explained = conn.execute(text(f"EXPLAIN (FORMAT JSON) EXECUTE {name}({args})")).scalar_one()
        _, generic_plans = _prepared(conn, opening)
    assert generic_plans >= 15
    nodes = list(_plan_nodes(explained[0]["Plan"]))
    assert any(n.get("Index Name") == index for n in nodes), json.dumps(explained, indent=1)
    for node in nodes:
        for key in ("Filter", "Index Cond", "Join Filter", "Recheck Cond"):
            assert "st_transform" not in node.get(key, "").lower(), (key, node[key])
    # the old generic plan took seconds per request here; the bound is generous on purpose
    assert max(seconds) < 2.0, seconds


@pytest.fixture
def timed_app(registry_engine: Engine, base_settings: Settings) -> Flask:
    """The app on a committed database (the lock below must be another session's), its
    statements limited to 300 ms."""
    return create_app(
        base_settings.with_overrides(request_statement_timeout_ms=300),
        engine=registry_engine,
        relay=None,
    )


def _key(engine: Engine, role: str, kind: str) -> dict[str, str]:
    name = f"timeout test {role} {time.monotonic_ns()}"
    with engine.begin() as conn:
        org = orgs.create_organization(conn, name=name, kind=kind, actor=ACTOR)
        if kind == "regional_centre":  # it activates only inside its service area
            orgs.set_service_area_from(
                conn, organization_id=org.id, sido=["서울특별시"],
                country_bounds=DEFAULT_COUNTRY_BOUNDS, actor=ACTOR,
            )  # fmt: skip
        key = issue_api_key(conn, organization=name, role=role, actor=ACTOR)[1]
    return {"Authorization": f"Bearer {key}"}


def _held(engine: Engine, sql: str, release_after_s: float) -> tuple[threading.Event, Any]:
    """Another session holds a lock (``sql``) until the test ends or ``release_after_s``."""
    taken, done = threading.Event(), threading.Event()

    def hold() -> None:
        with engine.connect() as conn, conn.begin():
            conn.execute(text(sql))
            taken.set()
            done.wait(release_after_s)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    assert taken.wait(10)
    return done, thread


def test_a_statement_past_the_timeout_is_503_and_writes_nothing(
    timed_app: Flask, registry_engine: Engine
) -> None:
    engine = registry_engine
    headers = _key(engine, "regional_centre", "regional_centre")
    reference = f"timeout test {time.monotonic_ns()}"
    now = dt.datetime.now(dt.UTC)
    body = {
        "basis": "alert_level_2",
        "reference": reference,
        "area": {"type": "Polygon", "coordinates": [CENTRAL_SEOUL]},
        "starts_at": (now - dt.timedelta(hours=1)).isoformat(),
        "ends_at": (now + dt.timedelta(days=1)).isoformat(),
    }
    # The activation row is inserted, then its audit record waits for the chain's lock, which
    # another session holds: the wait is cut at 300 ms (without a timeout it would last 10 s).
    done, thread = _held(engine, f"SELECT pg_advisory_xact_lock({audit._LOCK_KEY})", 10.0)
    try:
        start = time.monotonic()
        response = timed_app.test_client().post("/v1/activations", json=body, headers=headers)
        elapsed = time.monotonic() - start
    finally:
        done.set()
        thread.join()
    assert response.status_code == 503, response.get_data(as_text=True)[:300]
    assert set(response.json) == ERROR_KEYS
    assert response.json["code"] == "statement_timeout"
    assert response.headers["Retry-After"]
    assert elapsed < 5, elapsed
    with engine.connect() as conn:
        left = conn.execute(
            text("SELECT count(*) FROM activation WHERE reference = :r"), {"r": reference}
        ).scalar_one()
        # the pooled connection does not keep the request's limit (SET LOCAL)
        assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "0"
    assert left == 0
    # and the same request, unblocked, goes through
    response = timed_app.test_client().post("/v1/activations", json=body, headers=headers)
    assert response.status_code == 201, response.json


def _bearer(db: Connection, name: str, kind: str, role: str) -> dict[str, str]:
    orgs.create_organization(db, name=name, kind=kind, actor=ACTOR)
    key = issue_api_key(db, organization=name, role=role, actor=ACTOR)[1]
    return {"Authorization": f"Bearer {key}"}


def test_refused_feed_requests_are_limited_strictly_per_key(
    db: Connection, base_settings: Settings
) -> None:
    """Refusals (4xx) of feed requests count against the key's strict budget; once spent, every
    feed request of that key is 429, while its other requests and other keys go on."""
    app = create_app(
        base_settings.with_overrides(rate_limit="1000/minute", rate_limit_refused_feeds="3/minute"),
        engine=db,
        relay=None,
    )
    client = app.test_client()
    mine, other = (
        _bearer(db, name, "military_unit", "requester") for name in ("제56보병사단", "제52보병사단")
    )
    missing = "/v1/incidents/999999999/feeds"
    for _ in range(3):
        response = client.post(missing, json={"camera_ids": [1]}, headers=mine)
        assert response.status_code == 404, response.json
    response = client.post(missing, json={"camera_ids": [1]}, headers=mine)
    assert response.status_code == 429, response.json
    assert set(response.json) == ERROR_KEYS
    assert response.json["code"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    # the key's other requests, and another key's feed requests, are not refused for it
    assert (
        client.get(f"/v1/cameras?bbox={','.join(map(str, BOX))}", headers=mine).status_code == 200
    )
    assert client.post(missing, json={"camera_ids": [1]}, headers=other).status_code == 404
    # the counters are rows of the shared table, keyed by the key's digest, not the key
    keys = db.execute(text("SELECT key FROM rate_limit_counter")).scalars().all()
    assert keys
    assert not any(mine["Authorization"].split()[1] in k for k in keys)


def test_the_request_limit_counts_every_endpoint_of_a_key(
    db: Connection, base_settings: Settings
) -> None:
    app = create_app(base_settings.with_overrides(rate_limit="4/minute"), engine=db, relay=None)
    client = app.test_client()
    headers = _bearer(db, "서울연구원", "planner", "planner")
    bbox = ",".join(map(str, BOX))
    paths = [f"/v1/cameras?bbox={bbox}", f"/v1/coverage?bbox={bbox}"] * 2
    assert [client.get(p, headers=headers).status_code for p in paths] == [200] * 4
    assert client.get(f"/v1/coverage?bbox={bbox}", headers=headers).status_code == 429
    assert client.get("/healthz").status_code == 200
    # off: no limit at all
    unlimited = create_app(base_settings.with_overrides(rate_limit=None), engine=db, relay=None)
    assert unlimited.test_client().get(paths[0], headers=headers).status_code == 200


@pytest.mark.parametrize(
    "bbox",
    [
        (126.97, 37.56, 126.99, 37.58),  # central Seoul
        (126.5, 37.3, 127.0, 37.8),  # the largest box accepted
        (131.5, 37.0, 132.0, 37.5),  # Ulleungdo-Dokdo, far from UTM-K's central meridian
        (124.6, 33.1, 125.1, 33.6),  # south-west of Jeju
        (126.97, 37.56, 126.970001, 37.560001),  # a hair
    ],
)
def test_the_inner_rectangle_of_a_projected_box_lies_inside_it(
    bbox: tuple[float, float, float, float],
) -> None:
    import shapely

    from geo.crs import projected_box, xy_to_lonlat

    outline, inner = projected_box(bbox)
    assert outline.is_valid
    assert inner is not None
    assert shapely.contains(outline, shapely.box(*inner))
    # its corners are inside the lon/lat box
    lon, lat = xy_to_lonlat([inner[0], inner[2]], [inner[1], inner[3]])
    assert bbox[0] <= lon.min()
    assert lon.max() <= bbox[2]
    assert bbox[1] <= lat.min()
    assert lat.max() <= bbox[3]
    assert shapely.box(*inner).area > 0.9 * outline.area


def test_a_bbox_page_holds_exactly_the_cameras_in_the_box(registry_engine: Engine) -> None:
    """The inner-rectangle shortcut and the exact test together find what lon/lat says."""
    from geo.store.cameras import cameras_in_bbox, coverage_in_bbox

    box = (126.9, 37.5, 127.05, 37.62)
    with registry_engine.connect() as conn:
        expected = conn.execute(
            text(
                "SELECT array_agg(id ORDER BY id) FROM ("
                " SELECT id, ST_Transform(position, 4326) AS p FROM camera"
                " WHERE status <> 'retired') c"
                " WHERE ST_X(p) BETWEEN :x0 AND :x1 AND ST_Y(p) BETWEEN :y0 AND :y1"
            ),
            dict(zip(("x0", "y0", "x1", "y1"), box, strict=True)),
        ).scalar_one()
        found = [f["id"] for f in cameras_in_bbox(conn, box, limit=100_000)]
        covered = coverage_in_bbox(conn, box, limit=100_000)
    assert len(expected) > 1000
    assert found == expected
    # every camera in the box has its coverage polygon meet the box
    assert {f["properties"]["camera_id"] for f in covered} >= set(expected)


def test_leases_never_let_more_than_the_limit_through(
    db: Connection, base_settings: Settings
) -> None:
    """Two processes' storages spend one key's window in leases of 1 % of the limit: together
    they admit no more than the limit, lose less than a lease each, and send one statement per
    lease rather than per hit."""
    from limits import parse

    from api.rate_limits import LeasedFixedWindow, PostgresStorage

    app = create_app(base_settings, engine=db, relay=None)
    item = parse("1000/minute")
    sent: list[str] = []
    event.listen(db, "before_cursor_execute", lambda *a: sent.append(a[2]))
    with app.test_request_context():
        workers = [LeasedFixedWindow(PostgresStorage()) for _ in range(2)]
        admitted = sum(workers[i % 2].hit(item, "key:test", "global") for i in range(1500))
    upserts = [s for s in sent if s.startswith("INSERT INTO rate_limit_counter")]
    assert 1000 - 2 * 9 <= admitted <= 1000
    # a lease of 10 hits each, and the refused ones cost nothing once the window is spent
    assert len(upserts) <= 1000 // 10 + 2


def test_a_retired_cameras_coverage_leaves_the_page(registry_engine: Engine) -> None:
    """The anti-join on the retired cameras' index keeps their coverage out, as the join did."""
    from geo.store.cameras import cameras_in_bbox, coverage_in_bbox

    box = (126.97, 37.57, 126.98, 37.58)
    with registry_engine.connect() as conn, conn.begin() as outer:
        before = {f["properties"]["camera_id"] for f in coverage_in_bbox(conn, box, limit=5000)}
        retired = min(before)
        conn.execute(text("UPDATE camera SET status = 'retired' WHERE id = :id"), {"id": retired})
        after = {f["properties"]["camera_id"] for f in coverage_in_bbox(conn, box, limit=5000)}
        cameras = {f["id"] for f in cameras_in_bbox(conn, box, limit=5000)}
        outer.rollback()
    assert after == before - {retired}
    assert retired not in cameras
