"""The inbox's batch wait follows what a write costs: a partial batch goes out soon
after a fast write, and the configured wait still caps it after a slow one."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from ingest.inbox import LINGER_WRITES, MIN_LINGER_S, Inbox
from ioc.mqtt.types import Delivery


def delivery(n: int) -> Delivery:
    return Delivery(
        topic="ioc/v1/energy/d/telemetry", payload=b"{}", received_at=datetime.now(UTC), mid=n
    )


def test_a_partial_batch_goes_out_soon_after_a_fast_write() -> None:
    inbox = Inbox(batch_messages=1000, batch_wait_s=30.0)
    inbox.wrote(0.001)  # a write of a millisecond: the wait is the floor, not 30 s
    inbox.put(delivery(1))
    inbox.put(delivery(2))
    began = time.monotonic()
    batch = inbox.take()
    assert [d.mid for d in batch] == [1, 2]
    assert time.monotonic() - began < 5.0


def test_the_wait_follows_the_write_within_its_bounds() -> None:
    inbox = Inbox(batch_messages=10, batch_wait_s=0.5)
    assert inbox.linger_s == 0.5  # before any write: the configured wait
    inbox.wrote(0.0)
    assert inbox.linger_s == MIN_LINGER_S
    inbox.wrote(0.05)
    assert inbox.linger_s == LINGER_WRITES * 0.05
    inbox.wrote(10.0)
    assert inbox.linger_s == 0.5


def test_a_full_batch_does_not_wait() -> None:
    inbox = Inbox(batch_messages=3, batch_wait_s=30.0)
    for n in range(5):
        inbox.put(delivery(n))
    assert [d.mid for d in inbox.take()] == [0, 1, 2]
