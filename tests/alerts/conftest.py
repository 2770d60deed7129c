"""Run the alert engine inside a test, against the test's broker and database."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ioc.alerts.engine import AlertEngine
from ioc.config import Settings
from testkit.services import wait_for


@contextmanager
def running_engine(
    database_url: str,
    mqtt_url: str,
    clock: Callable[[], float] = time.time,
    **overrides: Any,
) -> Iterator[AlertEngine]:
    """An engine in this process; ``clock`` replaces the wall clock (simulated time)."""
    overrides.setdefault("alerts_client_id", f"alerts-test-{time.monotonic_ns()}")
    overrides.setdefault("alerts_tick_s", 0.2)
    settings = Settings(
        database_url=database_url,
        mqtt_url=mqtt_url,
        alerts_metrics_port=0,
        alerts_reload_s=0.5,
        **overrides,
    )
    engine = AlertEngine(settings, clock=clock)
    engine.start()
    try:
        wait_for(lambda: engine.metrics.value("ioc_alerts_broker_connected") == 1, timeout=10)
        yield engine
    finally:
        engine.stop()
