"""Enqueue the indicator report once per period, into the outbox (target "goc").

Runs inside ``python -m ioc alerts``, in every replica: a round takes the schedule's
advisory lock (transaction-scoped, so a replica that dies releases it), reads where the
schedule stands (``goc_report_schedule``), enqueues every complete period since, oldest
first, and records the newest, all in one transaction. One replica does a round at a
time, and the report id is also the outbox key, so each period is enqueued exactly once
however many replicas run and however often they restart.

After downtime the missed periods are caught up, at most ``max_catch_up`` of them (the
oldest beyond that are skipped, with a log line). A report is a snapshot of the
indicators when it is built: a caught-up report carries the period it stands for and a
``generated_at`` after it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ioc.background import Backoff, Fatal, Worker, WorkerMetrics
from ioc.goc.report import build_report, period_end, report_id
from ioc.goc.target import REPORT_KIND
from ioc.outbox.store import enqueue
from ioc.storage.db import Connection, translated

log = logging.getLogger("ioc.goc")

_LOCK_KEY = 0x10C_60C5  # arbitrary, constant: "IOC GOC schedule"


class ReportScheduler:
    def __init__(self, center_id: str, interval_s: int, max_catch_up: int = 96) -> None:
        if max_catch_up < 1:
            raise ValueError("max_catch_up must be at least 1")
        self.center_id = center_id
        self.interval_s = interval_s
        self.max_catch_up = max_catch_up

    def due(self, last: datetime | None, now: datetime) -> list[datetime]:
        """Period ends to enqueue at ``now`` after ``last`` (pure): oldest first, the
        newest ``max_catch_up`` of them; only the latest one on a first run."""
        newest = period_end(now, self.interval_s)
        if last is None:
            return [newest]
        step = timedelta(seconds=self.interval_s)
        count = int((newest - last) / step)
        if count <= 0:
            return []
        n = min(count, self.max_catch_up)
        return [newest - step * k for k in range(n - 1, -1, -1)]

    def run_round(self, conn: Connection, now: datetime) -> list[str] | None:
        """Enqueue what is due; the report ids written, or None when another replica
        holds the schedule right now."""
        with translated(), conn.transaction():
            got = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (_LOCK_KEY,)).fetchone()
            if not got or not got[0]:
                return None
            row = conn.execute(
                "SELECT last_period_end FROM goc_report_schedule WHERE center_id = %s",
                (self.center_id,),
            ).fetchone()
            last: datetime | None = row[0] if row else None
            ends = self.due(last, now)
            if not ends:
                return []
            if last is not None:
                skipped = int((ends[0] - last).total_seconds() // self.interval_s) - 1
                if skipped > 0:
                    log.warning(
                        "GOC report periods too old to catch up; skipped",
                        extra={"skipped": skipped, "from": last.isoformat()},
                    )
            written: list[str] = []
            for end in ends:
                report = build_report(conn, self.center_id, end, self.interval_s, now)
                key = report_id(self.center_id, end)
                if enqueue(conn, REPORT_KIND, key, report, "critical"):
                    written.append(key)
            conn.execute(
                """INSERT INTO goc_report_schedule (center_id, last_period_end, updated_at)
                   VALUES (%s, %s, now())
                   ON CONFLICT (center_id) DO UPDATE
                   SET last_period_end = excluded.last_period_end, updated_at = now()""",
                (self.center_id, ends[-1]),
            )
        if written:
            log.info("GOC reports enqueued", extra={"report_ids": written})
        return written

    def run_once(self, conn: Connection, now: datetime) -> str | None:
        """One round; the newest report id it enqueued, or None."""
        written = self.run_round(conn, now)
        return written[-1] if written else None


def worker(
    scheduler: ReportScheduler,
    connect: Callable[[], Connection],
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    every_s: float = 30.0,
    metrics: WorkerMetrics | None = None,
    on_fatal: Fatal | None = None,
    stop: threading.Event | None = None,
) -> Worker:
    """The scheduler as a background worker: a round every ``every_s`` on a fresh
    connection; a database outage is retried with backoff and logged once."""

    def step() -> float:
        with connect() as conn:
            scheduler.run_round(conn, clock())
        return every_s

    return Worker(
        "goc-reports",
        step,
        log=log,
        metrics=metrics,
        backoff=Backoff(base_s=1.0, cap_s=every_s),
        on_fatal=on_fatal,
        stop=stop,
    )
