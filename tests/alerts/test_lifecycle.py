"""Use cases done by a person: each writes the change, its history, live event, outbox
and audit rows in one transaction, or none of them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import psycopg
import pytest

from ioc.alerts import authoring, lifecycle, store
from ioc.alerts.models import Alert, Rule, RuleSpec
from ioc.errors import Conflict, NotFound
from ioc.security.audit import Actor, entries

Conn = psycopg.Connection[tuple[object, ...]]
OPERATOR = Actor("key:op000001", "operator", "10.0.0.7")
ADMIN = Actor("key:adm00001", "admin", None)


def spec(name: str) -> RuleSpec:
    return RuleSpec.model_validate(
        {
            "name": name,
            "kind": "threshold",
            "domain": "health",
            "metric": "fridge_temp_c",
            "severity": "critical",
            "params": {"op": ">", "value": 8, "clear": 7.5},
            "enabled": False,  # alerts are opened by hand here; no engine may use it
        }
    )


@pytest.fixture
def rule(db: Conn, unique: Callable[[str], str]) -> Rule:
    return authoring.create_rule(db, ADMIN, spec(unique("lifecycle rule")))


@pytest.fixture
def alert(db: Conn, rule: Rule, unique: Callable[[str], str]) -> Alert:
    device = unique("fridge")
    opened = store.open_alert(db, rule, device, device, "north", datetime.now(UTC), 9.5)
    assert opened is not None
    return opened


def events(db: Conn, alert_id: int) -> list[str]:
    rows = db.execute(
        "SELECT kind FROM events WHERE payload->>'id' = %s ORDER BY id", (str(alert_id),)
    ).fetchall()
    return [str(r[0]) for r in rows]


def outbox(db: Conn, alert_id: int) -> set[str]:
    rows = db.execute("SELECT key FROM outbox WHERE key LIKE %s", (f"alert-{alert_id}-%",))
    return {str(r[0]) for r in rows.fetchall()}


def test_acknowledge_then_resolve_writes_every_row(db: Conn, alert: Alert) -> None:
    acked = lifecycle.acknowledge(db, OPERATOR, alert.id, "crew dispatched")
    assert acked.state == "acknowledged" and acked.acknowledged_by == OPERATOR.label
    resolved = lifecycle.resolve(db, OPERATOR, alert.id)
    assert resolved.state == "resolved"
    assert [h.action for h in resolved.history] == ["opened", "acknowledged", "resolved"]
    assert resolved.history[1].note == "crew dispatched"
    assert events(db, alert.id) == ["alert.opened", "alert.acknowledged", "alert.resolved"]
    assert outbox(db, alert.id) == {
        f"alert-{alert.id}-{action}" for action in ("opened", "acknowledged", "resolved")
    }
    log = entries(db, target=f"alert:{alert.id}")
    assert [(e.action, e.actor, e.role, e.remote) for e in reversed(log)] == [
        ("alert.acknowledge", OPERATOR.label, "operator", "10.0.0.7"),
        ("alert.resolve", OPERATOR.label, "operator", "10.0.0.7"),
    ]
    assert log[-1].detail == {"note": "crew dispatched"}


def test_a_refused_change_leaves_no_audit_row(db: Conn, alert: Alert) -> None:
    lifecycle.resolve(db, OPERATOR, alert.id)
    with pytest.raises(Conflict):
        lifecycle.acknowledge(db, OPERATOR, alert.id)
    with pytest.raises(NotFound):
        lifecycle.resolve(db, OPERATOR, 2**60)
    assert [e.action for e in entries(db, target=f"alert:{alert.id}")] == ["alert.resolve"]
    assert events(db, alert.id) == ["alert.opened", "alert.resolved"]
    assert entries(db, target=f"alert:{2**60}") == []


def test_rule_authoring_is_audited(db: Conn, rule: Rule, alert: Alert) -> None:
    changed = authoring.update_rule(db, ADMIN, rule.id, spec(rule.name + " v2"))
    assert changed.name == rule.name + " v2"
    with pytest.raises(Conflict, match="already exists"):
        authoring.create_rule(db, ADMIN, spec(changed.name))
    authoring.delete_rule(db, ADMIN, rule.id)
    with pytest.raises(NotFound):
        store.get_rule(db, rule.id)
    gone = store.get_alert(db, alert.id)  # its open alert resolved with it, by the admin
    assert gone.state == "resolved" and gone.resolved_by == ADMIN.label
    assert [e.action for e in reversed(entries(db, target=f"rule:{rule.id}"))] == [
        "rule.create",
        "rule.update",
        "rule.delete",
    ]
    with pytest.raises(NotFound):
        authoring.delete_rule(db, ADMIN, rule.id)
    assert len(entries(db, target=f"rule:{rule.id}")) == 3
