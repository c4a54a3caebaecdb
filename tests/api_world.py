"""The API tests' world: an organization and a key per role, with service areas, and the
helpers those tests share (an activation's body, the one error shape).

The fixtures built on it (``app``, ``client``, ``keys``) are in tests/conftest.py.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.engine import Connection

from api.keys import issue_api_key
from geo.admin_areas import admin_area
from geo.store import orgs

ERROR_KEYS = {"code", "message", "details"}
ACTOR = "test"

# Central Seoul (City Hall, Gwanghwamun, Jongno): an alert-level-2 area.
CENTRAL_SEOUL = {
    "type": "Polygon",
    "coordinates": [
        [[126.96, 37.555], [127.0, 37.555], [127.0, 37.58], [126.96, 37.58], [126.96, 37.555]]
    ],
}
CITY_HALL = (126.9780, 37.5665)
GANGNAM_STATION = (127.0276, 37.4979)


@dataclass
class Keys:
    by_role: dict[str, str]
    other_regional: str
    orgs: dict[str, int]

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.by_role[role]}"}


def make_keys(db: Connection) -> Keys:
    """One organization and key per role (and a second regional centre), each centre with its
    service area, in the test's transaction."""
    made = {
        "admin": ("gilmok 운영", "admin"),
        "regional_centre": (orgs.REGIONAL_CENTRE, "regional_centre"),
        "municipal_centre": ("서울특별시 종로구청", "municipal_centre"),
        "requester": ("제56보병사단", "military_unit"),
        "planner": ("서울연구원", "planner"),
        "auditor": ("감사관실", "admin"),
    }
    by_role, ids = {}, {}
    for role, (name, kind) in made.items():
        org = orgs.create_organization(db, name=name, kind=kind, actor=ACTOR)
        ids[role] = org.id
        by_role[role] = issue_api_key(db, organization=name, role=role, actor=ACTOR)[1]
    chungcheong = orgs.create_organization(
        db, name="충청권 광역통합운영센터", kind="regional_centre", actor=ACTOR
    )
    other = issue_api_key(
        db, organization="충청권 광역통합운영센터", role="regional_centre", actor=ACTOR
    )[1]
    # Every centre serves real ground: the capital region's the pilot's, Chungcheong's its 시도.
    for org_id, sido, sigungu in (
        (ids["regional_centre"], ["서울특별시"], ["용인시"]),
        (ids["municipal_centre"], [], ["서울특별시 종로구"]),
        (chungcheong.id, ["대전광역시", "세종특별자치시", "충청북도", "충청남도"], []),
    ):
        made = admin_area(sido=sido, sigungu=sigungu)
        orgs.set_service_area(
            db,
            organization_id=org_id,
            area=made.area,
            source=orgs.admin_area_source(made.codes),
            actor=ACTOR,
        )
    return Keys(by_role, other, ids)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def activation_body(**changes: Any) -> dict[str, Any]:
    body = {
        "basis": "alert_level_2",
        "reference": "수방사 경계태세 2급 발령 제2026-17호",
        "area": CENTRAL_SEOUL,
        "starts_at": (now() - dt.timedelta(hours=1)).isoformat(),
        "ends_at": (now() + dt.timedelta(days=2)).isoformat(),
    }
    body.update(changes)
    return body


def create_activation(
    client: FlaskClient, keys: Keys, role: str = "regional_centre", **changes: Any
) -> Any:
    response = client.post(
        "/v1/activations", json=activation_body(**changes), headers=keys.headers(role)
    )
    assert response.status_code == 201, response.json
    return response.json


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    body = response.json
    assert set(body) == ERROR_KEYS, body
    assert body["code"] == code, body
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["details"], dict)
    return dict(body)
