"""Run the project's services inside a test, against the test's broker and database."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ingest.service import IngestService
from ioc.config import Settings


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll until ``predicate()`` is truthy; return its value or raise TimeoutError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s (last value {value!r})")
        time.sleep(interval)


def test_settings(database_url: str, mqtt_url: str, **overrides: Any) -> Settings:
    return Settings(
        database_url=database_url, mqtt_url=mqtt_url, ingest_metrics_port=0, **overrides
    )


@contextmanager
def running_ingest(database_url: str, mqtt_url: str, **overrides: Any) -> Iterator[IngestService]:
    """An ingest service in this process; drained and stopped afterwards.

    Each one gets its own shared-subscription group unless told otherwise: Mosquitto keeps
    routing a group's share of messages to a member whose persistent session is offline,
    so a stopped service from an earlier test would otherwise swallow messages.
    """
    token = time.monotonic_ns()
    overrides.setdefault("ingest_client_id", f"ingest-test-{token}")
    overrides.setdefault("ingest_group", f"ingest-test-{token}")
    overrides.setdefault("rollup_refresh_s", 0.3)
    service = IngestService(test_settings(database_url, mqtt_url, **overrides))
    service.start()
    if not service.subscribed.wait(10):
        raise TimeoutError("ingest did not subscribe within 10 s")
    try:
        yield service
    finally:
        service.stop()
