"""The ingest service: MQTT (shared subscription, QoS 1, persistent session) → TimescaleDB.

Two threads: paho's network loop, which only appends each message to a queue, and the
writer, which takes batches off the queue (by size and by time), decodes them, writes
them in one transaction and only then acknowledges them (paho's manual ack). Nothing
is acknowledged that is not committed, so a crash of ingest, the broker or the database
loses nothing; rows are unique on (device, metric, time), so a redelivery stores nothing
twice.

Memory is bounded by MQTT flow control, not by us: the client announces a Receive
Maximum, and the broker stops sending once that many messages are unacknowledged. When
the database is slow or down, the writer keeps retrying its batch with backoff, acks
stop, and the broker holds everything else in the persistent session.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from prometheus_client import start_http_server

from ingest.batch import (
    BatchPlan,
    Inbound,
    dead_letter,
    device_of_topic,
    duplicate_letters,
    plan_batch,
)
from ingest.metrics import IngestMetrics
from ingest.registry_cache import RegistryCache
from ioc.config import Settings
from ioc.errors import InvalidInput, IOCError, Unavailable
from ioc.storage import events
from ioc.storage.db import Connection, RetryableConflict, connect, translated
from ioc.storage.housekeeping import Housekeeping
from ioc.storage.migrate import migrate
from ioc.storage.readings import ReadingWriter
from ioc.storage.registry import apply_status
from ioc.telemetry.decoder import DecodePolicy
from ioc.telemetry.topics import STATUS_FILTER, TELEMETRY_FILTER, shared
from ioc.types import Rejection, RejectReason

log = logging.getLogger("ingest")


@dataclass(frozen=True, slots=True)
class Outcome:
    inserted: int
    dead_letters: int
    duplicates: int
    redelivered: int


class IngestService:
    def __init__(self, settings: Settings, *, metrics_port: int | None = None) -> None:
        self.settings = settings
        self.metrics = IngestMetrics()
        self.policy = DecodePolicy(
            max_future=timedelta(seconds=settings.ingest_max_future_s),
            max_age=timedelta(days=settings.ingest_max_age_days),
        )
        self._metrics_port = settings.ingest_metrics_port if metrics_port is None else metrics_port
        self._registry = RegistryCache()
        self._queue: deque[Inbound] = deque()
        self._wakeup = threading.Condition()
        self._stopping = threading.Event()
        self._abandon = threading.Event()
        #: Set while the broker has confirmed our subscriptions: messages now reach us.
        self.subscribed = threading.Event()
        self._generation = 0
        self._busy = False
        self._conn: Connection | None = None
        self._writer: ReadingWriter | None = None
        self._thread: threading.Thread | None = None
        self._last_seen: dict[str, datetime] = {}
        self._housekeeping = Housekeeping(settings)
        self.client = self._make_client()

    # ------------------------------------------------------------------ MQTT side

    def _make_client(self) -> mqtt.Client:
        endpoint = self.settings.mqtt
        client_id = self.settings.ingest_client_id or f"ioc-ingest-{socket.gethostname()}"
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if endpoint.username:
            client.username_pw_set(endpoint.username, endpoint.password)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def _connect_properties(self) -> Properties:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.settings.ingest_session_expiry_s
        props.ReceiveMaximum = self.settings.ingest_receive_maximum
        return props

    def _on_connect(
        self, client: mqtt.Client, _u: Any, flags: Any, rc: ReasonCode, _p: Any
    ) -> None:
        if rc.is_failure:
            log.error("broker refused the connection", extra={"reason": str(rc)})
            return
        with self._wakeup:
            self._generation += 1
        self.metrics.connected.set(1)
        group = self.settings.ingest_group
        client.subscribe([(shared(group, TELEMETRY_FILTER), 1), (shared(group, STATUS_FILTER), 1)])
        log.info(
            "connected to broker",
            extra={"session_present": bool(flags.session_present), "group": group},
        )

    def _on_subscribe(
        self, _c: mqtt.Client, _u: Any, _mid: int, codes: list[ReasonCode], _p: Any
    ) -> None:
        if any(code.is_failure for code in codes):
            log.error("broker refused the subscription", extra={"reasons": [str(c) for c in codes]})
            return
        self.subscribed.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        self.subscribed.clear()
        self.metrics.connected.set(0)
        if not self._stopping.is_set():
            log.warning("disconnected from broker; reconnecting", extra={"reason": str(rc)})

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        inbound = Inbound(
            topic=msg.topic,
            payload=bytes(msg.payload),
            received_at=datetime.now(UTC),
            mid=msg.mid,
            qos=msg.qos,
            redelivered=bool(msg.dup),
            generation=self._generation,
        )
        queue = self._queue
        queue.append(inbound)  # deque.append is atomic; wake the writer only when it matters
        if len(queue) == 1 or len(queue) >= self.settings.ingest_batch_messages:
            with self._wakeup:
                self._wakeup.notify()

    # ------------------------------------------------------------------ writer side

    def _take_batch(self) -> list[Inbound]:
        """Wait for a first message, then up to ``batch_wait_ms`` more for a full batch."""
        limit = self.settings.ingest_batch_messages
        wait = self.settings.ingest_batch_wait_ms / 1000
        with self._wakeup:
            if not self._queue:
                self._wakeup.wait(timeout=0.25)
            if not self._queue:
                return []
            deadline = time.monotonic() + wait
            while len(self._queue) < limit and not self._stopping.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._wakeup.wait(timeout=remaining)
            n = min(limit, len(self._queue))
            self._busy = True
            return [self._queue.popleft() for _ in range(n)]

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.settings.database_url, application_name="ioc-ingest")
            self._writer = ReadingWriter(ReadingWriter.rollups_maintained(self._conn))
            self._conn.commit()
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def _plan(self, conn: Connection, batch: list[Inbound]) -> BatchPlan:
        with translated():
            if self._registry.due():
                self._registry.refresh(conn)
                conn.commit()
            plan = plan_batch(batch, self._registry.lookup, self.policy)
            unknown = {
                d.device_id
                for d in plan.dead_letters
                if d.reason is RejectReason.UNKNOWN_DEVICE and d.device_id
            }
            if unknown:
                found = self._registry.fill(conn, unknown)
                conn.commit()
                if found:
                    plan = plan_batch(batch, self._registry.lookup, self.policy)
        return plan

    def _commit(self, conn: Connection, batch: list[Inbound], plan: BatchPlan) -> Outcome:
        """One transaction: readings, latest, rollups, dead letters, statuses, events."""
        assert self._writer is not None
        with translated(), conn.transaction():
            result = self._writer.write(conn, plan.readings)
            duplicates = dict(plan.in_batch_duplicates)
            for index, count in result.duplicates.items():
                duplicates[index] = duplicates.get(index, 0) + count
            letters, redelivered = duplicate_letters(batch, duplicates)
            self._writer.write_dead_letters(conn, plan.dead_letters + letters)
            for update in apply_status(conn, plan.statuses):
                events.publish(
                    conn,
                    "device.online" if update.online else "device.offline",
                    {
                        "device_id": update.device_id,
                        "domain": update.domain,
                        "ts": update.ts.isoformat(),
                    },
                )
        return Outcome(
            inserted=result.inserted,
            dead_letters=len(plan.dead_letters) + len(letters),
            duplicates=sum(letter.count for letter in letters),
            redelivered=redelivered,
        )

    def _process(self, batch: list[Inbound]) -> None:
        """Commit the batch, retrying until it is committed (or the service gives up on
        it at shutdown, unacknowledged, for the broker to deliver again)."""
        started = time.monotonic()
        delay = 0.2
        while True:
            try:
                conn = self._connection()
                plan = self._plan(conn, batch)
                outcome = self._commit(conn, batch, plan)
                break
            except RetryableConflict as exc:
                self.metrics.db_errors.inc()
                log.info(
                    "batch conflicted with another writer; retrying", extra={"error": str(exc)}
                )
            except InvalidInput as exc:
                # The database refused the data itself (a gap in the decoder): store the
                # other messages, keep the one that did it as a dead letter.
                self.metrics.db_errors.inc()
                log.error(
                    "database refused a batch; isolating the message",
                    extra={"error": str(exc), "messages": len(batch)},
                )
                if len(batch) == 1:
                    self._refuse(batch[0], exc)
                else:
                    for msg in batch:
                        self._process([msg])
                return
            except Unavailable as exc:
                self.metrics.db_errors.inc()
                self._drop_connection()
                log.warning(
                    "database unavailable; holding the batch and retrying",
                    extra={
                        "error": str(exc),
                        "retry_in_s": round(delay, 2),
                        "messages": len(batch),
                    },
                )
                if self._abandon.wait(delay):
                    return
                delay = min(delay * 2, 10.0)
        self._acknowledge(batch)
        self._account(batch, plan, outcome, started)

    def _refuse(self, msg: Inbound, exc: InvalidInput) -> None:
        """Dead-letter one message the database would not take, then acknowledge it."""
        why = Rejection(RejectReason.INVALID_PAYLOAD, f"the database refused it: {exc.detail}")
        letter = dead_letter(msg, device_of_topic(msg.topic), RejectReason.INVALID_PAYLOAD, [why])
        try:
            conn = self._connection()
            with translated(), conn.transaction():
                ReadingWriter.write_dead_letters(conn, [letter])
            self.metrics.dead_letters.inc()
        except IOCError as again:
            log.error(
                "could not dead-letter the message either; dropping it",
                extra={"error": str(again), "topic": msg.topic},
            )
        self.metrics.rejected.labels(RejectReason.INVALID_PAYLOAD.value).inc()
        self._acknowledge([msg])

    def _acknowledge(self, batch: list[Inbound]) -> None:
        generation = self._generation
        for msg in batch:
            if msg.qos > 0 and msg.generation == generation:
                self.client.ack(msg.mid, msg.qos)

    def _account(
        self, batch: list[Inbound], plan: BatchPlan, outcome: Outcome, started: float
    ) -> None:
        m = self.metrics
        now = datetime.now(UTC)
        m.received.labels("telemetry").inc(plan.telemetry)
        m.received.labels("status").inc(plan.status)
        m.stored.inc(outcome.inserted)
        m.dead_letters.inc(outcome.dead_letters)
        m.redelivered.inc(outcome.redelivered)
        m.status_changes.inc(len(plan.statuses))
        for reason, count in plan.rejected.items():
            m.rejected.labels(reason.value).inc(count)
        if outcome.duplicates:
            m.rejected.labels(RejectReason.DUPLICATE.value).inc(outcome.duplicates)
        m.out_of_order.inc(self._count_out_of_order(plan))
        m.batch_seconds.observe(time.monotonic() - started)
        m.batch_messages.observe(len(batch))
        m.commit_lag.observe((now - batch[0].received_at).total_seconds())
        m.queue_depth.set(len(self._queue))

    def _count_out_of_order(self, plan: BatchPlan) -> int:
        """Samples older than the newest one already seen from their device (this replica)."""
        late: set[tuple[str, datetime]] = set()
        for reading, _ in plan.readings:
            seen = self._last_seen.get(reading.device_id)
            if seen is not None and reading.time < seen:
                late.add((reading.device_id, reading.time))
            elif seen is None or reading.time > seen:
                self._last_seen[reading.device_id] = reading.time
        return len(late)

    def _run_writer(self) -> None:
        while True:
            batch = self._take_batch()
            if batch:
                self._process(batch)
                with self._wakeup:
                    self._busy = False
                    self._wakeup.notify_all()
                continue
            if self._stopping.is_set():
                return

    def start(self) -> None:
        """Migrate, connect, and run in background threads; returns at once."""
        migrate(self.settings.database_url)
        if self._metrics_port:
            start_http_server(self._metrics_port, addr="127.0.0.1", registry=self.metrics.registry)
        endpoint = self.settings.mqtt
        self.client.connect_async(
            endpoint.host,
            endpoint.port,
            keepalive=30,
            clean_start=False,
            properties=self._connect_properties(),
        )
        self.client.loop_start()
        self._thread = threading.Thread(target=self._run_writer, name="ingest-writer", daemon=True)
        self._thread.start()
        self._housekeeping.start()
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
        return len(self._queue)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once nothing is queued or being written (for tests and draining)."""
        deadline = time.monotonic() + timeout
        with self._wakeup:
            while self._queue or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._wakeup.wait(timeout=min(remaining, 0.05))
        return True

    def stop(self, timeout: float = 30.0) -> None:
        """Drain: commit and acknowledge everything received, then disconnect. What cannot
        be committed within ``timeout`` stays unacknowledged: the broker keeps it."""
        if not self.wait_idle(timeout):
            log.warning(
                "could not drain before the deadline; leaving the rest to the broker",
                extra={"queued": len(self._queue)},
            )
            self._abandon.set()
        self._stopping.set()
        with self._wakeup:
            self._wakeup.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
        self.client.disconnect()
        self.client.loop_stop()
        self._housekeeping.stop()
        self._drop_connection()
        log.info(
            "ingest stopped",
            extra={"stored": self.metrics.value("ioc_ingest_readings_stored_total")},
        )
