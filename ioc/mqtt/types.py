"""What a consumer hands over and what it promises, independent of the client library."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Delivery:
    """One received message."""

    topic: str
    payload: bytes
    received_at: datetime
    mid: int = 0
    qos: int = 1
    #: The broker re-sent it (after our reconnect): duplicates are then our own doing.
    redelivered: bool = False
    #: The connection it arrived on; an acknowledgement is only valid on that connection.
    generation: int = 0


@dataclass(frozen=True, slots=True)
class Subscription:
    """How a service consumes: who it is, what it subscribes to, and how it acknowledges.

    ``persistent``: clean start off and a session expiry, so the broker keeps what
    arrives while the service is down. ``manual_ack``: a QoS 1 message is acknowledged
    only when the caller says so (after its commit); without it, on receipt.
    ``receive_maximum`` bounds the unacknowledged messages the broker sends at once.
    """

    client_id: str
    topics: tuple[tuple[str, int], ...]
    persistent: bool = False
    session_expiry_s: int = 0
    manual_ack: bool = False
    receive_maximum: int | None = None
    keepalive_s: int = 30
    reconnect_min_s: float = 1.0
    reconnect_max_s: float = 30.0
    #: Subscribed instead when the broker refuses ``topics`` (e.g. an account whose
    #: ACL predates a wider filter): the service runs, narrower, and says so once.
    fallback_topics: tuple[tuple[str, int], ...] = ()
    #: Logged with the connection, e.g. the shared-subscription group.
    labels: dict[str, object] = field(default_factory=dict)


Sink = Callable[[Delivery], None]
ConnectionState = Callable[[bool], None]


class Consumer(Protocol):
    """A running subscription. ``sink`` is called on the client's own thread for each
    message: it must only hand the message over (queue it), never block."""

    #: Set while the broker has confirmed the subscriptions.
    subscribed: threading.Event

    def start(self) -> None: ...

    def ack(self, deliveries: Iterable[Delivery]) -> None:
        """Acknowledge what the caller has committed (deliveries of an earlier
        connection are skipped: the broker will send them again)."""
        ...

    def stop(self) -> None: ...
