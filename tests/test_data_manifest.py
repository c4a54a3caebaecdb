"""The real data folder matches the manifest kept in data/ (the files are not in the repository)."""

from __future__ import annotations

from pathlib import Path

import pytest

from geo.errors import ConfigurationError
from geo.ingest.manifest import check_data_dir, load_manifest


def test_data_folder_matches_manifest(data_dir: Path) -> None:
    files = load_manifest()
    assert {f.importer for f in files} == {"roads", "cctv", "enforcement", "osm-cameras"}
    assert all(f.licence and f.attribution and len(f.sha256) == 64 for f in files)
    assert check_data_dir(data_dir, files) == []


def test_a_changed_or_missing_file_is_named(tmp_path: Path, data_dir: Path) -> None:
    files = load_manifest()
    (tmp_path / files[0].name).write_bytes(b"not the real file")
    problems = check_data_dir(tmp_path, files[:2])
    assert problems == [
        f"{files[0].name}: differs from the manifest (size or sha256)",
        f"{files[1].name}: missing from {tmp_path}",
    ]


def test_no_data_folder_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="GILMOK_DATA_DIR"):
        check_data_dir(None, load_manifest())
