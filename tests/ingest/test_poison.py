"""Poisoned messages and messages outside the contract, through the real broker and
database: every good reading is stored, each bad message is dead-lettered with its
reason, and ingest never stops (issue 15 items 2 and 5)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from ingest import batch as batch_module
from ingest.service import IngestService
from ioc.storage.registry import NewDevice
from ioc.telemetry.payloads import format_timestamp
from testkit.broker import Broker
from testkit.mqtt import Publisher
from testkit.services import running_ingest, wait_for

Conn = psycopg.Connection[tuple[Any, ...]]


@pytest.fixture
def ingest(database_url: str, broker: Broker) -> Iterator[IngestService]:
    with running_ingest(database_url, broker.url) as service:
        yield service


def good(at: datetime, n: int) -> bytes:
    return json.dumps({"ts": format_timestamp(at), "seq": n, "readings": {"pm25_ugm3": n}}).encode()


def reasons(db: Conn, device: str) -> list[tuple[str, str]]:
    rows = db.execute(
        "SELECT topic, reason FROM dead_letters WHERE topic LIKE %s ORDER BY id",
        (f"%/{device}/%",),
    ).fetchall()
    return [(str(t), str(r)) for t, r in rows]


def stored(db: Conn, device: str) -> int:
    row = db.execute("SELECT count(*) FROM readings WHERE device_id = %s", (device,)).fetchone()
    return int(row[0]) if row else 0


def test_poisoned_and_stray_messages_are_dead_lettered_and_ingest_goes_on(
    ingest: IngestService,
    broker: Broker,
    db: Conn,
    register: Callable[..., None],
    unique: Callable[[str], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    device = unique("poison")
    register(NewDevice(device, "health"))
    real = batch_module.decode_telemetry

    def decoder_with_a_gap(topic: str, payload: bytes, *args: Any, **kw: Any) -> Any:
        if b"trips-the-decoder" in payload:
            raise ValueError("a gap in the decoder")
        return real(topic, payload, *args, **kw)

    monkeypatch.setattr(batch_module, "decode_telemetry", decoder_with_a_gap)
    base = f"ioc/v1/health/{device}"
    t0 = datetime.now(UTC) - timedelta(minutes=5)
    huge = b'{"ts": "' + format_timestamp(t0).encode() + b'", "readings": {"pm25_ugm3": '
    bad: list[tuple[str, bytes, str]] = [
        (f"{base}/telemetry", huge + b"7" * 4301 + b"}}", "huge integer"),
        (f"{base}/telemetry", b'{"trips-the-decoder": 1}', "invalid_payload"),
        (f"{base}/telemetry/extra", good(t0, 1), "bad_topic"),
        (f"{base}/metrics", good(t0, 1), "bad_topic"),
        (f"{base}/telemetry", b"x" * (64 * 1024 + 1), "oversized"),
    ]
    with Publisher(broker.url) as pub:
        n = 0
        for topic, payload, _ in bad:
            for _ in range(4):  # good messages around each bad one
                n += 1
                pub.send(f"{base}/telemetry", good(t0 + timedelta(seconds=n), n), wait=False)
            pub.send(topic, payload)
        wait_for(lambda: stored(db, device) == n, timeout=20)
        letters = wait_for(lambda: len(r := reasons(db, device)) == len(bad) and r, timeout=20)
        by_topic = [(t.removeprefix(base), r) for t, r in letters]
        assert by_topic[1:] == [
            ("/telemetry", "invalid_payload"),
            ("/telemetry/extra", "bad_topic"),
            ("/metrics", "bad_topic"),
            ("/telemetry", "oversized"),
        ]
        assert by_topic[0][0] == "/telemetry"  # the huge integer: refused with a reason
        # ingest is still there: the next good message is stored too
        pub.send(f"{base}/telemetry", good(t0 + timedelta(seconds=n + 1), n + 1))
        wait_for(lambda: stored(db, device) == n + 1, timeout=20)
    assert ingest.healthy
    assert ingest.metrics.value("ioc_ingest_rejected_total", reason="bad_topic") >= 2
    assert ingest.metrics.value("ioc_ingest_rejected_total", reason="oversized") >= 1
    assert ingest.metrics.value("ioc_worker_up", worker="ingest-writer") == 1
