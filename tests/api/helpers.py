"""Shared test helpers: alerts and rules made through the alert engine's own store."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg

from ioc.alerts import store
from ioc.alerts.models import Alert, Rule, RuleSpec


def rule_body(name: str, severity: str = "critical") -> dict[str, object]:
    return {
        "name": name,
        "kind": "threshold",
        "domain": "health",
        "metric": "fridge_temp_c",
        "severity": severity,
        "params": {"op": ">", "value": 8, "clear": 7.5, "for_s": 0},
        # Alerts are opened by hand here: an engine running in another test of the
        # session (same database) must not evaluate these rules.
        "enabled": False,
    }


def make_rule(url: str, name: str, severity: str = "critical") -> Rule:
    with psycopg.connect(url) as conn:
        return store.create_rule(conn, RuleSpec.model_validate(rule_body(name, severity)))


def open_alert(
    url: str, rule: Rule, device_id: str, district: str = "north", value: float = 9.5
) -> Alert:
    with psycopg.connect(url) as conn:
        alert = store.open_alert(
            conn, rule, device_id, device_id, district, datetime.now(UTC), value
        )
    assert alert is not None
    return alert
