"""Fixtures: a real Mosquitto and a real PostgreSQL with TimescaleDB, private to the run.

Every pytest session gets its own migrated database and its own broker on a free port,
so test runs (and developers) never see each other's messages or rows. Tests that
break things (kill the broker, stop the database) ask for ``fresh_broker`` /
``fresh_database_url`` instead of the shared ones.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from ioc.storage.registry import NewDevice, register_devices
from testkit.broker import Broker
from testkit.database import scratch_database


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    with scratch_database() as url:
        yield url


@pytest.fixture
def fresh_database_url() -> Iterator[str]:
    with scratch_database() as url:
        yield url


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    with Broker(tmp_path_factory.mktemp("broker")) as b:
        yield b


@pytest.fixture
def fresh_broker(tmp_path: Path) -> Iterator[Broker]:
    with Broker(tmp_path / "broker") as b:
        yield b


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Device ids unique to this test, so tests can share the session database."""
    token = uuid.uuid4().hex[:8]
    return lambda name: f"{name}-{token}"


@pytest.fixture
def register(database_url: str) -> Callable[..., None]:
    def _register(*devices: NewDevice, url: str | None = None) -> None:
        with psycopg.connect(url or database_url) as conn:
            register_devices(conn, devices)

    return _register
