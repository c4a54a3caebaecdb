"""Camera files into PostGIS: reports that add up, idempotent, all-or-nothing, coverage for each."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from api.cli import main
from geo.ingest.cctv import read_cctv
from geo.ingest.enforcement import read_enforcement
from geo.ingest.osm_cameras import read_osm_cameras
from geo.store.imports import import_cameras

pytestmark = pytest.mark.db

COUNTED = ("camera", "coverage", "organization")


def _counts(db: Connection) -> dict[str, int]:
    return {t: db.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in COUNTED}


@pytest.fixture(scope="module")
def seoul(data_dir: Path):  # type: ignore[no-untyped-def]
    return read_cctv(data_dir / "seoul_cctv_2018.csv")


def test_seoul_cctv_lands_and_adds_up(db: Connection, seoul, data_dir: Path) -> None:
    before = _counts(db)
    summary = import_cameras(db, seoul, path=data_dir / "seoul_cctv_2018.csv")
    assert summary.adds_up
    assert summary.rows_read == 21121
    assert summary.rows_rejected == 684
    assert summary.rows_merged == 702
    assert summary.rows_imported == 21121 - 684 - 702
    cameras = len(seoul.cameras)
    assert summary.created["cameras"] == cameras
    assert summary.created["coverage_polygons"] == cameras
    after = _counts(db)
    assert after["camera"] - before["camera"] == cameras
    assert after["coverage"] - before["coverage"] == cameras
    # Every rejected row is reported by line, and the batch row keeps the same numbers.
    stored = db.execute(
        text("SELECT rows_read, rows_rejected, report FROM import_batch WHERE id = :id"),
        {"id": summary.batch_id},
    ).one()
    assert (stored.rows_read, stored.rows_rejected) == (21121, 684)
    assert len(stored.report["rejected"]) == 684
    assert all(r["line"] >= 2 for r in stored.report["rejected"])


def test_every_camera_lies_in_its_coverage_and_the_owner_is_its_district(
    db: Connection, seoul, data_dir: Path
) -> None:
    import_cameras(db, seoul, path=data_dir / "seoul_cctv_2018.csv")
    row = db.execute(
        text(
            "SELECT count(*) FILTER (WHERE NOT ST_Intersects(v.geom, c.position)) AS outside,"
            " count(*) FILTER (WHERE o.kind <> 'municipal_centre') AS not_centres,"
            " count(*) FILTER (WHERE c.source_url IS NOT NULL) AS with_url,"
            " count(DISTINCT o.name) AS owners"
            " FROM camera c JOIN coverage v ON v.camera_id = c.id"
            " JOIN organization o ON o.id = c.owner_id"
        )
    ).one()
    assert row.outside == 0
    assert row.not_centres == 0
    assert row.with_url == 0
    assert row.owners >= 25  # Seoul's 25 district offices


def test_same_file_twice_creates_nothing_new(db: Connection, seoul, data_dir: Path) -> None:
    path = data_dir / "seoul_cctv_2018.csv"
    import_cameras(db, seoul, path=path)
    before = _counts(db)
    again = import_cameras(db, read_cctv(path), path=path)
    assert _counts(db) == before
    assert again.created == {"cameras": 0, "coverage_polygons": 0, "organizations": 0}
    assert again.rows_already_present == again.rows_imported + 19735
    assert again.adds_up


@pytest.mark.parametrize(
    ("reader", "name", "source"),
    [
        (read_enforcement, "traffic_enforcement_cameras_2020.csv", "enforcement"),
        (read_osm_cameras, "osm_surveillance_switzerland.json", "osm"),
    ],
)
def test_other_camera_sources_land_and_add_up(
    db: Connection, data_dir: Path, reader, name: str, source: str
) -> None:  # type: ignore[no-untyped-def]
    kwargs = {"country_bounds": None} if source == "osm" else {}
    read = reader(data_dir / name, **kwargs)
    summary = import_cameras(db, read, path=data_dir / name)
    assert summary.adds_up
    assert summary.created["cameras"] == len(read.cameras) > 0
    n = db.execute(
        text("SELECT count(*) FROM camera WHERE source = :s"), {"s": source}
    ).scalar_one()
    assert n == len(read.cameras)


def _gilmok(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_wrong_file_is_a_clear_error_and_changes_nothing(
    engine: Engine, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GILMOK_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    with engine.connect() as conn:
        before = _counts(conn)
    other_schema = tmp_path / "other.csv"
    other_schema.write_text("name,lon,lat\nsomewhere,127.0,37.5\n", encoding="utf-8")
    truncated = tmp_path / "truncated.csv"
    truncated.write_bytes((data_dir / "seoul_cctv_2018.csv").read_bytes()[:100_000])
    cases = [
        (("import", "cctv", str(data_dir / "mapo.osm")), "mapo.osm"),
        (("import", "cctv", str(data_dir / "traffic_enforcement_cameras_2020.csv")), "enforcement"),
        (("import", "cctv", str(other_schema)), "missing"),
        (("import", "cctv", str(truncated)), "truncated"),
        (("import", "roads", str(data_dir / "seoul_cctv_2018.csv")), "not a road network"),
    ]
    for args, expected in cases:
        result = _gilmok(*args)
        assert result.exit_code == 1, (args, result.stdout, result.stderr)
        assert expected in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    with engine.connect() as conn:
        assert _counts(conn) == before


def _index_and_constraint_definitions(db: Connection) -> set[str]:
    rows = db.execute(
        text(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index"
            " WHERE indrelid IN ('camera'::regclass, 'coverage'::regclass)"
            " UNION ALL SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid IN ('camera'::regclass, 'coverage'::regclass)"
        )
    ).scalars()
    return set(rows)


def test_bulk_load_rebuilds_every_index_and_key(
    db: Connection, seoul, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from geo.store import imports

    monkeypatch.setattr(imports, "BULK_MIN_ROWS", 1000)
    modes: list[bool] = []
    real_bulk_mode = imports._bulk_mode

    @contextlib.contextmanager
    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        with real_bulk_mode(*args, **kwargs) as on:
            modes.append(on)
            yield on

    monkeypatch.setattr(imports, "_bulk_mode", spy)
    before = _index_and_constraint_definitions(db)
    summary = import_cameras(db, seoul, path=data_dir / "seoul_cctv_2018.csv")
    assert summary.created["cameras"] == len(seoul.cameras)
    assert _index_and_constraint_definitions(db) == before
    again = import_cameras(db, seoul, path=data_dir / "seoul_cctv_2018.csv")
    assert again.created["cameras"] == 0
    assert modes == [True, True]  # cameras and coverage in bulk; the second finds all present
    # The rebuilt unique key holds.
    with pytest.raises(IntegrityError), db.begin_nested():
        db.execute(
            text(
                "INSERT INTO camera (source, source_key, site_key, owner_id, position, kind,"
                " heading_source) SELECT source, source_key, site_key, owner_id, position, kind,"
                " heading_source FROM camera LIMIT 1"
            )
        )


def test_a_longer_file_adds_only_its_new_cameras(
    db: Connection, seoul, data_dir: Path, tmp_path: Path
) -> None:
    """Cameras already present are set aside one by one, whatever file brought them."""
    lines = (data_dir / "seoul_cctv_2018.csv").read_bytes().splitlines(keepends=True)
    head = tmp_path / "seoul_head.csv"
    head.write_bytes(b"".join(lines[:3001]))
    first = import_cameras(db, read_cctv(head), path=head)
    before = _counts(db)
    summary = import_cameras(db, seoul, path=data_dir / "seoul_cctv_2018.csv")
    assert summary.adds_up
    assert summary.rows_already_present == first.rows_imported > 0
    assert summary.rows_imported == 19735 - first.rows_imported
    new = len(seoul.cameras) - first.created["cameras"]
    assert summary.created["cameras"] == summary.created["coverage_polygons"] == new
    after = _counts(db)
    assert after["camera"] - before["camera"] == after["coverage"] - before["coverage"] == new
    orphans = db.execute(
        text(
            "SELECT count(*) FROM camera c WHERE NOT EXISTS"
            " (SELECT 1 FROM coverage v WHERE v.camera_id = c.id)"
        )
    ).scalar_one()
    assert orphans == 0


def test_stored_coverage_is_each_cameras_own(db: Connection, seoul, data_dir: Path) -> None:
    """Cameras alike share one computed polygon; each still gets exactly its own coverage."""
    import numpy as np
    import shapely

    from geo.index import camera_coverage

    import_cameras(db, seoul, path=data_dir / "seoul_cctv_2018.csv")
    cams = seoul.cameras.sample(300, random_state=7)
    stored = dict(
        db.execute(
            text(
                "SELECT c.source_key, ST_AsBinary(v.geom) FROM camera c"
                " JOIN coverage v ON v.camera_id = c.id WHERE c.source_key = ANY(:keys)"
            ),
            {"keys": list(cams["source_key"])},
        ).all()
    )
    own = camera_coverage(
        cams["lon"], cams["lat"], kind=cams["kind"], heading_deg=cams["heading_deg"],
        fov_deg=cams["fov_deg"],
        resolution_px_h=cams["resolution_px_h"].astype("float64").to_numpy(na_value=np.nan),
        pan_min_deg=cams["pan_min_deg"], pan_max_deg=cams["pan_max_deg"],
        heading_source=cams["heading_source"],
    )  # fmt: skip
    for key, polygon in zip(cams["source_key"], own.polygons, strict=True):
        assert shapely.equals_exact(shapely.from_wkb(bytes(stored[key])), polygon, tolerance=1e-6)


@pytest.mark.parametrize(
    ("reader", "name"),
    [
        (read_cctv, "seoul_cctv_2018.csv"),
        (read_enforcement, "traffic_enforcement_cameras_2020.csv"),
        (read_osm_cameras, "osm_surveillance_switzerland.json"),
    ],
)
def test_every_column_and_the_provenance_are_stored_as_read(
    db: Connection, data_dir: Path, reader, name: str
) -> None:  # type: ignore[no-untyped-def]
    """The stored camera is the reader's row: columns, position and provenance (file, line,
    install text and the site's attributes, as JSON would render them)."""
    import json

    import numpy as np

    kwargs = {"country_bounds": None} if name.endswith(".json") else {}
    read = reader(data_dir / name, **kwargs)
    import_cameras(db, read, path=data_dir / name)
    cams = read.cameras.sample(min(300, len(read.cameras)), random_state=3)
    stored = {
        r.source_key: r
        for r in db.execute(
            text(
                "SELECT c.*, ST_X(p) AS lon, ST_Y(p) AS lat, o.name AS owner_name FROM camera c"
                " JOIN organization o ON o.id = c.owner_id,"
                " LATERAL ST_Transform(c.position, 4326) AS p"
                " WHERE c.source = :source AND c.source_key = ANY(:keys)"
            ),
            {"source": read.source, "keys": list(cams["source_key"])},
        )
    }
    assert len(stored) == len(cams)

    def same(a: object, b: object) -> bool:
        missing = a is None or (isinstance(a, float) and np.isnan(a))
        return b is None if missing else a == b

    for cam in cams.itertuples():
        row = stored[cam.source_key]
        assert row.site_key == cam.site_key
        assert row.owner_name == cam.owner_name.strip()
        assert (row.lon, row.lat) == pytest.approx((cam.lon, cam.lat), abs=1e-9)
        for column in ("kind", "heading_source", "purpose", "address", "direction_text"):
            assert getattr(row, column) == (getattr(cam, column) or ""), column
        for column in ("heading_deg", "heading_uncertainty_deg", "fov_deg", "pan_min_deg",
                       "pan_max_deg", "megapixels", "mount_height_m"):  # fmt: skip
            assert same(getattr(cam, column), getattr(row, column)), column
        px = None if cam.resolution_px_h is pd.NA else int(cam.resolution_px_h)
        assert row.resolution_px_h == px
        expected = {"file": name, "line": int(cam.line), "installed": cam.installed}
        expected |= cam.attributes or {}
        assert row.provenance == json.loads(json.dumps(expected, default=str))
