"""Survey files of camera headings and fields of view (:mod:`geo.ingest.survey`) and
``gilmok cameras survey``: every row accounted for, bad rows named by line and field, a
rejected file changes nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from mapo_world import build_mapo_world
from scratch_db import database_env, scratch_database
from sqlalchemy import text

from api.settings import Settings
from geo.errors import ImportFileError
from geo.ingest.survey import read_survey
from geo.store import connect

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("encoding", ["cp949", "utf-8-sig", "utf-8"])
def test_a_survey_reads_in_every_encoding_and_names_each_bad_field(encoding: str) -> None:
    data = (
        "카메라ID,방향각,화각\n"
        "11,90,60\n"
        "12,360,\n"  # a heading of 360 is north written wrongly: refused, not wrapped
        "13,,0\n"
        "x1,10,\n"
        "11,10,\n"
        "14,,\n"
        "15,nan,400\n"
        "16,0,360\n"
    ).encode(encoding)
    rows, report = read_survey(data, "survey.csv")
    assert [(r.line, r.camera_id, r.values) for r in rows] == [
        (2, 11, {"heading_deg": 90.0, "fov_deg": 60.0}),
        (9, 16, {"heading_deg": 0.0, "fov_deg": 360.0}),
    ]
    assert [(r.line, r.field) for r in report.rejections] == [
        (3, "방향각"), (4, "화각"), (5, "카메라ID"), (6, "카메라ID"), (7, "방향각"),
        (8, "방향각"), (8, "화각"),
    ]  # fmt: skip
    assert report.rows_read == 8
    assert report.rejected == 6


def test_a_file_that_is_no_survey_is_refused_whole() -> None:
    with pytest.raises(ImportFileError, match="needs camera_id"):
        read_survey(b"id,name\n1,a\n", "other.csv")
    with pytest.raises(ImportFileError, match="empty"):
        read_survey(b"", "empty.csv")


def _gilmok(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


@pytest.mark.db
def test_gilmok_cameras_survey_reports_rejects_whole_files_and_applies_good_ones(
    base_settings: Settings, data_dir: Path, tmp_path: Path
) -> None:
    with scratch_database(base_settings.owner_database_url) as url:
        engine = connect(url)
        with engine.begin() as conn:
            world = build_mapo_world(conn, data_dir, base_settings)
            owner = conn.execute(
                text("SELECT name FROM organization WHERE id = :o"),
                {"o": world.orgs["municipal_centre"]},
            ).scalar_one()
            a, b = conn.execute(
                text("SELECT id FROM camera WHERE owner_id = :o ORDER BY id LIMIT 2"),
                {"o": world.orgs["municipal_centre"]},
            ).scalars()
            foreign = conn.execute(
                text("SELECT id FROM camera WHERE owner_id <> :o ORDER BY id LIMIT 1"),
                {"o": world.orgs["municipal_centre"]},
            ).scalar()
        env = {**os.environ, **database_env(url, base_settings)}
        state = "SELECT heading_deg, heading_source, fov_deg FROM camera WHERE id = ANY(:ids) ORDER BY id"

        def cameras() -> list[tuple[object, ...]]:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(text(state), {"ids": [a, b]})]

        before = cameras()
        bad = tmp_path / "bad.csv"
        lines = ["camera_id,heading_deg,fov_deg", f"{a},45,", f"{b},-5,", "999999999,10,"]
        if foreign is not None:
            lines.append(f"{foreign},10,")
        bad.write_text("\n".join(lines) + "\n", encoding="cp949")
        run = _gilmok(env, "cameras", "survey", str(bad), "--centre", owner)
        assert run.returncode == 1, run.stderr
        out = run.stdout.splitlines()
        assert out[0].startswith(f"bad.csv: {len(lines) - 1} rows read = 1 changed + 0 unchanged")
        assert out[0].endswith("(adds up); file rejected: nothing changed")
        assert any(x.startswith("  line 3: heading_deg ('-5')") for x in out)
        assert any(x.startswith("  line 4: camera_id ('999999999')") for x in out)
        if foreign is not None:
            assert any(x.startswith("  line 5: camera_id") for x in out)
        assert "Traceback" not in run.stderr
        assert cameras() == before

        good = tmp_path / "good.csv"
        good.write_bytes(f"\ufeffcamera_id,heading_deg,fov_deg\n{a},45,\n{b},,80\n".encode())
        dry = _gilmok(env, "cameras", "survey", str(good), "--centre", owner, "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert dry.stdout.strip().endswith("(adds up); dry run: nothing changed")
        assert cameras() == before
        done = _gilmok(env, "cameras", "survey", str(good), "--centre", owner)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == (
            "good.csv: 2 rows read = 2 changed + 0 unchanged + 0 rejected (adds up); applied"
        )
        after = dict(zip([a, b], cameras(), strict=True))
        assert after[a][:2] == (45.0, "surveyed")
        assert after[b][2] == 80.0
        engine.dispose()
