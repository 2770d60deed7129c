"""Throwaway databases on the project's PostgreSQL cluster (TimescaleDB preloaded)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg

from ioc.storage.migrate import migrate

#: Where test databases are created: the cluster deploy/local/infra.sh starts.
ADMIN_URL = os.environ.get("IOC_TEST_ADMIN_URL", "postgresql://postgres@127.0.0.1:5433/postgres")
#: A PostgreSQL without TimescaleDB, to show the plain-PostgreSQL path (the machine's own).
PLAIN_ADMIN_URL = os.environ.get(
    "IOC_TEST_PLAIN_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def with_database(admin_url: str, name: str) -> str:
    parts = urlsplit(admin_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextmanager
def scratch_database(admin_url: str = ADMIN_URL, *, migrated: bool = True) -> Iterator[str]:
    """Create a new database, migrate it, yield its URL, drop it afterwards."""
    name = f"ioc_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = with_database(admin_url, name)
    try:
        if migrated:
            migrate(url)
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
