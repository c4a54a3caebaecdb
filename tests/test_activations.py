"""An activation that runs out on its own (its end passes, nobody ends it) is announced, once:
the loop records it (:func:`geo.store.activations.record_ran_out`, ``activation.expired`` in the
audit trail) and every event stream then carries ``activation.ended`` with state ``expired``,
as it carries one ended by hand, so the consoles learn it is no longer in force."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from shapely.geometry import MultiPolygon, box
from sqlalchemy.engine import Connection

from geo.store import audit, audit_events, orgs
from geo.store.activations import create_activation, end_activation, record_ran_out

pytestmark = pytest.mark.db

CENTRAL_SEOUL = MultiPolygon([box(126.96, 37.56, 126.99, 37.58)])


def test_an_activation_that_runs_out_is_announced_once(db: Connection) -> None:
    issuer = orgs.create_organization(
        db, name=f"관리자 {uuid.uuid4().hex[:6]}", kind="admin", actor="test"
    )
    now = dt.datetime.now(dt.UTC)

    def activation(minutes: float) -> int:
        made = create_activation(
            db,
            basis="alert_level_2",
            reference=f"test {uuid.uuid4().hex[:6]}",
            area=CENTRAL_SEOUL,
            starts_at=now - dt.timedelta(minutes=1),
            ends_at=now + dt.timedelta(minutes=minutes),
            issuer_id=issuer.id,
            actor="test",
        )
        return made.id

    runs_out = activation(1)
    ended_by_hand = activation(1)
    later = activation(10)
    end_activation(db, ended_by_hand, actor="test", organization_id=issuer.id, reason="over")
    head = audit_events.head(db)

    assert record_ran_out(db, actor="loop", now=now + dt.timedelta(seconds=30)) == []
    assert record_ran_out(db, actor="loop", now=now + dt.timedelta(minutes=2)) == [runs_out]
    assert record_ran_out(db, actor="loop", now=now + dt.timedelta(minutes=3)) == []  # once

    events, _ = audit_events.events_after(db, head)
    announced = [(e.type, e.data["activation_id"], e.data["state"]) for e in events]
    assert announced == [("activation.ended", runs_out, "expired")]
    assert events[0].audience is None  # every reader of activations, as for one ended by hand
    assert later not in [e.data["activation_id"] for e in events]
    assert audit.verify(db).ok  # the records the loop adds keep the chain whole


def test_one_that_ran_out_long_before_the_loop_ran_is_not_announced_late(
    db: Connection,
) -> None:
    issuer = orgs.create_organization(
        db, name=f"관리자 {uuid.uuid4().hex[:6]}", kind="admin", actor="test"
    )
    now = dt.datetime.now(dt.UTC)
    made = create_activation(
        db,
        basis="terrorism",
        reference="old",
        area=CENTRAL_SEOUL,
        starts_at=now - dt.timedelta(minutes=1),
        ends_at=now + dt.timedelta(minutes=1),
        issuer_id=issuer.id,
        actor="test",
    )
    assert record_ran_out(db, actor="loop", now=now + dt.timedelta(hours=3)) == []
    assert record_ran_out(db, actor="loop", now=now + dt.timedelta(minutes=30)) == [made.id]
