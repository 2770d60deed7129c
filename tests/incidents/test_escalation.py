"""Escalation with a stepped clock: each tier once, only while open and untaken."""

from __future__ import annotations

import pytest

from ioc.incidents import escalation, lifecycle
from ioc.incidents.models import EscalationTier
from ioc.incidents.state import Incident
from testkit.incident_factory import run, tr

TIERS = (
    EscalationTier(severity="major", after_s=900),
    EscalationTier(severity="critical", after_s=300, goc=True),
    EscalationTier(severity="critical", after_s=900),
)


def incident(rule: str) -> Incident:
    board, _ = run([tr(1, rule, 0)])
    return board.incidents[1]


def walk(i: Incident, times: list[float]) -> list[list[str]]:
    out = []
    for now in times:
        i, done = escalation.escalate(i, TIERS, now)
        out.append([e.tier.name for e in done])
    return out


def test_major_escalates_once_after_its_time() -> None:
    assert walk(incident("Energy: undervoltage"), [0, 899, 900, 901, 5000]) == [
        [],
        [],
        ["major@900s"],
        [],
        [],
    ]


def test_critical_climbs_its_tiers_once_each() -> None:
    assert walk(incident("Energy: feeder overloaded"), [299, 300, 600, 900, 901]) == [
        [],
        ["critical@300s"],
        [],
        ["critical@900s", "major@900s"],
        [],
    ]


def test_late_check_gives_every_due_tier_at_once_soonest_first() -> None:
    assert walk(incident("Energy: feeder overloaded"), [3600]) == [
        ["critical@300s", "critical@900s", "major@900s"]
    ]


@pytest.mark.parametrize("rule", ["Traffic: junction jammed", "Agriculture: heavy rainfall"])
def test_below_major_never_escalates(rule: str) -> None:
    assert escalation.due(incident(rule), TIERS, 10**6) == []


def test_taken_or_resolved_incidents_do_not_escalate() -> None:
    i = incident("Energy: feeder overloaded")
    assert escalation.due(lifecycle.acknowledge(i, "ana", 10), TIERS, 10**6) == []
    assert escalation.due(lifecycle.resolve(i, "ana", 10, "ok"), TIERS, 10**6) == []


def test_recorded_in_history_and_not_repeated_after_a_reopening() -> None:
    i, done = escalation.escalate(incident("Energy: feeder overloaded"), TIERS, 300)
    assert [e.tier.goc for e in done] == [True]
    assert i.escalated == ("critical@300s",)
    assert i.history[-1].action == "escalated" and "GOC" in i.history[-1].note
    board, _ = run([tr(1, "Energy: feeder overloaded", 0)])
    board, _ = run([tr(1, "Energy: feeder overloaded", 400, "resolved")], board.put(i))
    assert board.incidents[1].state == "resolved"
    board, _ = run([tr(2, "Energy: feeder overloaded", 500)], board)
    reopened = board.incidents[1]
    assert reopened.state == "open" and reopened.since == 500
    # the clock restarts at the reopening; the tier done stays done
    assert [e.tier.name for e in escalation.due(reopened, TIERS, 1400)] == [
        "critical@900s",
        "major@900s",
    ]
