"""The GOC report schedule: once per period in a cluster, caught up after downtime
(issue 14 item 5). Replicas are schedulers on their own connections; the clock is
stepped by hand."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ioc.goc.report import report_id
from ioc.goc.schedule import ReportScheduler

INTERVAL = 900
T0 = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
STEP = timedelta(seconds=INTERVAL)


def reports(url: str, center: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT key FROM outbox WHERE target = 'goc' AND kind = 'goc.report'"
            " AND key LIKE %s ORDER BY id",
            (f"{center}:%",),
        ).fetchall()
    return [str(r[0]) for r in rows]


def test_due_periods_are_pure_and_bounded() -> None:
    s = ReportScheduler("c", INTERVAL, max_catch_up=3)
    assert s.due(None, T0 + timedelta(seconds=5)) == [T0]  # first run: the latest only
    assert s.due(T0, T0 + timedelta(seconds=899)) == []
    assert s.due(T0, T0 + STEP) == [T0 + STEP]
    assert s.due(T0, T0 + 2 * STEP + timedelta(seconds=1)) == [T0 + STEP, T0 + 2 * STEP]
    assert s.due(T0, T0 + 10 * STEP) == [T0 + 8 * STEP, T0 + 9 * STEP, T0 + 10 * STEP]
    with pytest.raises(ValueError):
        ReportScheduler("c", INTERVAL, max_catch_up=0)


def test_two_replicas_and_a_restart_enqueue_each_period_once_in_order(
    database_url: str, unique: Callable[[str], str]
) -> None:
    center = unique("center")
    first, second = ReportScheduler(center, INTERVAL), ReportScheduler(center, INTERVAL)
    with psycopg.connect(database_url) as a, psycopg.connect(database_url) as b:
        for k in range(4):  # both replicas run every period, a few seconds apart
            now = T0 + k * STEP + timedelta(seconds=3)
            first.run_round(a, now)
            a.commit()
            second.run_round(b, now + timedelta(seconds=2))
            b.commit()
        # Both replicas are down for five periods; one replica restarts.
        restarted = ReportScheduler(center, INTERVAL)
        restarted.run_round(b, T0 + 9 * STEP + timedelta(seconds=40))
        b.commit()
        restarted.run_round(b, T0 + 9 * STEP + timedelta(seconds=60))
        b.commit()
    expected = [report_id(center, T0 + k * STEP) for k in range(10)]
    assert reports(database_url, center) == expected


def test_a_long_downtime_catches_up_a_bounded_number_of_periods(
    database_url: str, unique: Callable[[str], str]
) -> None:
    center = unique("center")
    scheduler = ReportScheduler(center, INTERVAL, max_catch_up=4)
    with psycopg.connect(database_url) as conn:
        assert scheduler.run_once(conn, T0) == report_id(center, T0)
        conn.commit()
        written = scheduler.run_round(conn, T0 + 100 * STEP)
        conn.commit()
    assert written == [report_id(center, T0 + k * STEP) for k in range(97, 101)]
    assert len(reports(database_url, center)) == 5


def test_replicas_racing_for_the_same_period_enqueue_it_once(
    database_url: str, unique: Callable[[str], str]
) -> None:
    center = unique("center")
    with psycopg.connect(database_url) as conn:  # the schedule has a starting point
        ReportScheduler(center, INTERVAL).run_round(conn, T0)
    barrier = threading.Barrier(3)
    results: list[list[str] | None] = []

    def replica() -> None:
        scheduler = ReportScheduler(center, INTERVAL)
        with psycopg.connect(database_url) as conn:
            barrier.wait()
            results.append(scheduler.run_round(conn, T0 + 3 * STEP))

    threads = [threading.Thread(target=replica) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    written = [key for r in results if r for key in r]
    assert sorted(written) == [report_id(center, T0 + k * STEP) for k in (1, 2, 3)]
    assert len(reports(database_url, center)) == 4
