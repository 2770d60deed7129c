"""Every third-party module the package imports is one of its declared dependencies.

A module that arrives only as someone else's dependency (``niquests`` through
grafana-client, once) works until that package changes its mind. The check reads the
imports with ``ast`` and maps each top-level module to the distributions that provide it
(:func:`importlib.metadata.packages_distributions`).
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("ioc", "ingest", "devices", "dashboards")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match, requirement
    return _normalize(match.group(0))


def declared() -> set[str]:
    return {_requirement_name(r) for r in PYPROJECT["project"]["dependencies"]}


def imported_modules(paths: list[Path]) -> Iterator[tuple[str, Path]]:
    """``(top-level module, file)`` for every absolute import in ``paths``."""
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield alias.name.split(".")[0], path
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                yield node.module.split(".")[0], path


def third_party(paths: list[Path]) -> dict[str, set[str]]:
    """Top-level third-party module → the files importing it."""
    first_party = set(PACKAGES)
    found: dict[str, set[str]] = {}
    for module, path in imported_modules(paths):
        if module in sys.stdlib_module_names or module in first_party or module == "__future__":
            continue
        where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
        found.setdefault(module, set()).add(str(where))
    return found


def _sources() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def test_every_imported_module_is_a_declared_dependency() -> None:
    providers = metadata.packages_distributions()
    wanted = declared()
    missing = {}
    for module, files in third_party(_sources()).items():
        dists = {_normalize(d) for d in providers.get(module, [])}
        if not dists & wanted:
            missing[module] = (sorted(dists) or ["not installed"], sorted(files))
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_the_check_sees_an_undeclared_import(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import os\nimport yaml\nfrom psycopg import sql\nfrom . import x\n")
    found = third_party([probe])
    assert set(found) == {"yaml", "psycopg"}
    providers = metadata.packages_distributions()
    assert {_normalize(d) for d in providers["yaml"]}.isdisjoint(declared())  # dev-only
    assert {_normalize(d) for d in providers["psycopg"]} & declared()


def test_dev_tools_are_declared() -> None:
    dev = {_requirement_name(r) for r in PYPROJECT["project"]["optional-dependencies"]["dev"]}
    assert {"import-linter", "jsonschema", "check-jsonschema", "pytest"} <= dev
