"""Incident test helpers over the real database: rules (disabled, so no engine of another
test evaluates them), alerts opened and resolved through the alert store, and the
incident that holds an alert."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from ioc.alerts import store
from ioc.alerts.models import Alert, Rule, RuleSpec
from ioc.incidents import store as incidents

Conn = psycopg.Connection[tuple[object, ...]]


def absence_rule(conn: Conn, name: str, domain: str = "health", severity: str = "major") -> Rule:
    """Taken by the default ``district-silence`` policy (procedure ``power_cut``)."""
    return store.create_rule(
        conn,
        RuleSpec.model_validate(
            {
                "name": name,
                "kind": "absence",
                "domain": domain,
                "severity": severity,
                "params": {"after_s": 300, "offline": True},
                "enabled": False,
            }
        ),
    )


def threshold_rule(conn: Conn, name: str, severity: str = "critical") -> Rule:
    """Taken by the default ``rule-in-district`` policy (no procedure)."""
    return store.create_rule(
        conn,
        RuleSpec.model_validate(
            {
                "name": name,
                "kind": "threshold",
                "domain": "health",
                "metric": "fridge_temp_c",
                "severity": severity,
                "params": {"op": ">", "value": 8, "clear": 7.5, "for_s": 0},
                "enabled": False,
            }
        ),
    )


def open_alert(
    conn: Conn, rule: Rule, device: str, district: str, at: datetime | None = None
) -> Alert:
    alert = store.open_alert(conn, rule, device, device, district, at or datetime.now(UTC), 9.5)
    assert alert is not None
    return alert


def incident_of(conn: Conn, alert_id: int) -> int:
    found = incidents.holder(conn, alert_id)
    assert found is not None, f"alert {alert_id} is in no incident"
    return found


def opened_incident(url: str, district: str, device: str, rule_name: str) -> int:
    """A fresh open incident with the ``power_cut`` procedure's steps."""
    with psycopg.connect(url, autocommit=True) as conn:
        rule = absence_rule(conn, rule_name)
        return incident_of(conn, open_alert(conn, rule, device, district).id)


def resolved_incident(url: str, district: str, device: str, rule_name: str) -> int:
    """A fresh incident whose only alert resolved (so it resolved with it)."""
    with psycopg.connect(url, autocommit=True) as conn:
        rule = absence_rule(conn, rule_name)
        alert = open_alert(conn, rule, device, district)
        store.resolve(conn, alert.id, "test")
        return incident_of(conn, alert.id)
