"""Escalation by the running alert engine, on its stepped clock: at the configured time,
once, with two replicas ticking at once and across a restart; the GOC's outbox row
once (its key is the idempotency key the GOC dedupes by)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import psycopg

from ioc.alerts.engine import AlertEngine
from testkit.broker import Broker
from testkit.services import wait_for
from tests.alerts.conftest import running_engine
from tests.incidents.support import incident_of, open_alert, threshold_rule

Conn = psycopg.Connection[tuple[object, ...]]


def ticks(engine: AlertEngine, n: int = 3) -> None:
    """Let the engine tick ``n`` more times (each tick also escalates)."""
    seen = engine.metrics.value("ioc_alerts_ticks_total")
    wait_for(lambda: engine.metrics.value("ioc_alerts_ticks_total") >= seen + n, timeout=10)


def escalations(db: Conn, iid: int) -> list[str]:
    rows = db.execute(
        "SELECT tier FROM incident_escalations WHERE incident_id = %s ORDER BY tier", (iid,)
    ).fetchall()
    return [str(r[0]) for r in rows]


def test_engine_escalates_once_across_replicas_and_restart(
    db: Conn, database_url: str, broker: Broker, unique: Callable[[str], str]
) -> None:
    opened_at = time.time()
    rule = threshold_rule(db, unique("fridge"), severity="critical")
    alert = open_alert(db, rule, unique("f"), unique("D"), datetime.fromtimestamp(opened_at, UTC))
    iid = incident_of(db, alert.id)
    clock = [opened_at + 299.0]
    settings = {
        "clock": lambda: clock[0],
        "alerts_domains": "health",
        "alerts_tick_s": 0.05,
        "incident_escalate_critical_s": 300,
        "incident_escalate_major_s": 900,
    }
    with running_engine(database_url, broker.url, **settings) as one:
        with running_engine(database_url, broker.url, **settings) as two:
            ticks(one), ticks(two)
            assert escalations(db, iid) == []  # not yet
            clock[0] = opened_at + 301.0
            wait_for(lambda: escalations(db, iid) == ["critical@300s"], timeout=10)
            ticks(one), ticks(two)
        assert escalations(db, iid) == ["critical@300s"]
    with running_engine(database_url, broker.url, **settings) as again:  # a restart
        ticks(again)
        assert escalations(db, iid) == ["critical@300s"]
        clock[0] = opened_at + 901.0  # the major tier covers a critical incident too
        wait_for(lambda: len(escalations(db, iid)) == 2, timeout=10)
        ticks(again)
    assert escalations(db, iid) == ["critical@300s", "major@900s"]
    history = db.execute(
        "SELECT count(*) FROM incident_history WHERE incident_id = %s AND action = 'escalated'",
        (iid,),
    ).fetchone()
    assert history is not None and history[0] == 2
    goc = db.execute(
        "SELECT key FROM outbox WHERE target = 'goc' AND subject = %s AND kind LIKE 'incident.%%'",
        (f"incident:{iid}",),
    ).fetchall()
    assert [r[0] for r in goc] == [f"incident-{iid}-escalated-critical@300s"]
