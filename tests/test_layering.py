"""The code's layers hold: the spatial core imports no database driver, web framework or cluster,
and no module reaches into another's private names.

A planner's notebook, a drill worker or a CSV import must be able to use ``geo`` without
SQLAlchemy, psycopg, Flask or Dask being loaded behind its back; only the store (``geo.store``:
the one home of SQL) and the Dask drills (``geo.drill_cluster``, ``geo.drill_precompute``) may
pull them in. Nor does ``geo`` import the service (``api``): dependencies point one way.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("sqlalchemy", "psycopg", "flask", "distributed")
#: geo modules allowed to import one of HEAVY, and why.
IMPURE = {
    "geo.drill_cluster": "runs drills on dask.distributed",
    "geo.drill_precompute": "stores drills in PostGIS as dask.distributed computes them",
}


def _modules(package: str) -> list[str]:
    names = []
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return names


PURE = [m for m in _modules("geo") if not m.startswith("geo.store") and m not in IMPURE]


def test_pure_geo_modules_load_no_database_web_or_cluster_library() -> None:
    """All pure modules imported one after the other in one fresh interpreter: a heavy library
    appearing after a module's import was loaded by that module (or what it imports)."""
    probe = f"""
import importlib, sys
for module in {PURE!r}:
    importlib.import_module(module)
    loaded = [m for m in {HEAVY!r} if m in sys.modules]
    if loaded:
        print(module, "loads", " ".join(loaded))
        break
"""
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
    assert len(PURE) > 30  # the listing found the package


def test_geopackage_module_does_not_use_the_store() -> None:
    tree = ast.parse((ROOT / "geo" / "gpkg.py").read_text(encoding="utf-8"))
    imported = {
        node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    assert not {m for m in imported if m.startswith("geo.store")}


def _private_imports(path: Path) -> list[str]:
    """``from a.b import _name`` where ``_name`` is a name inside module a.b (a private module of
    a package, ``from geo.ingest import _csvfile``, is the package's own business)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.ImportFrom) and node.module and node.level == 0):
            continue
        if node.module.split(".")[0] not in ("geo", "api"):
            continue
        package_dir = ROOT.joinpath(*node.module.split("."))
        for alias in node.names:
            if not alias.name.startswith("_"):
                continue
            if (package_dir / f"{alias.name}.py").exists() or (package_dir / alias.name).is_dir():
                continue
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.module}.{alias.name}")
    return found


def test_no_module_imports_a_private_name_of_another() -> None:
    found = [hit for pkg in ("geo", "api") for p in (ROOT / pkg).rglob("*.py") for hit in _private_imports(p)]  # fmt: skip
    assert found == []


def test_feed_lifecycle_has_no_http() -> None:
    """``api.feeds`` (provision, credential, revoke, reconcile, the loop) runs in the API, the
    CLI and the loop alike: it loads no web framework."""
    probe = """
import importlib, pkgutil, sys
import api.feeds
for info in pkgutil.iter_modules(api.feeds.__path__):
    importlib.import_module(f"api.feeds.{info.name}")
print(" ".join(m for m in ("flask", "werkzeug", "marshmallow") if m in sys.modules))
"""
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_geo_never_imports_the_service() -> None:
    """The core and its store are used without the service (notebooks, drills, imports): no
    module of ``geo`` imports ``api``, at the top or inside a function."""
    found = []
    for path in sorted((ROOT / "geo").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            found += [
                f"{path.relative_to(ROOT)}:{node.lineno} {name}"
                for name in names
                if name == "api" or name.startswith("api.")
            ]
    assert found == []
