"""Enqueue the indicator report once per period, into the outbox (target "goc").

The report's id is its outbox key, so two API replicas, or a restart within a period,
enqueue it once. A report is a snapshot of the indicators when its period ended;
periods that passed while no process was running are not reconstructed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime

from ioc.goc.report import build_report, period_end, report_id
from ioc.goc.target import REPORT_KIND
from ioc.outbox.store import enqueue
from ioc.storage.db import Connection

log = logging.getLogger("ioc.goc")


class ReportScheduler:
    def __init__(self, center_id: str, interval_s: int) -> None:
        self.center_id = center_id
        self.interval_s = interval_s
        self._last: datetime | None = None

    def run_once(self, conn: Connection, now: datetime) -> str | None:
        """Enqueue the report of the last complete period unless done; its id if new."""
        end = period_end(now, self.interval_s)
        if self._last == end:
            return None
        report = build_report(conn, self.center_id, end, self.interval_s, now)
        key = report_id(self.center_id, end)
        written = enqueue(conn, REPORT_KIND, key, report, "critical")
        self._last = end
        if written:
            log.info("GOC report enqueued", extra={"report_id": key})
            return key
        return None


def run_in_thread(
    scheduler: ReportScheduler,
    connect: Callable[[], Connection],
    stop: threading.Event,
    every_s: float = 30.0,
) -> threading.Thread:
    """Check every ``every_s`` until ``stop`` is set; errors are logged, never fatal."""

    def loop() -> None:
        while not stop.is_set():
            try:
                with connect() as conn:
                    scheduler.run_once(conn, datetime.now(UTC))
            except Exception:
                log.exception("GOC report scheduling failed; will retry")
            stop.wait(every_s)

    thread = threading.Thread(target=loop, name="goc-reports", daemon=True)
    thread.start()
    return thread
