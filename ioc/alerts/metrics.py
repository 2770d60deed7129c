"""Prometheus counters of the alert engine, in a registry of its own (several engines
can run in one test process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from ioc.background import ServiceMetrics


class EngineMetrics(ServiceMetrics):
    def __init__(self) -> None:
        super().__init__()
        r = self.registry
        self.received = Counter(
            "ioc_alerts_messages_received", "MQTT messages received", ["channel"], registry=r
        )
        self.readings = Counter("ioc_alerts_readings", "Readings evaluated", registry=r)
        self.rejected = Counter(
            "ioc_alerts_rejected", "Items dropped, by decoder reason", ["reason"], registry=r
        )
        self.transitions = Counter(
            "ioc_alerts_transitions",
            "Alert transitions: written, or already done by another replica or an operator",
            ["action", "outcome"],
            registry=r,
        )
        self.db_errors = Counter(
            "ioc_alerts_db_errors", "Failed writes (kept and retried)", registry=r
        )
        self.eval_seconds = Histogram(
            "ioc_alerts_eval_seconds",
            "Decode and evaluate one round",
            registry=r,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
        )
        self.latency = Histogram(
            "ioc_alerts_latency_seconds",
            "From arrival to commit, for the oldest message of each evaluation round",
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.ticks = Counter("ioc_alerts_ticks", "Evaluations of time alone", registry=r)
        self.connected = Gauge("ioc_alerts_broker_connected", "1 when connected", registry=r)
