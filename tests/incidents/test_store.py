"""Incidents through the database: every alert change, committed by the alert store,
places its alert in its incident in the same transaction; operators' use cases write
history, events, outbox and audit rows; escalation is once per tier."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ioc.alerts import lifecycle, store
from ioc.errors import Conflict, NotFound
from ioc.incidents import store as incidents
from ioc.incidents import sync
from ioc.security.audit import Actor
from tests.incidents.support import absence_rule, incident_of, open_alert, threshold_rule

Conn = psycopg.Connection[tuple[object, ...]]
OPERATOR = Actor("key:op-incid", "operator", "10.0.0.9")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def kinds(db: Conn, incident_id: int) -> list[str]:
    rows = db.execute(
        "SELECT kind FROM events WHERE payload->>'incident_id' = %s ORDER BY id",
        (str(incident_id),),
    ).fetchall()
    return [str(r[0]) for r in rows]


def test_silent_devices_of_a_district_across_domains_are_one_incident(
    db: Conn, unique: Callable[[str], str]
) -> None:
    district = unique("D")
    rules = [absence_rule(db, unique(f"silent {d}"), d) for d in ("traffic", "energy", "health")]
    alerts = [
        open_alert(db, r, unique(f"dev{i}-"), district, T0 + timedelta(seconds=i))
        for i, r in enumerate(rules * 2)
    ]
    held = {incident_of(db, a.id) for a in alerts}
    assert len(held) == 1
    (iid,) = held
    incident = incidents.load(db, iid, history=True)
    assert incident.state == "open" and incident.policy == "district-silence"
    assert incident.title == f"devices silent in {district}: possible power or network outage"
    assert incident.domains == ("energy", "health", "traffic")
    assert incident.districts == (district,) and incident.device_count == 6
    assert incident.procedure == "power_cut" and len(incident.steps) == 7
    told = kinds(db, iid)
    assert told[0] == "incident.opened" and told.count("incident.opened") == 1
    assert set(told[1:]) == {"incident.updated"}
    # the alert's own event names its incident
    row = db.execute(
        "SELECT payload->'incident'->>'incident_id' FROM events"
        " WHERE kind = 'alert.opened' AND payload->>'id' = %s",
        (str(alerts[0].id),),
    ).fetchone()
    assert row is not None and row[0] == str(iid)

    for a in alerts:
        store.resolve_open(db, a.rule_id, a.subject, T0 + timedelta(seconds=30), None)
    incident = incidents.load(db, iid)
    assert incident.state == "resolved" and incident.open_alerts == 0
    assert kinds(db, iid)[-1] == "incident.resolved"

    # a later silence within the policy's window reopens it rather than opening a twin
    again = open_alert(db, rules[0], unique("dev2"), district, T0 + timedelta(seconds=60))
    assert incident_of(db, again.id) == iid
    assert incidents.load(db, iid).state == "open"
    store.resolve_open(db, again.rule_id, again.subject, T0 + timedelta(seconds=70), None)

    # closed after review: it never reopens; the next silence is a new incident
    closed = lifecycle.close_incident(db, OPERATOR, iid, "feeder 4 tripped; restored")
    assert closed.state == "closed" and closed.summary == "feeder 4 tripped; restored"
    later = open_alert(db, rules[1], unique("dev3"), district, T0 + timedelta(seconds=80))
    assert incident_of(db, later.id) != iid


def test_one_rule_in_one_district_and_anything_else_apart(
    db: Conn, unique: Callable[[str], str]
) -> None:
    warm = threshold_rule(db, unique("fridge warm"))
    north, south = unique("north"), unique("south")
    a, b = (open_alert(db, warm, unique(f"f{i}-"), north) for i in range(2))
    c = open_alert(db, warm, unique("f5"), south)
    assert incident_of(db, a.id) == incident_of(db, b.id) != incident_of(db, c.id)
    incident = incidents.load(db, incident_of(db, a.id))
    assert incident.policy == "rule-in-district" and incident.severity == "critical"
    assert incident.title == f"{warm.name} in {north}"


def test_operator_lifecycle_writes_history_events_outbox_and_audit(
    db: Conn, unique: Callable[[str], str]
) -> None:
    rule = absence_rule(db, unique("silent"))
    alert = open_alert(db, rule, unique("dev6"), unique("D"))
    iid = incident_of(db, alert.id)

    ticked = lifecycle.tick_step(db, OPERATOR, iid, 2, "called the power company")
    assert ticked.steps[1].done_by == OPERATOR.label
    with pytest.raises(Conflict):
        lifecycle.tick_step(db, OPERATOR, iid, 2)
    with pytest.raises(NotFound):
        lifecycle.tick_step(db, OPERATOR, iid, 99)

    taken = lifecycle.acknowledge_incident(db, OPERATOR, iid, "mine")
    assert taken.state == "acknowledged" and taken.acknowledged_by == OPERATOR.label
    with pytest.raises(Conflict):
        lifecycle.acknowledge_incident(db, OPERATOR, iid)
    with pytest.raises(Conflict):  # only a resolved incident closes
        lifecycle.close_incident(db, OPERATOR, iid, "too early")
    done = lifecycle.resolve_incident(db, OPERATOR, iid, "supply back")
    assert done.state == "resolved" and done.resolved_by == OPERATOR.label
    assert [e.action for e in done.history][-3:] == ["step_done", "acknowledged", "resolved"]
    assert kinds(db, iid)[-3:] == ["incident.updated", "incident.acknowledged", "incident.resolved"]
    audit = db.execute(
        "SELECT action FROM audit_log WHERE target = %s ORDER BY id", (f"incident:{iid}",)
    ).fetchall()
    assert [r[0] for r in audit] == ["incident.step", "incident.acknowledge", "incident.resolve"]
    with pytest.raises(NotFound):
        lifecycle.acknowledge_incident(db, OPERATOR, 2**60)


def test_a_failed_move_writes_nothing(db: Conn, unique: Callable[[str], str]) -> None:
    rule = absence_rule(db, unique("silent"))
    iid = incident_of(db, open_alert(db, rule, unique("dev7"), unique("D")).id)
    before = incidents.history_ids(db, iid)
    with pytest.raises(Conflict):
        lifecycle.close_incident(db, OPERATOR, iid, "not resolved yet")
    assert incidents.history_ids(db, iid) == before


def test_escalation_once_per_tier_whoever_tries(
    db: Conn, database_url: str, unique: Callable[[str], str]
) -> None:
    rule = threshold_rule(db, unique("fridge"), severity="critical")
    opened = open_alert(db, rule, unique("f8"), unique("D"), T0)
    iid = incident_of(db, opened.id)
    tiers = sync.tiers(major_s=900, critical_s=300)
    start = T0.timestamp()

    def escalate(now: float) -> int:
        with psycopg.connect(database_url) as conn, conn.transaction():
            notices = sync.escalate_due(conn, tiers, now)
            store.send(conn, notices)
            return sum(1 for n in notices if n.payload["incident_id"] == iid)

    assert escalate(start + 299) == 0
    # two replicas at the same moment: the tier's unique key lets one through
    results: list[int] = []
    threads = [
        threading.Thread(target=lambda: results.append(escalate(start + 301))) for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [0, 1]
    assert escalate(start + 400) == 0  # and never again (a restart reads the same rows)
    assert escalate(start + 901) == 1  # the major tier, later, once
    incident = incidents.load(db, iid, history=True)
    assert incident.escalated == ("critical@300s", "major@900s")
    assert [e.action for e in incident.history].count("escalated") == 2
    goc = db.execute(
        "SELECT key FROM outbox WHERE target = 'goc' AND kind = 'incident.escalated'"
        " AND subject = %s",
        (f"incident:{iid}",),
    ).fetchall()
    assert [r[0] for r in goc] == [f"incident-{iid}-escalated-critical@300s"]

    lifecycle.acknowledge_incident(db, OPERATOR, iid)  # a taken incident never escalates
    other = open_alert(db, rule, unique("f9"), unique("D9"), T0)
    lifecycle.acknowledge_incident(db, OPERATOR, incident_of(db, other.id))
    assert escalate(start + 10_000) == 0


def test_concurrent_openings_in_one_district_make_one_incident(
    database_url: str, unique: Callable[[str], str]
) -> None:
    district = unique("D")
    with psycopg.connect(database_url, autocommit=True) as conn:
        rules = [absence_rule(conn, unique(f"silent {d}"), d) for d in ("traffic", "energy")]
    ids: list[int] = []

    def worker(n: int) -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            for i in range(20):
                ids.append(open_alert(conn, rules[n], f"{district}-{n}-{i}", district).id)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with psycopg.connect(database_url) as conn:
        assert len(ids) == 40
        assert len({incident_of(conn, a) for a in ids}) == 1


def test_storm_of_a_thousand_openings_is_one_incident(
    db: Conn, unique: Callable[[str], str]
) -> None:
    district = unique("storm")
    rule = absence_rule(db, unique("silent"), "energy")
    started = time.perf_counter()
    ids = [
        open_alert(db, rule, f"m{i}-{district}", district, T0 + timedelta(seconds=i / 100)).id
        for i in range(1000)
    ]
    took = time.perf_counter() - started
    held = {incident_of(db, a) for a in ids}
    assert len(held) == 1
    incident = incidents.load(db, held.pop())
    assert incident.device_count == 1000 and incident.open_alerts == 1000
    assert took < 60, f"1,000 openings took {took:.1f}s"
