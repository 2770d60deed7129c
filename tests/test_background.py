"""The background-worker helper: backoff, one log line per state change, retry counts,
and a thread that dies is reported, never silent."""

from __future__ import annotations

import logging
import random
import threading

import pytest
from prometheus_client import CollectorRegistry

from ioc.background import Backoff, Failures, Outage, Worker, WorkerMetrics
from ioc.errors import StorageUnavailable
from testkit.services import wait_for


def test_backoff_doubles_with_jitter_up_to_the_cap_and_resets() -> None:
    b = Backoff(base_s=1.0, cap_s=8.0, rng=random.Random(1))
    delays = [b.next() for _ in range(6)]
    ceilings = [1, 2, 4, 8, 8, 8]
    assert all(c / 2 <= d <= c for d, c in zip(delays, ceilings, strict=True))
    b.reset()
    assert b.attempts == 0 and b.next() <= 1.0


def test_an_outage_is_logged_once_when_it_starts_and_once_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    log = logging.getLogger("test.outage")
    caplog.set_level(logging.INFO, logger="test.outage")
    outage = Outage("w", "database", log, WorkerMetrics(registry))
    for _ in range(1000):
        outage.failed(StorageUnavailable("connection refused"))
    outage.succeeded()
    outage.succeeded()
    assert [r.getMessage() for r in caplog.records] == [
        "database unavailable; retrying with backoff",
        "database available again",
    ]
    labels = {"worker": "w", "dependency": "database"}
    assert registry.get_sample_value("ioc_worker_retries_total", labels) == 1000
    assert registry.get_sample_value("ioc_worker_dependency_down", labels) == 0


def test_a_worker_retries_an_unavailable_dependency_then_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="test.worker")
    calls: list[int] = []

    def step() -> float | None:
        calls.append(1)
        if len(calls) <= 5:
            raise StorageUnavailable("down")
        return 0.01

    registry = CollectorRegistry()
    worker = Worker(
        "w",
        step,
        log=logging.getLogger("test.worker"),
        metrics=WorkerMetrics(registry),
        backoff=Backoff(base_s=0.001, cap_s=0.002),
    )
    worker.start()
    wait_for(lambda: len(calls) > 8, timeout=5)
    worker.stop()
    assert not worker.alive and worker.failed is None
    assert len(caplog.records) == 2  # down, then back: not one line per attempt
    assert registry.get_sample_value("ioc_worker_up", {"worker": "w"}) == 0  # stopped


def test_a_worker_that_dies_reports_it_and_stops_the_service() -> None:
    stop = threading.Event()
    failures = Failures(stop)
    registry = CollectorRegistry()
    cleaned = threading.Event()

    def step() -> float | None:
        raise RuntimeError("a bug")

    worker = Worker(
        "buggy",
        step,
        log=logging.getLogger("test.worker"),
        metrics=WorkerMetrics(registry),
        on_fatal=failures,
        final=cleaned.set,
    )
    worker.start()
    assert stop.wait(5), "the service's stop event is set"
    wait_for(lambda: not worker.alive, timeout=5)
    assert failures.first is not None and failures.first[0] == "buggy"
    assert isinstance(worker.failed, RuntimeError)
    assert registry.get_sample_value("ioc_worker_up", {"worker": "buggy"}) == 0
    assert cleaned.is_set()
