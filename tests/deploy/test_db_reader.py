"""Grafana's read-only database role (deploy/grafana/db-reader.sh), made as the
TimescaleDB container makes it: before the services' migrations create the tables.
It can run every dashboard query, and cannot write."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest

from dashboards.generate import boards
from dashboards.model import ALL as ALL_VALUE
from ioc.storage.migrate import migrate
from testkit.dashboard_walk import queries
from testkit.database import ADMIN_URL, scratch_database, with_database
from testkit.grafana_sql import ALL, Context, expand

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def reader_url() -> Iterator[str]:
    reader = f"grafana_reader_{uuid.uuid4().hex[:8]}"
    admin = urlsplit(ADMIN_URL)
    with scratch_database(migrated=False) as url:
        name = urlsplit(url).path.lstrip("/")
        env = dict(
            os.environ,
            PGHOST=admin.hostname or "127.0.0.1",
            PGPORT=str(admin.port or 5432),
            POSTGRES_USER=admin.username or "postgres",
            POSTGRES_DB=name,
            IOC_GRAFANA_DB_USER=reader,
            IOC_GRAFANA_DB_PASSWORD="reader-secret",
        )
        done = subprocess.run(
            ["sh", str(ROOT / "deploy/grafana/db-reader.sh")],
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        try:
            migrate(url)  # the services start after the role exists
            yield (
                urlsplit(with_database(ADMIN_URL, name))
                ._replace(netloc=f"{reader}@{admin.hostname}:{admin.port}")
                .geturl()
            )
        finally:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f'DROP OWNED BY "{reader}"')
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP ROLE IF EXISTS "{reader}"')


def test_the_reader_runs_every_dashboard_query_and_writes_nothing(reader_url: str) -> None:
    end = datetime.now(UTC)
    ctx = Context(
        end - timedelta(hours=6),
        end,
        60_000,
        {"district": ALL, "device": ALL},
        {"district": ALL_VALUE, "device": ALL_VALUE},
    )
    with psycopg.connect(reader_url, autocommit=True) as conn:
        for b in boards():
            for q in queries(b.model):
                conn.execute(expand(q.sql, ctx)).fetchall()  # type: ignore[call-overload]
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("INSERT INTO events (kind, payload) VALUES ('x', '{}')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SET default_transaction_read_only = off")
            conn.execute("INSERT INTO events (kind, payload) VALUES ('x', '{}')")
