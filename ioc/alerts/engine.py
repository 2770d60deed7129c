"""The alert engine service: broker stream in, alerts committed out.

Two threads, as in ingest: paho's network loop only queues each message; the evaluator
takes what is queued, decodes it (:mod:`ioc.telemetry.decoder`, rejected readings are
dropped: ingest dead-letters them), feeds the :class:`~ioc.alerts.book.Book`, ticks it,
and writes the resulting changes through :mod:`ioc.alerts.store`.

Replicas: the engine is **partitioned**, not load-shared. Each replica subscribes with a
plain (non-shared) subscription to the telemetry and status of its domains
(``IOC_ALERTS_DOMAINS``) and keeps the devices of its districts
(``IOC_ALERTS_DISTRICTS``). A shared subscription would spread one device's readings
over replicas, and no replica could then judge ``for``, rate or anomaly rules; a plain
subscription also receives the retained statuses (MQTT v5 does not send retained
messages to shared subscriptions). A group rule over a whole domain needs a replica that
holds the whole domain: partition such domains by domain only. Two replicas of the same
partition both evaluate
everything (hot standby): the database's one-open-alert index lets only one of them
open an alert, only one resolve it, and only the winner's change is announced.

At start the engine runs the migrations, loads rules and devices, restores open alerts
as firing states and re-evaluates recent latest values, so a restart neither duplicates
nor forgets an alert and catches what crossed a level while it was down.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from ioc.alerts import store
from ioc.alerts.book import Book, Change
from ioc.alerts.metrics import EngineMetrics
from ioc.alerts.snapshot import Partition, load_devices, recent_latest, rules_signature
from ioc.config import Settings
from ioc.errors import InvalidInput, Unavailable
from ioc.storage.db import Connection, connect
from ioc.storage.migrate import migrate
from ioc.telemetry.decoder import DeviceRecord, decode_status, decode_telemetry
from ioc.types import RejectReason

log = logging.getLogger("ioc.alerts")

Message = tuple[str, bytes, datetime, float]  # topic, payload, received at, monotonic


class AlertEngine:
    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.time) -> None:
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
        self._thread: threading.Thread | None = None
        self._signature: tuple[object, ...] = ()
        self._reloaded = 0.0
        self._ticked = 0.0
        self._refreshed_unknown = 0.0
        self._backlog: list[Change] = []
        self._counts = {"telemetry": 0, "status": 0, "readings": 0}
        self.client = self._make_client()

    # ------------------------------------------------------------------ broker side

    def _make_client(self) -> mqtt.Client:
        endpoint = self.settings.mqtt
        client_id = self.settings.alerts_client_id or f"ioc-alerts-{socket.gethostname()}"
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if endpoint.username:
            client.username_pw_set(endpoint.username, endpoint.password)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        return client

    def topics(self) -> list[tuple[str, int]]:
        return [
            (f"ioc/v1/{d}/+/{channel}", 1)
            for d in self.partition.domains
            for channel in ("telemetry", "status")
        ]

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        if rc.is_failure:
            log.error("broker refused the connection", extra={"reason": str(rc)})
            return
        client.subscribe(self.topics())
        self.metrics.connected.set(1)
        log.info("connected to broker", extra={"domains": list(self.partition.domains)})

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        item = (msg.topic, bytes(msg.payload), datetime.now(UTC), time.monotonic())
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
        self._reloaded = time.monotonic()

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
        log.info(
            "state restored",
            extra={"open_alerts": restored, "latest": len(latest), "changes": len(changes)},
        )

    def _write(self, changes: list[Change]) -> None:
        """Commit changes; on a database outage keep them and retry on the next round
        (each is idempotent: an open that exists and a resolve of nothing are no-ops)."""
        pending, self._backlog = self._backlog + changes, []
        for i, change in enumerate(pending):
            try:
                self._commit(change)
            except Unavailable as exc:
                self._backlog = pending[i:]
                self.metrics.db_errors.inc()
                log.warning("database unavailable; will retry", extra={"error": str(exc)})
                if self._conn is not None:
                    self._conn.close()
                return

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
        if unknown and time.monotonic() - self._refreshed_unknown > 1.0:  # just registered?
            self._refreshed_unknown = time.monotonic()
            self._reload()
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
            changes += self._handle(item, now)
        # counted per round, not per message: the counters cost more than a message
        self.metrics.received.labels("telemetry").inc(self._counts["telemetry"])
        self.metrics.received.labels("status").inc(self._counts["status"])
        self.metrics.readings.inc(self._counts["readings"])
        if time.monotonic() - self._ticked >= self.settings.alerts_tick_s or not batch:
            self._ticked = time.monotonic()
            changes += self.book.tick(now)
            self.metrics.ticks.inc()
        self.metrics.eval_seconds.observe(time.perf_counter() - started)
        self._write(changes)
        if batch:  # the round's oldest message: the latency its slowest one saw
            self.metrics.latency.observe(time.monotonic() - batch[0][3])
        if time.monotonic() - self._reloaded >= self.settings.alerts_reload_s:
            try:
                self._reload()
            except Unavailable as exc:
                log.warning("reload failed", extra={"error": str(exc)})
        with self._wakeup:
            self._busy = False
        return len(batch)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.step(self.settings.alerts_tick_s)
            except Unavailable as exc:
                log.warning("database unavailable", extra={"error": str(exc)})
                self._stopping.wait(1.0)
            except Exception:
                log.exception("evaluation round failed")
                self._stopping.wait(1.0)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        migrate(self.settings.database_url)
        self.restore()
        endpoint = self.settings.mqtt
        self.client.connect_async(endpoint.host, endpoint.port, keepalive=30)
        self.client.loop_start()
        self._thread = threading.Thread(target=self._run, name="ioc-alerts", daemon=True)
        self._thread.start()
        log.info("alert engine started", extra={"mqtt": f"{endpoint.host}:{endpoint.port}"})

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
        self.client.disconnect()
        self.client.loop_stop()
        # paho keeps a wake-up socket pair until the client is garbage-collected, and
        # the engine and its client form a cycle: close them now, not in a finaliser
        self.client._reset_sockets()
        with self._wakeup:
            self._wakeup.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._conn is not None:
            self._conn.close()
        self.metrics.connected.set(0)
        log.info("alert engine stopped")
