"""The alert engine service: broker stream in, alerts committed out.

Two threads, as in ingest: the MQTT consumer (:mod:`ioc.mqtt`) only queues each
message; the evaluator (a :class:`~ioc.background.Worker`) takes what is queued, decodes
it (:mod:`ioc.telemetry.decoder`; rejected readings are dropped: ingest dead-letters
them), feeds the :class:`~ioc.alerts.book.Book`, ticks it, and writes the resulting
changes through :mod:`ioc.alerts.store`. A database outage keeps the changes and retries
them after a growing backoff, logged once when it starts and once when it ends.

Replicas: the engine is **partitioned**, not load-shared. Each replica subscribes with a
plain (non-shared) subscription to the telemetry and status of its domains
(``IOC_ALERTS_DOMAINS``) and keeps the devices of its districts
(``IOC_ALERTS_DISTRICTS``). A shared subscription would spread one device's readings
over replicas, and no replica could then judge ``for``, rate or anomaly rules; a plain
subscription also receives the retained statuses (MQTT v5 does not send retained
messages to shared subscriptions). A group rule over a whole domain needs a replica that
holds the whole domain: partition such domains by domain only. Two replicas of the same
partition both evaluate everything (hot standby): the database's one-open-alert index
lets only one of them open an alert, only one resolve it, and only the winner's change
is announced.

At start the engine runs the migrations, loads rules and devices, restores open alerts
as firing states and re-evaluates recent latest values, so a restart neither duplicates
nor forgets an alert and catches what crossed a level while it was down.

Incidents: every alert change the engine commits places its alert in its incident in
the same transaction (:mod:`ioc.incidents.sync`, through :mod:`ioc.alerts.store`); the
board is the database's, so there is nothing to restore but the open alerts no incident
holds yet (adopted at start). Each tick also escalates the incidents due
(``IOC_INCIDENT_ESCALATE_MAJOR_S`` / ``_CRITICAL_S``), once per tier whatever the
number of replicas or restarts: the database records each tier once.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ioc.alerts import lifecycle, store
from ioc.alerts.book import Book, Change
from ioc.alerts.metrics import EngineMetrics
from ioc.alerts.snapshot import Partition, load_devices, recent_latest, rules_signature
from ioc.background import Backoff, Fatal, Worker
from ioc.config import Settings
from ioc.errors import InvalidInput, Unavailable
from ioc.incidents import sync as incident_sync
from ioc.mqtt.paho import PahoConsumer
from ioc.mqtt.types import Consumer, Delivery, Sink, Subscription
from ioc.storage.db import Connection, connect
from ioc.storage.migrate import migrate
from ioc.telemetry.decoder import DeviceRecord, decode_status, decode_telemetry
from ioc.types import RejectReason

log = logging.getLogger("ioc.alerts")

Message = tuple[str, bytes, datetime, float]  # topic, payload, received at, monotonic
ConsumerFactory = Callable[[Subscription, Sink], Consumer]


class AlertEngine:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        consumer: ConsumerFactory | None = None,
        on_fatal: Fatal | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.partition = Partition.parse(settings.alerts_domains, settings.alerts_districts)
        self.metrics = EngineMetrics()
        self.book = Book()
        self._records: dict[str, DeviceRecord] = {}
        self._queue: deque[Message] = deque()
        self._wakeup = threading.Condition()
        self._stopping = threading.Event()
        self._busy = False
        self._conn: Connection | None = None
        self._signature: tuple[object, ...] = ()
        self._next_reload = 0.0
        #: After a failed write or reload the database is left alone until this
        #: (monotonic) time, growing with each failure: an outage is not retried on every
        #: round (issue 15: 110,920 "reload failed" lines in a five-minute outage).
        self._db_retry_at = 0.0
        self._db_backoff = Backoff(base_s=0.5, cap_s=30.0)
        self._ticked = 0.0
        self._refreshed_unknown = 0.0
        self._backlog: list[Change] = []
        self.tiers = incident_sync.tiers(
            settings.incident_escalate_major_s, settings.incident_escalate_critical_s
        )
        self._counts = {"telemetry": 0, "status": 0, "readings": 0}
        self.worker = Worker(
            "alerts-evaluator",
            self._round,
            log=log,
            metrics=self.metrics.workers,
            backoff=Backoff(base_s=0.5, cap_s=30.0),
            on_fatal=on_fatal,
            stop=self._stopping,
        )
        #: the database as the evaluator sees it: one log line when it goes, one when back
        self.outage = self.worker.outage
        make = consumer or self._paho
        self.consumer = make(self.subscription(), self._on_message)

    # ------------------------------------------------------------------ broker side

    def topics(self) -> list[tuple[str, int]]:
        return self.partition.topics()

    def subscription(self) -> Subscription:
        """Plain (not shared) subscriptions to this partition's domains, acknowledged on
        receipt, clean session: the engine rebuilds its state from the database."""
        return Subscription(
            client_id=self.settings.alerts_client_id or f"ioc-alerts-{socket.gethostname()}",
            topics=tuple(self.topics()),
            labels={"domains": list(self.partition.domains)},
        )

    def _paho(self, sub: Subscription, sink: Sink) -> Consumer:
        return PahoConsumer(
            self.settings.mqtt,
            sub,
            sink,
            on_connection=lambda up: self.metrics.connected.set(1 if up else 0),
            metrics=self.metrics.workers,
            name="alerts-mqtt",
        )

    def _on_message(self, msg: Delivery) -> None:
        item = (msg.topic, msg.payload, msg.received_at, time.monotonic())
        with self._wakeup:
            self._queue.append(item)
            if len(self._queue) == 1:  # the evaluator waits only on an empty queue
                self._wakeup.notify()

    # ------------------------------------------------------------------ database side

    def _db(self) -> Connection:
        if self._conn is None or self._conn.closed:
            self._conn = connect(
                self.settings.database_url, autocommit=True, application_name="ioc-alerts"
            )
        return self._conn

    def _reload(self, force: bool = False) -> None:
        """Re-read rules (when they changed) and the registry."""
        conn = self._db()
        signature = rules_signature(conn)
        if force or signature != self._signature:
            domains = self.partition.domains
            self.book.set_rules(
                r for r in store.list_rules(conn, enabled=True) if r.domain in domains
            )
            self._signature = signature
            log.info("rules loaded", extra={"rules": len(self.book.rules)})
        devices = load_devices(conn, self.partition)
        self.book.set_devices(devices, replace=True)
        self._records = {d.device_id: DeviceRecord(d.device_id, d.domain) for d in devices}
        self._next_reload = time.monotonic() + self.settings.alerts_reload_s

    def _scheduled_reload(self) -> None:
        """Reload when due; a failure is counted, logged once per outage, and the next
        attempt waits out a growing backoff instead of coming on the next round."""
        if time.monotonic() < max(self._next_reload, self._db_retry_at):
            return
        try:
            self._reload()
        except Unavailable as exc:
            self._db_failed(exc)
            return
        self._db_ok()

    def _db_failed(self, exc: Unavailable, **extra: object) -> None:
        self.metrics.db_errors.inc()
        self._drop_connection()
        self.outage.failed(exc, **extra)
        self._db_retry_at = time.monotonic() + self._db_backoff.next()

    def _db_ok(self) -> None:
        if self.outage.down:
            self._db_backoff.reset()
            self._db_retry_at = 0.0
            self.outage.succeeded()

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def restore(self) -> None:
        """Rules, devices, open alerts, then recent values: the state before a restart."""
        self._reload(force=True)
        conn = self._db()
        restored = self.book.restore(
            a
            for a in store.list_open(conn)
            if self.partition.admits(a.domain, a.district or "")
            or (a.device_id is None and a.domain in self.partition.domains)
        )
        now = self.clock()
        since = datetime.fromtimestamp(now, UTC) - timedelta(
            seconds=self.settings.alerts_restore_window_s
        )
        latest = recent_latest(conn, list(self.book.devices), since)
        by_device: dict[str, list[tuple[float, str, float]]] = {}
        for device_id, t, metric, value in latest:
            by_device.setdefault(device_id, []).append((t, metric, value))
        changes: list[Change] = []
        for device_id, samples in by_device.items():
            changes += self.book.readings(device_id, samples, now)
        self._write(changes)
        adopted = store.adopt_orphans(conn)
        log.info(
            "state restored",
            extra={
                "open_alerts": restored,
                "latest": len(latest),
                "changes": len(changes),
                "alerts_adopted_by_incidents": adopted,
            },
        )

    def _write(self, changes: list[Change]) -> None:
        """Commit changes; on a database outage keep them and retry on the next round
        (each is idempotent: an open that exists and a resolve of nothing are no-ops)."""
        pending, self._backlog = self._backlog + changes, []
        if pending and time.monotonic() < self._db_retry_at:
            self._backlog = pending  # the database is down: keep them for later
            return
        for i, change in enumerate(pending):
            try:
                self._commit(change)
            except Unavailable as exc:
                self._backlog = pending[i:]
                self._db_failed(exc, backlog=len(self._backlog))
                return
        if pending:
            self._db_ok()

    def _commit(self, change: Change) -> None:
        t = change.transition
        at = datetime.fromtimestamp(t.at, UTC)
        conn = self._db()
        if t.action == "opened":
            done = store.open_alert(
                conn, change.rule, change.subject, change.device_id, change.district, at, t.value
            )
        else:
            done = store.resolve_open(
                conn, change.rule.id, change.subject, at, t.value, note=t.reason
            )
        self.metrics.transitions.labels(t.action, "written" if done else "already").inc()

    def _escalate(self, now: float) -> None:
        """Escalate what is due at ``now`` (:func:`ioc.alerts.lifecycle.escalate_due`)."""
        if time.monotonic() < self._db_retry_at:
            return
        try:
            sent = lifecycle.escalate_due(self._db(), self.tiers, now)
        except Unavailable as exc:
            self._db_failed(exc)
            return
        if sent:
            log.info("incidents escalated", extra={"escalations": sent})

    # ------------------------------------------------------------------ evaluation

    def _lookup(self, device_id: str) -> DeviceRecord | None:
        return self._records.get(device_id)

    def _handle(self, item: Message, now: float) -> list[Change]:
        topic, payload, received_at, _ = item
        if topic.endswith("/status"):
            try:
                update = decode_status(topic, payload, received_at, self._lookup)
            except InvalidInput as exc:
                self.metrics.rejected.labels(exc.reason.value).inc()
                return []
            self._counts["status"] += 1
            return self.book.status(update.device_id, update.ts.timestamp(), update.online, now)
        decoded = decode_telemetry(topic, payload, received_at, self._lookup)
        unknown = any(r.reason is RejectReason.UNKNOWN_DEVICE for r in decoded.rejections)
        if (  # just registered? (not while the database is known to be down)
            unknown
            and time.monotonic() - self._refreshed_unknown > 1.0
            and time.monotonic() >= self._db_retry_at
        ):
            self._refreshed_unknown = time.monotonic()
            try:
                self._reload()
            except Unavailable as exc:
                self._db_failed(exc)
            else:
                decoded = decode_telemetry(topic, payload, received_at, self._lookup)
        self._counts["telemetry"] += 1
        for r in decoded.rejections:
            self.metrics.rejected.labels(r.reason.value).inc()
        if not decoded.readings or decoded.device_id is None:
            return []
        self._counts["readings"] += len(decoded.readings)
        samples = [(r.time.timestamp(), r.metric, r.value) for r in decoded.readings]
        return self.book.readings(decoded.device_id, samples, now)

    def _take(self, wait: float) -> list[Message]:
        with self._wakeup:
            if not self._queue:
                self._wakeup.wait(wait)
            batch = list(self._queue)
            self._queue.clear()
            self._busy = bool(batch)
        return batch

    def step(self, wait: float = 0.0) -> int:
        """One round: what is queued, then a tick; returns messages handled."""
        batch = self._take(wait)
        started = time.perf_counter()
        now = self.clock()
        changes: list[Change] = []
        self._counts = {"telemetry": 0, "status": 0, "readings": 0}
        for item in batch:
            try:
                changes += self._handle(item, now)
            except Unavailable:
                raise
            except Exception as exc:  # one message the decoder cannot take costs only it
                self.metrics.rejected.labels(RejectReason.INVALID_PAYLOAD.value).inc()
                log.warning(
                    "message dropped: it could not be decoded",
                    extra={"topic": item[0], "error": f"{type(exc).__name__}: {exc}"[:300]},
                )
        # counted per round, not per message: the counters cost more than a message
        self.metrics.received.labels("telemetry").inc(self._counts["telemetry"])
        self.metrics.received.labels("status").inc(self._counts["status"])
        self.metrics.readings.inc(self._counts["readings"])
        ticked = time.monotonic() - self._ticked >= self.settings.alerts_tick_s or not batch
        if ticked:
            self._ticked = time.monotonic()
            changes += self.book.tick(now)
            self.metrics.ticks.inc()
        self.metrics.eval_seconds.observe(time.perf_counter() - started)
        self._write(changes)
        if ticked:
            self._escalate(now)
        if batch:  # the round's oldest message: the latency its slowest one saw
            self.metrics.latency.observe(time.monotonic() - batch[0][3])
        self._scheduled_reload()
        with self._wakeup:
            self._busy = False
        return len(batch)

    def _round(self) -> None:
        """The evaluator worker's step: anything but an outage is a bug, and ends it."""
        try:
            self.step(self.settings.alerts_tick_s)
        finally:
            with self._wakeup:
                self._busy = False

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        migrate(self.settings.database_url)
        self.restore()
        endpoint = self.settings.mqtt
        self.consumer.start()
        self.worker.start()
        log.info("alert engine started", extra={"mqtt": f"{endpoint.host}:{endpoint.port}"})

    @property
    def healthy(self) -> bool:
        """False once the evaluator thread has died (the process should then exit)."""
        return self.worker.failed is None

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """True once nothing is queued or being evaluated (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._wakeup:
                if not self._queue and not self._busy:
                    return True
            time.sleep(0.01)
        return False

    def stop(self) -> None:
        self._stopping.set()
        self.consumer.stop()
        with self._wakeup:
            self._wakeup.notify_all()
        self.worker.stop(timeout=30)
        self._drop_connection()
        self.metrics.connected.set(0)
        log.info("alert engine stopped")
