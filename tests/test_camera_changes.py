"""The camera change log (:mod:`geo.store.camera_changes`): every change is a row of its own in
sequence, what a listener reads back is the cameras' current state, and a camera a centre adds
is a live change, not a new registry version (no process reloads its snapshot for it), while a
camera imported or inserted otherwise still is.
"""

from __future__ import annotations

from mapo_world import MAPO_POINT, MapoWorld, mapo_fixtures
from sqlalchemy import text
from sqlalchemy.engine import Connection

from geo.store import camera_changes
from geo.store.cameras import registry_version

ACTOR = "test"


world, db = mapo_fixtures()[:2]


def test_changes_are_read_back_in_sequence_as_current_state(
    world: MapoWorld, db: Connection
) -> None:
    owner = world.orgs["municipal_centre"]
    a, b = db.execute(
        text("SELECT id FROM camera WHERE owner_id = :o ORDER BY id LIMIT 2"), {"o": owner}
    ).scalars()
    start = camera_changes.latest_seq(db)
    common = {"owner_id": owner, "organization_id": owner, "actor": ACTOR}
    first = camera_changes.set_statuses(
        db, [(a, "offline", "x"), (b, "maintenance", "y")], **common
    )
    # In sequence (a sequence may skip numbers a rolled-back transaction took: not gapless).
    assert start < first[0].seq < first[1].seq
    (moved,) = camera_changes.correct_cameras(db, [(a, {"heading_deg": 33.0})], via="api", **common)
    assert moved.seq > first[1].seq
    upto, rows = camera_changes.changed_since(db, start)
    assert upto == moved.seq
    state = rows.set_index("id")
    assert sorted(state.index) == sorted([a, b])  # one row a camera, however many changes
    assert state.loc[a, "status"] == "offline"
    assert state.loc[a, "heading_deg"] == 33.0
    assert state.loc[a, "heading_source"] == "surveyed"
    assert state.loc[b, "status_reason"] == "y"
    assert camera_changes.changed_since(db, upto)[1].empty
    history = camera_changes.camera_history(db, a)
    assert [h["change"] for h in history] == ["correction", "status"]  # newest first


def test_an_added_camera_is_a_live_change_and_no_new_version(
    world: MapoWorld, db: Connection
) -> None:
    owner = world.orgs["municipal_centre"]
    before = registry_version(db)
    lon, lat = MAPO_POINT
    added = camera_changes.add_camera(
        db, owner_id=owner, organization_id=owner, actor=ACTOR, via="api", lon=lon, lat=lat,
        kind="dome", source_key="added-by-centre",
    )  # fmt: skip
    assert registry_version(db) == before
    coverage = db.execute(
        text("SELECT count(*) FROM coverage WHERE camera_id = :c"), {"c": added.camera_id}
    ).scalar_one()
    assert coverage == 1
    removed = camera_changes.remove_camera(
        db, added.camera_id, owner_id=owner, organization_id=owner, actor=ACTOR, via="api"
    )
    assert removed.outcome == "changed"
    _, rows = camera_changes.changed_since(db, added.seq - 1)
    assert rows.set_index("id").loc[added.camera_id, "status"] == "retired"
    # a camera inserted by other means than the change log is a new version, as before
    db.execute(
        text(
            "INSERT INTO camera (source, source_key, site_key, owner_id, position, kind,"
            " heading_source) VALUES ('manual', 'by hand', 'by hand', :o,"
            " ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), 5179), 'dome',"
            " 'unknown')"
        ),
        {"o": owner, "lon": lon, "lat": lat},
    )
    assert registry_version(db) != before
