"""An in-process consumer: tests feed messages in and watch what gets acknowledged,
with no broker. It keeps the real consumer's rule that an acknowledgement is valid only
on the connection the message came on (:meth:`MemoryConsumer.reconnect`)."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, datetime

from ioc.mqtt.types import Delivery, Sink, Subscription


class MemoryConsumer:
    def __init__(self, subscription: Subscription, sink: Sink) -> None:
        self.subscription = subscription
        self.sink = sink
        self.subscribed = threading.Event()
        self.acked: list[Delivery] = []
        self.started = False
        self._generation = 1
        self._mid = 0
        self._lock = threading.Lock()

    def start(self) -> None:
        self.started = True
        self.subscribed.set()

    def feed(self, topic: str, payload: bytes | str, *, redelivered: bool = False) -> Delivery:
        """Deliver one message as the broker would, on the caller's thread."""
        with self._lock:
            self._mid += 1
            mid = self._mid
        delivery = Delivery(
            topic=topic,
            payload=payload.encode() if isinstance(payload, str) else payload,
            received_at=datetime.now(UTC),
            mid=mid,
            qos=1,
            redelivered=redelivered,
            generation=self._generation,
        )
        self.sink(delivery)
        return delivery

    def reconnect(self) -> None:
        """A new connection: acknowledgements of earlier deliveries no longer count."""
        self._generation += 1

    def ack(self, deliveries: Iterable[Delivery]) -> None:
        with self._lock:
            self.acked.extend(d for d in deliveries if d.generation == self._generation)

    def stop(self) -> None:
        self.subscribed.clear()
        self.started = False
