"""KPIs against a scenario: a district of three counters, one stops reporting, one goes
silent by its absence alert. "Reporting" must agree with the alert engine's silence,
in the KPIs and in the GOC report built from them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from ioc.alerts import store
from ioc.alerts.defaults import default_rules
from ioc.alerts.models import Rule
from ioc.goc.report import build_report
from ioc.kpis import figures, service_levels
from ioc.storage.readings import ReadingWriter
from ioc.storage.registry import NewDevice, register_devices
from ioc.telemetry.catalog import CATALOG
from ioc.types import Reading

Conn = psycopg.Connection[tuple[object, ...]]
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
INTERVAL = timedelta(seconds=CATALOG.report_interval_s("traffic"))


def heard(db: Conn, at: datetime, *devices: str) -> None:
    """Readings stored as ingest stores them."""
    writer = ReadingWriter(ReadingWriter.rollups_maintained(db))
    with db.transaction():
        writer.write(db, [(Reading(at, d, "avg_speed_kmh", 40.0), 0) for d in devices])


def devices_of(db: Conn, district: str, now: datetime) -> dict[str, Any]:
    (group,) = figures.compute(db, now, domain="traffic", district=district)
    return dict(group["devices"])


def shipped_silent_rule(db: Conn, domain: str) -> Rule:
    """The domain's shipped absence rule (other tests add absence rules of their own to
    the session database, so pick the shipped one by name)."""
    (name,) = [r.name for r in default_rules() if r.domain == domain and r.kind == "absence"]
    (rule,) = [r for r in store.list_rules(db, domain=domain) if r.name == name]
    return rule


def test_a_device_that_stops_or_goes_silent_is_not_reporting(
    db: Conn, unique: Callable[[str], str]
) -> None:
    district = unique("kpi-district")
    a, b, c = unique("kpi-a"), unique("kpi-b"), unique("kpi-c")
    with db.transaction():
        register_devices(db, [NewDevice(d, "traffic", district=district) for d in (a, b, c)])
    heard(db, T0, a, b, c)

    # All three heard within the domain's interval.
    assert devices_of(db, district, T0 + INTERVAL / 2)["reporting"] == 3

    # b stops; a and c carry on. Past b's interval, b is no longer reporting.
    later = T0 + 2 * INTERVAL
    heard(db, later - timedelta(seconds=30), a, c)
    counts = devices_of(db, district, later)
    assert counts["registered"] == 3 and counts["reporting"] == 2
    assert counts["reporting_pct"] == 66.7

    # c went offline: the engine opens its silent alert although c's last reading is
    # fresh. A device whose silent alert is firing is not reporting.
    silent_rule = shipped_silent_rule(db, "traffic")
    alert = store.open_alert(db, silent_rule, c, c, district, later - timedelta(seconds=5), None)
    assert alert is not None
    counts = devices_of(db, district, later)
    assert counts["reporting"] == 1 and counts["reporting_pct"] == 33.3

    # The GOC report counts the same way.
    report = build_report(db, "test-center", later, 900, later)
    mine = [g for g in report["indicators"] if g["district"] == district]
    assert [g["devices"]["reporting"] for g in mine] == [1]

    # c back: its alert resolved, it is reporting again; b too once heard.
    store.resolve_open(db, silent_rule.id, c, later, None)
    heard(db, later, b)
    assert devices_of(db, district, later + timedelta(seconds=1))["reporting"] == 3


def test_alert_figures_are_one_aggregate_per_group(db: Conn, unique: Callable[[str], str]) -> None:
    district = unique("fig-district")
    silent_rule = shipped_silent_rule(db, "health")
    now = datetime.now(UTC)
    opened = [
        store.open_alert(db, silent_rule, unique(f"f{m}"), None, district, now - ago, None)
        for m, ago in enumerate(timedelta(minutes=m) for m in (40, 20, 10))
    ]
    first, second, _ = [a for a in opened if a is not None]
    store.acknowledge(db, first.id, "op", at=first.started_at + timedelta(minutes=4))
    store.acknowledge(db, second.id, "op", at=second.started_at + timedelta(minutes=2))
    store.resolve(db, second.id, "op", at=second.started_at + timedelta(minutes=6))

    got = service_levels.alert_figures(db, now, now - timedelta(days=7), "health", district)
    assert list(got) == [("health", district)]
    g = got[("health", district)]
    assert g["open"] == {"critical": 0, "major": 2, "minor": 0, "info": 0}
    assert abs(g["oldest_open_age_s"] - 2400) < 5
    assert g["mean_time_to_ack_s"] == 180.0  # (4 + 2) / 2 minutes
    assert g["mean_time_to_resolve_s"] == 360.0
    # Outside the window, only what is still open counts.
    old = service_levels.alert_figures(db, now, now + timedelta(seconds=1), "health", district)
    assert old[("health", district)]["mean_time_to_ack_s"] is None
    assert old[("health", district)]["open"]["major"] == 2
    assert service_levels.alert_figures(db, now, now, "health", unique("nowhere")) == {}
