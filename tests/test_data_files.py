"""geo.store.data_files: the manifest's files imported in its order, one transaction each."""

from __future__ import annotations

from pathlib import Path

import pytest
from scratch_db import scratch_database
from sqlalchemy import text

from api.settings import Settings
from geo.ingest.manifest import load_manifest
from geo.store import connect
from geo.store.data_files import import_data_files
from geo.store.imports import ImportSummary

pytestmark = pytest.mark.db


def test_files_are_imported_in_the_manifests_order_each_reported_once_in(
    base_settings: Settings, data_dir: Path
) -> None:
    wanted = ("mapo.osm", "gangnam_cctv_20190312.csv")
    files = [f for f in load_manifest() if f.name in wanted]
    assert [f.importer for f in files] == ["roads", "cctv"]  # roads first, as in the manifest
    seen: list[ImportSummary] = []
    with scratch_database(base_settings.owner_database_url) as url:
        engine = connect(url)
        try:

            def reported(summary: ImportSummary) -> None:
                # called once the file is committed, before the next one is read
                with engine.connect() as conn:
                    batches = conn.execute(text("SELECT count(*) FROM import_batch")).scalar_one()
                assert batches == len(seen) + 1
                seen.append(summary)

            summaries = import_data_files(
                engine,
                data_dir,
                files,
                country_bounds=base_settings.country_bounds,
                max_range_m=base_settings.max_coverage_range_m,
                on_import=reported,
            )
        finally:
            engine.dispose()
    assert summaries == seen
    assert [s.file_name for s in summaries] == list(wanted)
    assert all(s.adds_up for s in summaries)
    assert summaries[0].created["road_segments"] > 0
    assert summaries[1].created["cameras"] > 0
