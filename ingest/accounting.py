"""What a committed batch adds to the counters on ``/metrics``."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime

from ingest.batch import BatchPlan
from ingest.committer import Outcome
from ingest.metrics import IngestMetrics
from ioc.mqtt.types import Delivery
from ioc.types import RejectReason

log = logging.getLogger("ingest")


class Accounting:
    def __init__(self, metrics: IngestMetrics) -> None:
        self.metrics = metrics
        self._last_seen: dict[str, datetime] = {}

    def committed(
        self,
        batch: Sequence[Delivery],
        plan: BatchPlan,
        outcome: Outcome,
        started: float,
        queued: int,
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
        m.out_of_order.inc(self.out_of_order(plan))
        m.batch_seconds.observe(time.monotonic() - started)
        m.batch_messages.observe(len(batch))
        m.commit_lag.observe((now - batch[0].received_at).total_seconds())
        m.queue_depth.set(queued)
        oversized = [d for d in plan.dead_letters if d.reason is RejectReason.OVERSIZED]
        if oversized:  # a device maker needs to hear of this one: say it, not only count it
            log.warning(
                "oversized payloads dead-lettered",
                extra={
                    "count": len(oversized),
                    "topics": sorted({d.topic for d in oversized})[:5],
                    "largest_bytes": max(d.payload_bytes for d in oversized),
                },
            )

    def refused(self) -> None:
        """One message the database refused, dead-lettered on its own."""
        self.metrics.dead_letters.inc()
        self.metrics.rejected.labels(RejectReason.INVALID_PAYLOAD.value).inc()

    def out_of_order(self, plan: BatchPlan) -> int:
        """Samples older than the newest one already seen from their device (this replica)."""
        late: set[tuple[str, datetime]] = set()
        for reading, _ in plan.readings:
            seen = self._last_seen.get(reading.device_id)
            if seen is not None and reading.time < seen:
                late.add((reading.device_id, reading.time))
            elif seen is None or reading.time > seen:
                self._last_seen[reading.device_id] = reading.time
        return len(late)
