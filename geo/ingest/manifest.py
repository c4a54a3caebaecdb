"""The manifest of the real data files (``data/manifest.toml``) and a check of a folder."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geo.errors import ConfigurationError

MANIFEST_PATH = Path(__file__).resolve().parents[2] / "data" / "manifest.toml"


@dataclass(frozen=True)
class DataFile:
    """One real input file: where it comes from, its licence, checksum and what we expect of it."""

    name: str
    importer: str
    bytes: int
    sha256: str
    what: str
    origin: str
    licence: str
    attribution: str
    expect: dict[str, Any] = field(default_factory=dict)
    #: imported by ``gilmok import all`` (False for data outside the country, kept for tests)
    import_all: bool = True


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_manifest(path: Path = MANIFEST_PATH) -> list[DataFile]:
    """The files listed in the manifest, in import order."""
    with open(path, "rb") as fh:
        raw = tomllib.load(fh)
    return [DataFile(**entry) for entry in raw["file"]]


def check_data_dir(data_dir: Path | None, files: list[DataFile]) -> list[str]:
    """Problems found in ``data_dir`` against the manifest (empty when all files match)."""
    if data_dir is None or not data_dir.is_dir():
        raise ConfigurationError(
            "no data folder: set GILMOK_DATA_DIR to the folder holding the real data files"
        )
    problems = []
    for entry in files:
        path = data_dir / entry.name
        if not path.is_file():
            problems.append(f"{entry.name}: missing from {data_dir}")
        elif path.stat().st_size != entry.bytes or file_sha256(path) != entry.sha256:
            problems.append(f"{entry.name}: differs from the manifest (size or sha256)")
    return problems
