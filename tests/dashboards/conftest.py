"""Fixtures for the dashboard tests: one burst of city data, shared by the modules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from testkit.broker import Broker
from tests.dashboards import burst as burst_mod


@pytest.fixture(scope="session")
def burst(database_url: str, broker: Broker) -> burst_mod.Burst:
    return burst_mod.send(database_url, broker.url)


@pytest.fixture(scope="module")
def conn(database_url: str) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    with psycopg.connect(database_url, autocommit=True) as c:
        yield c
