"""Each simulator scenario's expected alerts, as the engine would report them, make
exactly one incident with the scenario's procedure under the shipped policies."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from devices.simulator.fleet import Fleet
from devices.simulator.scenarios import SCENARIOS
from ioc.alerts.defaults import default_rules
from ioc.incidents.state import AlertTransition
from testkit.incident_factory import run

START = 1_800_000_000.0
PROCEDURE = {
    "power_cut": "power_cut",
    "heavy_rain": "flooding",
    "fridge_failure": "fridge_failure",
    "feeder_overload": "feeder_overload",
    "traffic_jam": "traffic_jam",
}


def transitions(name: str) -> list[AlertTransition]:
    """One alert per expected (rule, device), opened within the first 2 minutes of its
    window (a group rule: one for the district), in the order the windows open."""
    fleet = Fleet.build(6, seed=3, districts=("D1", "D2"))
    scenario = SCENARIOS[name](fleet, "D1", datetime(2026, 11, 23, tzinfo=UTC))
    rules = {r.name: (i + 1, r) for i, r in enumerate(default_rules())}
    out: list[AlertTransition] = []
    for expected in scenario.expected_alerts():
        rule_id, rule = rules[expected.rule]
        devices: tuple[str | None, ...] = (None,) if expected.kind == "group" else expected.devices
        for k, device in enumerate(devices):
            out.append(
                AlertTransition(
                    alert_id=len(out) + 1,
                    rule_id=rule_id,
                    rule_name=rule.name,
                    rule_kind=rule.kind,
                    subject=device or "district:D1",
                    device_id=device,
                    domain=rule.domain,
                    district="D1",
                    severity=rule.severity,
                    action="opened",
                    at=START + expected.window[0] + k * 7 % 120,
                )
            )
    return out


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_each_scenario_is_one_incident(name: str) -> None:
    alerts = transitions(name)
    board, _ = run(alerts)
    (incident,) = board.incidents.values()
    assert set(incident.alert_ids) == {t.alert_id for t in alerts}
    assert incident.procedure == PROCEDURE[name]
    assert incident.districts == ("D1",)
    assert incident.state == "open"


def test_power_cut_spans_every_domain_of_the_district() -> None:
    board, _ = run(transitions("power_cut"))
    (incident,) = board.incidents.values()
    assert incident.domains == ("agriculture", "energy", "health", "traffic")
    assert incident.title == "devices silent in D1: possible power or network outage"
    assert incident.device_count == 12  # 6 per domain over two districts: 3 each in D1


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_each_scenario_names_the_incident_it_yields(name: str) -> None:
    fleet = Fleet.build(6, seed=3, districts=("D1", "D2"))
    scenario = SCENARIOS[name](fleet, "D1", datetime(2026, 11, 23, tzinfo=UTC))
    (expected,) = scenario.expected_incidents()
    board, _ = run(transitions(name))
    (incident,) = board.incidents.values()
    assert incident.policy == expected.policy
    assert incident.procedure == expected.procedure
    assert {(m.rule_name, m.subject) for m in incident.members} == set(expected.alerts)
