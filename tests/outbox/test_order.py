"""The outbox hands a target each subject's items in the order they were written, and
one failing item holds back only its own subject (issue 15 item 4)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from ioc.errors import Unavailable
from ioc.outbox.drainer import Drainer
from ioc.outbox.store import OutboxItem, declare_routes, enqueue, subject_of
from testkit.services import wait_for

Conn = psycopg.Connection[tuple[Any, ...]]
KIND = "order.event"


class Recorder:
    """A target that records what it accepted, in order; ``refuse`` keys fail."""

    def __init__(self, name: str, refuse: set[str] | None = None, pause_s: float = 0.0) -> None:
        self.name = name
        self.refuse = refuse or set()
        self.pause_s = pause_s
        self.items: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def deliver(self, item: OutboxItem) -> None:
        time.sleep(self.pause_s)
        if item.key in self.refuse:
            raise Unavailable(f"{item.key} refused")
        with self._lock:
            self.items.append((str(item.payload["subject"]), item.key))

    def of(self, subject: str) -> list[str]:
        return [k for s, k in self.items if s == subject]


@pytest.fixture
def target(db: Conn, unique: Callable[[str], str]) -> Iterator[str]:
    name = unique("ordered")
    declare_routes(db, [name], kinds=(KIND,))
    yield name
    db.execute("DELETE FROM outbox_routes WHERE target = %s", (name,))


def put(db: Conn, subject: str, key: str) -> None:
    enqueue(db, KIND, key, {"subject": subject}, "critical", subject=subject)


def test_subject_of_names_the_series() -> None:
    assert subject_of("alert.opened", {"id": 42}) == "alert:42"
    assert subject_of("incident.resolved", {"id": 7}) == "incident:7"
    assert subject_of("goc.report", {"report_id": "c:2026"}) == "goc.report"


def test_a_failing_item_holds_back_its_subject_only(
    db: Conn, database_url: str, target: str, unique: Callable[[str], str]
) -> None:
    a, b = unique("a"), unique("b")
    for i in range(3):
        put(db, a, f"{a}-{i}")
        put(db, b, f"{b}-{i}")
    recorder = Recorder(target, refuse={f"{a}-0"})
    clock = [datetime.now(UTC).timestamp() + 1]
    drainer = Drainer(database_url, [recorder], clock=lambda: clock[0], rng=random.Random(3))
    drainer.drain()
    assert recorder.of(b) == [f"{b}-0", f"{b}-1", f"{b}-2"]  # not held back
    assert recorder.of(a) == []  # a-1 and a-2 wait behind a-0
    assert drainer.failed[target] == 1
    recorder.refuse.clear()
    clock[0] += 3600  # past a-0's backoff
    drainer.drain()
    assert recorder.of(a) == [f"{a}-0", f"{a}-1", f"{a}-2"]


def test_a_dead_item_releases_its_subject(
    db: Conn, database_url: str, target: str, unique: Callable[[str], str]
) -> None:
    a = unique("a")
    for i in range(2):
        put(db, a, f"{a}-{i}")
    recorder = Recorder(target, refuse={f"{a}-0"})
    clock = [datetime.now(UTC).timestamp() + 1]
    drainer = Drainer(database_url, [recorder], clock=lambda: clock[0], max_attempts=1)
    drainer.drain()
    clock[0] += 1
    drainer.drain()
    assert recorder.of(a) == [f"{a}-1"]


def test_concurrent_drainers_keep_each_subject_in_order(
    db: Conn, database_url: str, target: str, unique: Callable[[str], str]
) -> None:
    subjects = [unique(f"s{n}") for n in range(4)]
    expected = {s: [f"{s}-{i}" for i in range(6)] for s in subjects}
    for i in range(6):
        for s in subjects:
            put(db, s, f"{s}-{i}")
    recorder = Recorder(target, pause_s=0.005)
    later = datetime.now(UTC) + timedelta(seconds=1)
    drainers = [
        Drainer(database_url, [recorder], clock=lambda: later.timestamp(), poll_s=0.02)
        for _ in range(3)
    ]
    for d in drainers:
        d.start()
    try:
        wait_for(lambda: len(recorder.items) == 24, timeout=20)
    finally:
        for d in drainers:
            d.stop()
    assert {s: recorder.of(s) for s in subjects} == expected
    assert len(recorder.items) == 24  # none twice
