"""Migrations: idempotent, safe with two services starting at once, and working on every
kind of database (TimescaleDB Apache edition here, plain PostgreSQL on the machine's own
cluster)."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ioc.config import Settings
from ioc.storage.features import detect
from ioc.storage.maintenance import enforce_retention
from ioc.storage.migrate import discover, migrate
from ioc.storage.readings import ReadingWriter
from ioc.storage.registry import NewDevice, register_devices
from ioc.storage.rollups import refresh
from ioc.types import Reading
from testkit.database import PLAIN_ADMIN_URL, scratch_database


def test_migrating_twice_changes_nothing(fresh_database_url: str) -> None:
    with psycopg.connect(fresh_database_url) as conn:
        before = conn.execute("SELECT version, applied_at FROM schema_migrations").fetchall()
    migrate(fresh_database_url)
    with psycopg.connect(fresh_database_url) as conn:
        after = conn.execute("SELECT version, applied_at FROM schema_migrations").fetchall()
    assert before == after
    assert [v for v, _ in after] == sorted(m.version for m in discover())


def test_two_services_starting_at_once_migrate_once() -> None:
    with scratch_database(migrated=False) as url:
        errors: list[BaseException] = []

        def run() -> None:
            try:
                migrate(url)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=run) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert errors == []
        with psycopg.connect(url) as conn:
            versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
        assert sorted(versions) == sorted(set(versions)) == sorted(m.version for m in discover())


def test_features_are_asked_of_the_database(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        features = detect(conn)
        hypertables = {
            r[0]
            for r in conn.execute("SELECT hypertable_name FROM timescaledb_information.hypertables")
        }
        mode = conn.execute(
            "SELECT value FROM storage_settings WHERE key = 'rollup_mode'"
        ).fetchone()
    assert features.timescaledb
    assert "readings" in hypertables
    # the rollups are continuous aggregates exactly when the database can have them
    assert mode == (
        ("continuous_aggregate",) if features.continuous_aggregates else ("maintained",)
    )


def _plain_postgres_reachable() -> bool:
    try:
        with psycopg.connect(PLAIN_ADMIN_URL, connect_timeout=3) as conn:
            return not detect(conn).timescaledb_loadable
    except psycopg.OperationalError:
        return False


@pytest.mark.skipif(
    not _plain_postgres_reachable(),
    reason="no PostgreSQL without TimescaleDB at IOC_TEST_PLAIN_ADMIN_URL",
)
def test_plain_postgresql_works_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="ioc.migrate")
    with scratch_database(PLAIN_ADMIN_URL) as url, psycopg.connect(url) as conn:
        assert any("without TimescaleDB" in r.getMessage() for r in caplog.records)
        register_devices(conn, [NewDevice("p-1", "traffic")])
        t = datetime(2026, 11, 23, 10, 0, 30, tzinfo=UTC)
        writer = ReadingWriter(ReadingWriter.rollups_maintained(conn))
        rows = [
            (Reading(t + timedelta(seconds=i), "p-1", "vehicle_count", float(i)), 0)
            for i in range(3)
        ]
        first = writer.write(conn, rows)
        again = writer.write(conn, rows)
        conn.commit()
        assert (first.inserted, again.inserted, again.duplicates) == (3, 0, {0: 3})
        assert refresh(conn) == (1, 1)
        bucket = conn.execute("SELECT bucket, n, avg FROM readings_1m").fetchall()
        assert bucket == [(datetime(2026, 11, 23, 10, 0, tzinfo=UTC), 3, 1.0)]
        assert "readings" in enforce_retention(conn, Settings(database_url=url))


def test_retention_drops_old_chunks_and_keeps_recent_data(fresh_database_url: str) -> None:
    with psycopg.connect(fresh_database_url) as conn:
        register_devices(conn, [NewDevice("r-1", "traffic")])
        writer = ReadingWriter(ReadingWriter.rollups_maintained(conn))
        now = datetime.now(UTC)
        writer.write(
            conn,
            [
                (Reading(now - timedelta(days=d), "r-1", "vehicle_count", 1.0), 0)
                for d in (0, 1, 40, 41)
            ],
        )
        conn.commit()
        refresh(conn)
        enforce_retention(conn, Settings(database_url=fresh_database_url, retention_raw_days=30))
        conn.commit()
        kept = conn.execute("SELECT count(*) FROM readings").fetchone()
        hourly = conn.execute("SELECT count(*) FROM readings_1h").fetchone()
    assert kept == (2,)
    assert hourly == (4,)  # rollups are kept far longer than raw data
