"""Ingest driven through the in-memory consumer (no broker): messages fed in, acks
watched. The real database is used: acknowledgement follows the commit, never precedes
it, and a writer that dies says so."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from ingest.service import IngestService
from ioc.background import Failures
from ioc.mqtt.memory import MemoryConsumer
from ioc.mqtt.types import Sink, Subscription
from ioc.storage.registry import NewDevice
from testkit.services import test_settings as settings_for
from testkit.services import wait_for


def good(n: int) -> bytes:
    at = datetime.now(UTC).isoformat()
    return json.dumps({"ts": at, "seq": n, "readings": {"vehicle_count": n}}).encode()


@pytest.fixture
def device(register: Callable[..., None], unique: Callable[[str], str]) -> str:
    d = unique("seam")
    register(NewDevice(d, "traffic"))
    return d


@pytest.fixture
def ingest(database_url: str) -> Iterator[tuple[IngestService, MemoryConsumer, threading.Event]]:
    made: list[MemoryConsumer] = []

    def factory(sub: Subscription, sink: Sink) -> MemoryConsumer:
        made.append(MemoryConsumer(sub, sink))
        return made[0]

    stop = threading.Event()
    settings = settings_for(database_url, "mqtt://127.0.0.1:1", ingest_batch_wait_ms=10)
    service = IngestService(settings, consumer=factory, on_fatal=Failures(stop))
    service.start()
    try:
        yield service, made[0], stop
    finally:
        service.stop(timeout=5)


def stored(db: psycopg.Connection[Any], device: str) -> int:
    row = db.execute("SELECT count(*) FROM readings WHERE device_id = %s", (device,)).fetchone()
    return int(row[0]) if row else 0


def test_ingest_subscribes_to_everything_under_the_prefix(
    ingest: tuple[IngestService, MemoryConsumer, threading.Event],
) -> None:
    _, consumer, _ = ingest
    ((topic, qos),) = consumer.subscription.topics
    assert topic.endswith("/ioc/v1/#") and topic.startswith("$share/") and qos == 1
    assert consumer.subscription.manual_ack and consumer.subscription.persistent
    assert len(consumer.subscription.fallback_topics) == 2


def test_acks_come_after_the_commit_and_cover_every_message(
    ingest: tuple[IngestService, MemoryConsumer, threading.Event],
    device: str,
    db: psycopg.Connection[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service, consumer, _ = ingest
    gate = threading.Event()
    real_commit = service.committer.commit

    def held_commit(*args: Any) -> Any:
        assert gate.wait(10)
        return real_commit(*args)

    monkeypatch.setattr(service.committer, "commit", held_commit)
    sent = [consumer.feed(f"ioc/v1/traffic/{device}/telemetry", good(i)) for i in range(5)]
    sent.append(consumer.feed(f"ioc/v1/traffic/{device}/telemetry/extra", good(9)))
    time.sleep(0.2)  # the writer has the batch; nothing may be acknowledged yet
    assert consumer.acked == [] and stored(db, device) == 0
    gate.set()
    assert service.wait_idle(10)
    assert {d.mid for d in consumer.acked} == {d.mid for d in sent}
    assert stored(db, device) == 5
    row = db.execute(
        "SELECT reason FROM dead_letters WHERE topic = %s", (sent[-1].topic,)
    ).fetchone()
    assert row == ("bad_topic",)


def test_acks_of_an_earlier_connection_are_not_sent(
    ingest: tuple[IngestService, MemoryConsumer, threading.Event],
    device: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service, consumer, _ = ingest
    gate = threading.Event()
    real_commit = service.committer.commit
    monkeypatch.setattr(service.committer, "commit", lambda *a: gate.wait(10) and real_commit(*a))
    consumer.feed(f"ioc/v1/traffic/{device}/telemetry", good(1))
    time.sleep(0.1)
    consumer.reconnect()  # the broker will send it again on the new connection
    gate.set()
    assert service.wait_idle(10)
    assert consumer.acked == []


def test_a_writer_that_dies_stops_the_service_and_shows_in_metrics(
    ingest: tuple[IngestService, MemoryConsumer, threading.Event],
    device: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    service, consumer, stop = ingest

    def broken(*_: Any) -> Any:
        raise RuntimeError("an invariant broke")

    monkeypatch.setattr(service.committer, "plan", broken)
    consumer.feed(f"ioc/v1/traffic/{device}/telemetry", good(1))
    assert stop.wait(10), "the entry point is told to stop"
    wait_for(lambda: not service.healthy)
    assert service.metrics.value("ioc_worker_up", worker="ingest-writer") == 0
    assert consumer.acked == []  # the broker keeps the message for the next process
