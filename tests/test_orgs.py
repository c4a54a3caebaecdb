"""Organizations (geo/store/orgs.py) and the orgs CLI (api/cli/orgs.py): the pilot, keys.

The app runs on the test's rolled-back connection (``create_app(engine=db)``): every request
is a savepoint as the ``gilmok_app`` role, and nothing is left behind.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_world import (
    ACTOR,
)
from click.testing import CliRunner
from scratch_db import database_env, scratch_database
from sqlalchemy.engine import URL, Connection

from api.cli import main
from api.settings import Settings
from geo.store import audit, orgs

pytestmark = pytest.mark.db


def test_seed_pilot_creates_the_pilot_and_links_camera_owners(db: Connection) -> None:
    # As the CCTV and enforcement imports name them (municipal centres, no parent).
    for name in (
        "서울특별시 종로구청",
        "서울특별시 중구",
        "관악구청",
        "서울특별시 동대문경찰서",
        "부산광역시 중구",
        "중구청",
        "경기남부지방경찰청",
        "용인시 수지구청",
    ):
        orgs.create_organization(db, name=name, kind="municipal_centre", actor="import")
    first = orgs.seed_pilot(db, actor=ACTOR)
    assert set(first.created) == {name for name, _, _ in orgs.PILOT_ORGANIZATIONS}
    assert first.linked == {
        "서울특별시 종로구청": orgs.SEOUL_CENTRE,
        "서울특별시 중구": orgs.SEOUL_CENTRE,
        "관악구청": orgs.SEOUL_CENTRE,
        "서울특별시 동대문경찰서": orgs.SEOUL_CENTRE,
        "용인시 수지구청": orgs.YONGIN_CENTRE,
    }
    assert sorted(first.unlinked_owners) == sorted(
        ["부산광역시 중구", "중구청", "경기남부지방경찰청"]
    )
    by_name = {o.name: o for o in orgs.list_organizations(db)}
    assert by_name[orgs.SEOUL_CENTRE].parent_name == orgs.REGIONAL_CENTRE
    assert by_name[orgs.YONGIN_CENTRE].parent_name == orgs.REGIONAL_CENTRE
    assert by_name["제52보병사단"].parent_name == orgs.CAPITAL_DEFENSE_COMMAND
    assert by_name[orgs.REGIONAL_CENTRE].kind == "regional_centre"
    count = len(by_name)

    second = orgs.seed_pilot(db, actor=ACTOR)
    assert second.created == []
    assert second.linked == {}
    assert len(orgs.list_organizations(db)) == count
    assert audit.verify(db).ok


@pytest.fixture
def scratch_url(base_settings: Settings) -> Iterator[URL]:
    with scratch_database(base_settings.owner_database_url) as url:
        yield url


def test_orgs_cli(scratch_url: URL, base_settings: Settings) -> None:
    runner = CliRunner()
    env = database_env(scratch_url, base_settings)

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, list(args), env=env)
        assert result.exit_code == code, result.output
        return result.output

    assert "created  수도권 광역통합운영센터" in run("orgs", "seed-pilot")
    assert "7 present" in run("orgs", "seed-pilot")
    run("orgs", "create", "gilmok 운영", "--kind", "admin")
    run(
        "orgs",
        "create",
        "서울특별시 종로구청",
        "--kind",
        "municipal_centre",
        "--parent",
        orgs.SEOUL_CENTRE,
        "--auto-approve",
        "terrorism",
        "--auto-approve",
        "alert_level_2",
    )
    assert "exists already" in run("orgs", "create", "gilmok 운영", "--kind", "admin", code=1)
    assert "no organization" in run(
        "orgs", "create", "x", "--kind", "police", "--parent", "nope", code=1
    )
    key = run("orgs", "key", "제56보병사단", "--role", "requester").strip().splitlines()[-1]
    assert key.startswith("gk_")
    assert "cannot belong" in run("orgs", "key", "제56보병사단", "--role", "admin", code=1)
    listing = run("orgs", "list")
    assert "서울특별시 종로구청 <- 서울특별시 스마트도시통합운영센터" in listing
    assert "auto-approve: terrorism, alert_level_2" in listing
    assert "1 keys  제56보병사단" in listing
    run("orgs", "revoke-key", key.split("_")[1])
    assert "was revoked at" in run("orgs", "revoke-key", key.split("_")[1], code=1)
    assert "audit chain intact" in run("audit", "verify")
