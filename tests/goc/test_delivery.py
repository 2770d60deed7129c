"""The GOC connector end to end: reports and critical alerts through the outbox to the
reference receiver, across a GOC outage; every item arrives exactly once, signed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest

from ioc.alerts import store
from ioc.errors import Unavailable
from ioc.goc.report import ALERT_SCHEMA, REPORT_SCHEMA
from ioc.goc.schedule import ReportScheduler
from ioc.goc.target import GocTarget
from ioc.outbox.drainer import Drainer
from ioc.outbox.store import OutboxItem
from ioc.storage.registry import NewDevice, register_devices
from tests.api.helpers import make_rule
from tests.goc.support import Receiver

SECRET = b"goc-test-secret"


def test_outage_loses_nothing_and_retries_count_once(
    fresh_database_url: str, unique: Callable[[str], str]
) -> None:
    url = fresh_database_url
    dev = unique("fridge")
    with psycopg.connect(url) as conn:
        register_devices(conn, [NewDevice(dev, "health", district="south")])
    critical = make_rule(url, "fridge warm", "critical")
    major = make_rule(url, "fridge a bit warm", "major")
    t0 = datetime.now(UTC) - timedelta(hours=1)  # outbox rows are due from their insert
    scheduler = ReportScheduler("test-center", 900)

    with Receiver(SECRET) as goc, httpx.Client(timeout=2) as http:
        target = GocTarget(goc.url, SECRET, "test-center", http)
        clock = [t0.timestamp()]
        drainer = Drainer(url, [target], clock=lambda: clock[0])

        def drain(at: datetime) -> tuple[int, int]:
            """One burst of the outbox's own drainer at ``at``: (delivered, failed)."""
            clock[0] = at.timestamp()
            before = drainer.delivered["goc"], drainer.failed["goc"]
            drainer.drain("goc")
            return drainer.delivered["goc"] - before[0], drainer.failed["goc"] - before[1]

        # The GOC is down while three periods pass and alerts open and resolve.
        expected: set[str] = set()
        with psycopg.connect(url) as conn:
            for i in range(3):
                key = scheduler.run_once(conn, t0 + timedelta(minutes=15 * i))
                assert key is not None
                expected.add(key)
                assert scheduler.run_once(conn, t0 + timedelta(minutes=15 * i)) is None
            a = store.open_alert(conn, critical, dev, dev, "south", t0, 9.1)
            b = store.open_alert(conn, major, dev, dev, "south", t0, 8.4)
            assert a is not None and b is not None
            store.resolve(conn, a.id, "operator", "fixed")
        expected |= {f"alert-{a.id}-opened", f"alert-{a.id}-resolved"}

        # In order per subject: only the first report and the alert's "opened" are
        # tried while the GOC is down; the items behind them wait their turn.
        delivered, failed = drain(t0 + timedelta(hours=2))
        assert (delivered, failed) == (0, 2)

        goc.start()  # back
        delivered, failed = drain(t0 + timedelta(hours=3))
        assert (delivered, failed) == (len(expected), 0)
        assert drain(t0 + timedelta(hours=4)) == (0, 0)

        # The GOC got everything once; the major alert never left the center.
        assert set(goc.inbox.items) == expected
        assert goc.inbox.rejected == 0 and goc.inbox.duplicates == 0
        schemas = {k: v["schema"] for k, v in goc.inbox.items.items()}
        assert sorted(schemas.values()).count(REPORT_SCHEMA) == 3
        alert_body = goc.inbox.items[f"alert-{a.id}-opened"]
        assert (
            alert_body["schema"] == ALERT_SCHEMA and alert_body["alert"]["severity"] == "critical"
        )
        assert alert_body["event"] == "opened" and alert_body["alert"]["device_id"] == dev

        # A delivery whose answer was lost is sent again: the GOC counts it once.
        with psycopg.connect(url) as conn:
            conn.execute(
                "UPDATE outbox SET state = 'pending' WHERE target = 'goc' AND key = %s",
                (f"alert-{a.id}-opened",),
            )
        assert drain(t0 + timedelta(hours=5)) == (1, 0)
        assert goc.inbox.duplicates == 1 and len(goc.inbox.items) == len(expected)


def test_report_content(fresh_database_url: str) -> None:
    with psycopg.connect(fresh_database_url) as conn:
        register_devices(
            conn,
            [
                NewDevice("r-1", "traffic", district="east"),
                NewDevice("r-2", "traffic", district="east"),
            ],
        )
        conn.execute(
            "INSERT INTO latest VALUES ('r-1', 'avg_speed_kmh', now(), 12),"
            " ('r-2', 'avg_speed_kmh', now(), 40)"
        )
        scheduler = ReportScheduler("c1", 900)
        now = datetime.now(UTC)
        scheduler.run_once(conn, now)
        row = conn.execute(
            "SELECT payload FROM outbox WHERE target = 'goc' AND kind = 'goc.report'"
        ).fetchone()
    assert row is not None
    report = row[0]
    assert report["schema"] == REPORT_SCHEMA and report["center_id"] == "c1"
    assert report["summary"]["devices_registered"] == 2
    assert report["summary"]["devices_reporting"] == 2
    (east,) = report["indicators"]
    assert east["indicators"]["avg_speed_kmh"] == 26.0
    assert east["indicators"]["congestion_pct"] == 50.0


def _item(kind: str = "goc.report") -> OutboxItem:
    return OutboxItem(1, "goc", kind, "k-1", {"schema": REPORT_SCHEMA}, 0, datetime.now(UTC))


@pytest.mark.parametrize(
    ("status", "ok"),
    [(200, True), (202, True), (409, True), (400, False), (401, False), (500, False), (503, False)],
)
def test_target_outcomes(status: int, ok: bool) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status)

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        target = GocTarget("http://goc.invalid/ingest", SECRET, "c", http, clock=lambda: 1700000000)
        if ok:
            target.deliver(_item())
        else:
            with pytest.raises(Unavailable):
                target.deliver(_item())
    (request,) = seen
    assert request.headers["Idempotency-Key"] == "k-1"
    assert request.headers["X-IOC-Timestamp"] == "1700000000"
    assert request.headers["X-IOC-Signature"].startswith("sha256=")
