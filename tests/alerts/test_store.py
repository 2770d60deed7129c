"""The alert store against the real database: rules CRUD, one open alert per subject,
the lifecycle with history, events and outbox rows written in the same transaction."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from ioc.alerts import store
from ioc.alerts.defaults import default_rules
from ioc.alerts.models import AlertFilters, Page, Rule, RuleSpec
from ioc.errors import Conflict, InvalidPayload, NotFound

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
Conn = psycopg.Connection[tuple[object, ...]]


@pytest.fixture
def rule(db: Conn, unique: Callable[[str], str]) -> Rule:
    return store.create_rule(
        db,
        RuleSpec.model_validate(
            {
                "name": unique("fridge warm"),
                "kind": "threshold",
                "domain": "health",
                "metric": "fridge_temp_c",
                "severity": "critical",
                "params": {"op": ">", "value": 8, "clear": 7.5},
                "sop": ["call the officer", "move the vaccines"],
                "labels": {"team": "cold-chain"},
                "enabled": False,  # alerts are opened by hand here; no engine may use it
            }
        ),
    )


def events_for(db: Conn, alert_id: int) -> list[str]:
    rows = db.execute(
        "SELECT kind FROM events WHERE (payload->>'id')::bigint = %s ORDER BY id", (alert_id,)
    ).fetchall()
    return [str(r[0]) for r in rows]


def outbox_for(db: Conn, alert_id: int) -> list[tuple[str, str]]:
    rows = db.execute(
        "SELECT target, kind FROM outbox WHERE key LIKE %s ORDER BY id", (f"alert-{alert_id}-%",)
    ).fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]


def test_defaults_are_loaded_by_the_migrations(db: Conn) -> None:
    names = {r.name for r in store.list_rules(db)}
    assert {r.name for r in default_rules()} <= names


def test_rule_crud(db: Conn, rule: Rule) -> None:
    assert store.get_rule(db, rule.id) == rule
    changed = store.update_rule(db, rule.id, rule.spec().model_copy(update={"severity": "major"}))
    assert changed.severity == "major" and changed.updated_at > rule.updated_at
    assert rule.id in {r.id for r in store.list_rules(db, domain="health")}
    with pytest.raises(Conflict):
        store.create_rule(db, rule.spec())
    store.delete_rule(db, rule.id)
    with pytest.raises(NotFound):
        store.get_rule(db, rule.id)
    with pytest.raises(NotFound):
        store.delete_rule(db, rule.id)
    with pytest.raises(NotFound):
        store.update_rule(db, rule.id, rule.spec())


def test_one_open_alert_per_rule_and_subject(db: Conn, rule: Rule, unique: Any) -> None:
    device = unique("fridge")
    first = store.open_alert(db, rule, device, device, "D1", T0, 9.1)
    again = store.open_alert(db, rule, device, device, "D1", T0 + timedelta(seconds=1), 9.4)
    assert first is not None and again is None
    assert first.state == "firing" and first.value == 9.1 and first.sop == rule.sop
    other = store.open_alert(db, rule, unique("other"), None, "D1", T0, 9.0)
    assert other is not None and other.id != first.id


def test_concurrent_opens_make_one_alert(database_url: str, rule: Rule, unique: Any) -> None:
    device = unique("fridge")
    results: list[object] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            barrier.wait()
            results.append(store.open_alert(conn, rule, device, device, "D1", T0, 9.0))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r is not None for r in results) == 1
    with psycopg.connect(database_url) as conn:
        n = conn.execute(
            "SELECT count(*) FROM alerts WHERE rule_id = %s AND subject = %s", (rule.id, device)
        ).fetchone()
    assert n == (1,)


def test_lifecycle_with_history_events_and_outbox(db: Conn, rule: Rule, unique: Any) -> None:
    device = unique("fridge")
    opened = store.open_alert(db, rule, device, device, "D1", T0, 9.2)
    assert opened is not None
    acked = store.acknowledge(db, opened.id, "op-anna", "on my way", at=T0 + timedelta(minutes=1))
    assert acked.state == "acknowledged" and acked.acknowledged_by == "op-anna"
    with pytest.raises(Conflict):
        store.acknowledge(db, opened.id, "op-bob")
    resolved = store.resolve_open(db, rule.id, device, T0 + timedelta(minutes=9), 7.2)
    assert resolved is not None and resolved.state == "resolved"
    with pytest.raises(Conflict):
        store.resolve(db, opened.id, "op-anna")
    with pytest.raises(Conflict):
        store.acknowledge(db, opened.id, "op-anna")
    alert = store.get_alert(db, opened.id)
    assert [(h.action, h.by, h.value) for h in alert.history] == [
        ("opened", "engine", 9.2),
        ("acknowledged", "op-anna", 9.2),
        ("resolved", "engine", 7.2),
    ]
    assert alert.history[1].note == "on my way"
    assert alert.resolved_at == T0 + timedelta(minutes=9)
    assert events_for(db, opened.id) == ["alert.opened", "alert.acknowledged", "alert.resolved"]
    # critical: routed to the GOC
    assert ("goc", "alert.opened") in outbox_for(db, opened.id)
    # after resolution, a new problem is a new alert
    reopened = store.open_alert(db, rule, device, device, "D1", T0 + timedelta(minutes=20), 9.0)
    assert reopened is not None and reopened.id != opened.id


def test_operator_resolve_and_not_found(db: Conn, rule: Rule, unique: Any) -> None:
    device = unique("fridge")
    opened = store.open_alert(db, rule, device, device, "D1", T0, 9.2)
    assert opened is not None
    done = store.resolve(db, opened.id, "op-anna", "false alarm")
    assert done.state == "resolved" and done.resolved_by == "op-anna"
    assert store.resolve_open(db, rule.id, device, T0, 7.0) is None
    with pytest.raises(NotFound):
        store.get_alert(db, 10**12)
    with pytest.raises(NotFound):
        store.acknowledge(db, 10**12, "op")


def test_minor_alerts_are_not_sent_to_the_goc(db: Conn, rule: Rule, unique: Any) -> None:
    minor = store.update_rule(db, rule.id, rule.spec().model_copy(update={"severity": "minor"}))
    opened = store.open_alert(db, minor, unique("f"), None, "D1", T0, 9.0)
    assert opened is not None
    assert [t for t, _ in outbox_for(db, opened.id) if t == "goc"] == []


def test_list_filters_and_pages(db: Conn, rule: Rule, unique: Any) -> None:
    district = unique("D")
    ids = []
    for i in range(5):
        a = store.open_alert(db, rule, unique(f"f{i}"), None, district, T0 + timedelta(i), 9.0)
        assert a is not None
        ids.append(a.id)
    store.acknowledge(db, ids[0], "op")
    store.resolve(db, ids[1], "op")
    listed = store.list_alerts(db, AlertFilters(district=district))
    assert [a.id for a in listed] == ids[::-1]  # newest first
    assert all(a.history for a in listed)
    page = store.list_alerts(db, AlertFilters(district=district), Page(limit=2, offset=1))
    assert [a.id for a in page] == ids[::-1][1:3]
    assert {a.id for a in store.list_alerts(db, AlertFilters(district=district, state="open"))} == (
        set(ids) - {ids[1]}
    )
    assert store.count_alerts(db, AlertFilters(district=district, state="acknowledged")) == 1
    assert store.count_alerts(db, AlertFilters(district=district, severity="minor")) == 0


def test_deleting_a_rule_resolves_its_open_alerts(db: Conn, rule: Rule, unique: Any) -> None:
    opened = store.open_alert(db, rule, unique("f"), None, "D1", T0, 9.0)
    assert opened is not None
    store.delete_rule(db, rule.id, who="admin")
    alert = store.get_alert(db, opened.id)
    assert alert.state == "resolved" and alert.resolved_by == "admin"
    assert alert.history[-1].note == "rule deleted"


def test_nul_characters_never_reach_the_database(db: Conn, rule: Rule, unique: Any) -> None:
    assert store.list_alerts(db, AlertFilters(district="D\x00")) == []
    assert store.count_alerts(db, AlertFilters(device_id="\x00")) == 0
    opened = store.open_alert(db, rule, unique("f"), None, "D1", T0, 9.0)
    assert opened is not None
    with pytest.raises(InvalidPayload):
        store.acknowledge(db, opened.id, "op", note="bad\x00note")
    assert store.get_alert(db, opened.id).state == "firing"


def test_a_lagging_replica_neither_reopens_nor_resolves_the_wrong_episode(
    db: Conn, rule: Rule, unique: Any
) -> None:
    device = unique("fridge")
    t = [T0 + timedelta(seconds=i) for i in range(10)]
    # the replica ahead: opened at t1, resolved at t5, opened again at t8
    first = store.open_alert(db, rule, device, device, "D1", t[1], 9.0)
    assert first is not None
    assert store.resolve_open(db, rule.id, device, t[5], 7.0) is not None
    second = store.open_alert(db, rule, device, device, "D1", t[8], 9.5)
    assert second is not None
    # the replica behind replays the same transitions
    assert store.open_alert(db, rule, device, device, "D1", t[1], 9.0) is None
    assert store.resolve_open(db, rule.id, device, t[5], 7.0) is None  # not the t8 one
    assert store.get_alert(db, second.id).state == "firing"
    assert store.open_alert(db, rule, device, device, "D1", t[8], 9.5) is None
    assert len(store.list_alerts(db, AlertFilters(rule_id=rule.id, device_id=device))) == 2
