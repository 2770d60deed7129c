"""Migrations are frozen history: they import no application module, and the rules
migration 12 seeds come from the data it owns."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import psycopg

from ioc.alerts.defaults import default_rules
from ioc.storage import migrations

#: What a migration may import: the migration framework's own types, the driver, stdlib.
ALLOWED = {"ioc.storage.db", "ioc.storage.features", "psycopg", "psycopg.types.json"}

MIGRATIONS = sorted(Path(migrations.__file__).parent.glob("m[0-9]*.py"))


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_there_are_migrations_to_check() -> None:
    assert len(MIGRATIONS) >= 12


def test_no_migration_imports_application_code() -> None:
    offenders = {
        path.name: sorted(
            m
            for m in imports(path)
            if m not in ALLOWED and m.split(".")[0] not in sys.stdlib_module_names
        )
        for path in MIGRATIONS
    }
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def test_seeded_rules_are_the_shipped_defaults(fresh_database_url: str) -> None:
    with psycopg.connect(fresh_database_url) as conn:
        rows = conn.execute(
            "SELECT name, kind, domain, metric, severity, params FROM alert_rules"
        ).fetchall()
    shipped = sorted(
        (r.name, r.kind, r.domain, r.metric, r.severity, r.model_dump(mode="json")["params"])
        for r in default_rules()
    )
    assert sorted(rows) == shipped
