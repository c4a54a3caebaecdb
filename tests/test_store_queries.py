"""The store's static SQL: every statement named in the code has its file, every file is used,
and no statement is assembled from Python strings (:mod:`geo.store.queries`).

Read from the source (no database): names are the string literals passed to ``query(...)``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from geo.store.models import WORKING_SRID
from geo.store.queries import query

ROOT = Path(__file__).resolve().parents[1]
SQL_DIR = ROOT / "geo" / "store" / "sql"
STORE = ROOT / "geo" / "store"


def _imports_query(tree: ast.Module) -> bool:
    """The module imports :func:`geo.store.queries.query` by that name."""
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module == "geo.store.queries"
        and any(alias.name == "query" and alias.asname is None for alias in node.names)
        for node in ast.walk(tree)
    )


def _trees(folder: Path) -> list[tuple[Path, ast.Module]]:
    return [
        (path, ast.parse(path.read_text(encoding="utf-8"))) for path in sorted(folder.rglob("*.py"))
    ]


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    """Calls of ``name(...)`` or ``something.name(...)``."""
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Name) and node.func.id == name)
            or (isinstance(node.func, ast.Attribute) and node.func.attr == name)
        )
    ]


def _query_names() -> dict[str, list[str]]:
    """Every ``query("<module>/<name>")`` in geo and api: name -> where it is used (in the
    modules that import :func:`geo.store.queries.query`)."""
    names: dict[str, list[str]] = {}
    for package in ("geo", "api"):
        for path, tree in _trees(ROOT / package):
            if not _imports_query(tree):
                continue
            for call in _calls(tree, "query"):
                if not isinstance(call.func, ast.Name):
                    continue
                arg = call.args[0]
                where = f"{path.relative_to(ROOT)}:{call.lineno}"
                assert isinstance(arg, ast.Constant), f"{where}: query() takes a literal name"
                assert isinstance(arg.value, str), f"{where}: query() takes a literal name"
                names.setdefault(arg.value, []).append(where)
    return names


def _sql_files() -> set[str]:
    return {path.relative_to(SQL_DIR).with_suffix("").as_posix() for path in SQL_DIR.rglob("*.sql")}


def test_every_named_statement_has_its_file() -> None:
    missing = {name: where for name, where in _query_names().items() if name not in _sql_files()}
    assert not missing, f"query() names with no .sql file: {missing}"


def test_every_sql_file_is_used() -> None:
    unused = sorted(_sql_files() - set(_query_names()))
    assert not unused, f".sql files no query() call names: {unused}"


def test_statements_load() -> None:
    for name in sorted(_sql_files()):
        assert query(name).text.strip(), f"{name}.sql is empty"


def test_sql_files_use_the_working_srid() -> None:
    """The schema's SRID is fixed (the settings refuse any other CRS): the .sql files write it
    out, and it must be the models' one."""
    for path in sorted(SQL_DIR.rglob("*.sql")):
        srids = {int(s) for s in re.findall(r"\b(\d{4,5})\)", path.read_text(encoding="utf-8"))}
        # the base map's vector tiles are Web Mercator by definition
        tiles = {3857} if path.parent.name == "road_segments" else set()
        assert srids <= {4326, WORKING_SRID} | tiles, f"{path.relative_to(ROOT)}: SRIDs {srids}"


def _assembled(arg: ast.expr) -> bool:
    """A statement built in Python: an f-string, ``+``/``%`` of strings, or ``.format()``."""
    if isinstance(arg, ast.JoinedStr | ast.BinOp):
        return True
    return (
        isinstance(arg, ast.Call)
        and isinstance(arg.func, ast.Attribute)
        and arg.func.attr == "format"
    )


def _assembled_statements(path: Path, tree: ast.Module) -> list[str]:
    found = []
    for call in _calls(tree, "text"):
        if call.args and _assembled(call.args[0]):
            found.append(f"{path.relative_to(ROOT)}:{call.lineno}")
    return found


@pytest.mark.parametrize(
    "path", sorted(STORE.rglob("*.py")), ids=lambda p: p.relative_to(STORE).as_posix()
)
def test_no_statement_is_assembled_from_strings(path: Path) -> None:
    """No ``text()`` in the store takes an f-string, a concatenation or a ``.format()``: values
    are bound, static statements live in .sql files, dynamic ones are SQLAlchemy Core."""
    found = _assembled_statements(path, ast.parse(path.read_text(encoding="utf-8")))
    assert not found, f"text() of a statement assembled in Python: {found}"
