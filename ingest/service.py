"""The ingest service: MQTT (shared subscription, QoS 1, persistent session) → TimescaleDB.

Wiring only; each job has its module: :mod:`ioc.mqtt` receives (the consumer only hands
each message to the :class:`~ingest.inbox.Inbox`), the writer worker takes batches off
it, :mod:`ingest.committer` plans and writes each in one transaction, and only then are
its messages acknowledged (manual ack). Nothing is acknowledged that is not committed,
so a crash of ingest, the broker or the database loses nothing; rows are unique on
(device, metric, time), so a redelivery stores nothing twice. :mod:`ingest.accounting`
keeps the counters.

Memory is bounded by MQTT flow control, not by us: the consumer announces a Receive
Maximum, and the broker stops sending once that many messages are unacknowledged. When
the database is slow or down, the writer holds its batch and retries it with backoff
(:class:`ioc.background.Worker`: one log line when the database goes, one when it is
back), acks stop, and the broker holds everything else in the persistent session.

Ingest subscribes to everything under ``ioc/v1/#``, so a message on a topic outside the
contract is dead-lettered (``bad_topic``) rather than lost unseen. A worker thread that
dies (a bug) is reported on ``/metrics`` (``ioc_worker_up``) and through ``on_fatal``,
which ``python -m ingest`` turns into a non-zero exit for its supervisor.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import timedelta

from prometheus_client import start_http_server

from ingest.accounting import Accounting
from ingest.committer import Committer
from ingest.inbox import Inbox
from ingest.metrics import IngestMetrics
from ioc.background import Backoff, Fatal, Worker
from ioc.config import Settings
from ioc.errors import InvalidInput, IOCError, Unavailable
from ioc.mqtt.paho import PahoConsumer
from ioc.mqtt.types import Consumer, Delivery, Sink, Subscription
from ioc.storage.db import RetryableConflict
from ioc.storage.housekeeping import Housekeeping
from ioc.storage.migrate import migrate
from ioc.telemetry.decoder import DecodePolicy
from ioc.telemetry.topics import PREFIX, STATUS_FILTER, TELEMETRY_FILTER, shared

log = logging.getLogger("ingest")

#: Everything under the contract's prefix: what matches no contract topic is dead-lettered.
INGEST_FILTER = f"{PREFIX}/#"

ConsumerFactory = Callable[[Subscription, Sink], Consumer]


def subscription(settings: Settings) -> Subscription:
    group = settings.ingest_group
    return Subscription(
        client_id=settings.ingest_client_id or f"ioc-ingest-{socket.gethostname()}",
        topics=((shared(group, INGEST_FILTER), 1),),
        # a broker account whose ACL allows only the contract topics still works
        fallback_topics=((shared(group, TELEMETRY_FILTER), 1), (shared(group, STATUS_FILTER), 1)),
        persistent=True,
        session_expiry_s=settings.ingest_session_expiry_s,
        manual_ack=True,
        receive_maximum=settings.ingest_receive_maximum,
        labels={"group": group},
    )


class IngestService:
    def __init__(
        self,
        settings: Settings,
        *,
        metrics_port: int | None = None,
        consumer: ConsumerFactory | None = None,
        on_fatal: Fatal | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = IngestMetrics()
        self.policy = DecodePolicy(
            max_future=timedelta(seconds=settings.ingest_max_future_s),
            max_age=timedelta(days=settings.ingest_max_age_days),
        )
        self._metrics_port = settings.ingest_metrics_port if metrics_port is None else metrics_port
        self.inbox = Inbox(settings.ingest_batch_messages, settings.ingest_batch_wait_ms / 1000)
        self.committer = Committer(settings.database_url, self.policy)
        self.accounting = Accounting(self.metrics)
        self._held: deque[list[Delivery]] = deque()
        self._started_at = 0.0
        make = consumer or self._paho
        self.consumer = make(subscription(settings), self.inbox.put)
        self.writer = Worker(
            "ingest-writer",
            self._step,
            log=log,
            metrics=self.metrics.workers,
            backoff=Backoff(base_s=0.2, cap_s=10.0),
            on_fatal=on_fatal,
            final=self.committer.close,
        )
        self._housekeeping = Housekeeping(settings, metrics=self.metrics.workers, on_fatal=on_fatal)

    def _paho(self, sub: Subscription, sink: Sink) -> Consumer:
        return PahoConsumer(
            self.settings.mqtt,
            sub,
            sink,
            on_connection=lambda up: self.metrics.connected.set(1 if up else 0),
            metrics=self.metrics.workers,
            name="ingest-mqtt",
        )

    @property
    def subscribed(self) -> threading.Event:
        """Set while the broker has confirmed our subscriptions: messages now reach us."""
        return self.consumer.subscribed

    # ------------------------------------------------------------------ writer

    def _step(self) -> float | None:
        """Commit the held batch (or the next one); Unavailable leaves it held for the
        worker to retry after its backoff."""
        if not self._held:
            batch = self.inbox.take()
            if not batch:
                return None
            self._held.append(batch)
            self._started_at = time.monotonic()
        batch = self._held[0]
        try:
            plan = self.committer.plan(batch)
            outcome = self.committer.commit(batch, plan)
        except RetryableConflict as exc:
            self.metrics.db_errors.inc()
            log.info("batch conflicted with another writer; retrying", extra={"error": str(exc)})
            return None
        except Unavailable:
            self.metrics.db_errors.inc()
            self.committer.close()
            raise
        except InvalidInput as exc:
            # The database refused the data itself (a gap in the decoder): store the
            # other messages, keep the one that did it as a dead letter.
            self.metrics.db_errors.inc()
            log.error(
                "database refused a batch; isolating the message",
                extra={"error": str(exc), "messages": len(batch)},
            )
            self._held.popleft()
            if len(batch) == 1:
                self._refuse(batch[0], exc)
            else:
                self._held.extendleft([m] for m in reversed(batch))
            self._release_if_done()
            return None
        self._held.popleft()
        self._acknowledge(batch)
        self.inbox.wrote(time.monotonic() - self._started_at)
        self.accounting.committed(batch, plan, outcome, self._started_at, len(self.inbox))
        self._release_if_done()
        return None

    def _release_if_done(self) -> None:
        if not self._held:
            self.inbox.done()

    def _refuse(self, msg: Delivery, exc: InvalidInput) -> None:
        """Dead-letter one message the database would not take, then acknowledge it."""
        try:
            self.committer.refuse(msg, exc)
        except IOCError as again:
            log.error(
                "could not dead-letter the message either; dropping it",
                extra={"error": str(again), "topic": msg.topic},
            )
            self.metrics.rejected.labels("invalid_payload").inc()
        else:
            self.accounting.refused()
        self._acknowledge([msg])

    def _acknowledge(self, batch: list[Delivery]) -> None:
        self.consumer.ack(batch)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Migrate, connect, and run in background threads; returns at once."""
        migrate(self.settings.database_url)
        if self._metrics_port:
            start_http_server(self._metrics_port, addr="127.0.0.1", registry=self.metrics.registry)
        self.consumer.start()
        self.writer.start()
        self._housekeeping.start()
        endpoint = self.settings.mqtt
        log.info(
            "ingest started",
            extra={
                "broker": f"{endpoint.host}:{endpoint.port}",
                "metrics_port": self._metrics_port or None,
            },
        )

    @property
    def queued(self) -> int:
        """Messages received and not yet committed (bounded by the Receive Maximum)."""
        return len(self.inbox)

    @property
    def healthy(self) -> bool:
        """False once a worker thread has died (the process should then exit)."""
        return self.writer.failed is None and self._housekeeping.worker.failed is None

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once nothing is queued or being written (for tests and draining)."""
        return self.inbox.wait_idle(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Drain: commit and acknowledge everything received, then disconnect. What cannot
        be committed within ``timeout`` stays unacknowledged: the broker keeps it."""
        if self.writer.alive and not self.wait_idle(timeout):
            log.warning(
                "could not drain before the deadline; leaving the rest to the broker",
                extra={"queued": len(self.inbox)},
            )
        self.inbox.close()
        self.writer.stop(timeout)
        self.consumer.stop()
        self._housekeeping.stop()
        log.info(
            "ingest stopped",
            extra={"stored": self.metrics.value("ioc_ingest_readings_stored_total")},
        )
