"""Versioned, idempotent schema migrations, safe when several services start at once.

Each migration is a module ``migrations/mNNNN_name.py`` with ``VERSION``, ``NAME`` and
``upgrade(conn, features)``. Numbers are reserved by area so parallel work does not
collide: 1–9 telemetry storage, 10–19 alerts, 20–29 API and security, 30–39 dashboards
and GOC. The runner takes a cluster-wide advisory lock, so a second replica waits and
then finds nothing left to do; each migration commits on its own with its record.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

import psycopg

from ioc.storage import migrations as migrations_pkg
from ioc.storage.db import Connection, connect, translated
from ioc.storage.features import Features, detect

log = logging.getLogger("ioc.migrate")

_LOCK_KEY = 0x10C_5C4E  # arbitrary, constant: "IOC schema"


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    upgrade: Callable[[Connection, Features], None]


def discover(package: ModuleType = migrations_pkg) -> list[Migration]:
    found: list[Migration] = []
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("m"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        found.append(Migration(int(module.VERSION), str(module.NAME), module.upgrade))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"two migrations share a version: {versions}")
    return found


def _ensure_timescaledb(conn: Connection) -> None:
    """Install the extension where the server has it; carry on without it otherwise."""
    try:
        with conn.transaction():
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except psycopg.Error as exc:
        log.warning(
            "TimescaleDB is not usable here; continuing on plain PostgreSQL",
            extra={"error": str(exc).strip().splitlines()[0]},
        )


def migrate(url: str, migrations: list[Migration] | None = None) -> Features:
    """Bring the schema at ``url`` up to date; return what the database supports."""
    todo = discover() if migrations is None else migrations
    with translated(), connect(url, autocommit=True, application_name="ioc-migrate") as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            if detect(conn).timescaledb_loadable:
                _ensure_timescaledb(conn)
            features = detect(conn)
            if not features.timescaledb:
                log.warning("running without TimescaleDB", extra={"features": features.describe()})
            conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                     version integer PRIMARY KEY,
                     name text NOT NULL,
                     applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
            for migration in todo:
                if migration.version in applied:
                    continue
                with conn.transaction():
                    migration.upgrade(conn, features)
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                        (migration.version, migration.name),
                    )
                log.info(
                    "migration applied",
                    extra={"version": migration.version, "migration": migration.name},
                )
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
        return features
