"""The README's "Where things live" table matches the tree: every top-level module and package
of ``geo`` and ``api`` is named there, and every path it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("## Where things live")
    return text[start : text.index("\n## ", start + 1)]


def test_every_module_and_package_is_in_the_table() -> None:
    named = set(re.findall(r"`([^`]+)`", _section()))
    expected = [
        f"{pkg}/{p.name}/" if p.is_dir() else f"{pkg}/{p.name}"
        for pkg in ("geo", "api")
        for p in sorted((ROOT / pkg).iterdir())
        if not p.name.startswith(("_", ".")) and (p.is_dir() or p.suffix == ".py")
    ]
    assert [name for name in expected if name not in named] == []


def test_every_path_in_the_table_exists() -> None:
    paths = [t for t in re.findall(r"`([^`<>]+/[^`<>]*)`", _section()) if " " not in t]
    assert paths, "the table names no path"
    assert [p for p in paths if not (ROOT / p.rstrip("/")).exists()] == []
