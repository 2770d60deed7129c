"""Prometheus counters of the ingest service, in a registry of its own (so that several
services can run in one test process without colliding)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from ioc.background import ServiceMetrics


class IngestMetrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__()
        r = self.registry
        self.received = Counter(
            "ioc_ingest_messages_received", "MQTT messages received", ["channel"], registry=r
        )
        self.stored = Counter("ioc_ingest_readings_stored", "Readings committed", registry=r)
        self.rejected = Counter(
            "ioc_ingest_rejected", "Items refused, by dead-letter reason", ["reason"], registry=r
        )
        self.dead_letters = Counter(
            "ioc_ingest_dead_letters", "Dead-letter rows written", registry=r
        )
        self.redelivered = Counter(
            "ioc_ingest_redelivered_duplicates",
            "Readings the broker re-sent after a reconnect that were already stored",
            registry=r,
        )
        self.out_of_order = Counter(
            "ioc_ingest_out_of_order_samples",
            "Samples older than the device's newest seen sample (stored; counted)",
            registry=r,
        )
        self.status_changes = Counter(
            "ioc_ingest_status_updates", "Device status messages applied", registry=r
        )
        self.db_errors = Counter(
            "ioc_ingest_db_errors", "Failed batch transactions (retried)", registry=r
        )
        self.batch_seconds = Histogram(
            "ioc_ingest_batch_seconds",
            "Time to decode, write and commit one batch",
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
        self.batch_messages = Histogram(
            "ioc_ingest_batch_messages",
            "Messages per batch",
            registry=r,
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2000, 4000, 8000),
        )
        self.commit_lag = Histogram(
            "ioc_ingest_commit_lag_seconds",
            "From a message's arrival to its commit",
            registry=r,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self.queue_depth = Gauge(
            "ioc_ingest_queue_depth", "Messages received, not yet committed", registry=r
        )
        self.connected = Gauge(
            "ioc_ingest_broker_connected", "1 while connected to the broker", registry=r
        )
