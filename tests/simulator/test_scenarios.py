"""Each scenario produces, in the generated data, the condition it documents, and the
default rule it names would catch it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from devices.simulator import SCENARIOS, ExpectedAlert, Fleet, Simulator
from devices.simulator.scenarios import PowerCut
from ioc.alerts.defaults import default_rules
from ioc.alerts.models import AbsenceParams, GroupParams, ThresholdParams
from ioc.telemetry.decoder import decode_status
from tests.simulator.conftest import MONDAY, collect, decode

INTERVAL = 60
LEAD = timedelta(minutes=5)


def _run(name: str, seed: int = 3) -> tuple[Fleet, Simulator, list, dict]:  # type: ignore[type-arg]
    fleet = Fleet.build(24, seed=seed)
    scenario = SCENARIOS[name](fleet, "riverside", MONDAY + LEAD)
    sim = Simulator(fleet, start=MONDAY, interval_s=INTERVAL, seed=seed, scenarios=[scenario])
    steps = int((LEAD.total_seconds() + scenario.duration_s) / INTERVAL) + 10
    sent, series = collect(sim, steps)
    return fleet, sim, sent, series


def _in_window(expected: ExpectedAlert, series: dict[object, float]) -> dict[object, float]:
    start = MONDAY + LEAD
    lo, hi = (start + timedelta(seconds=s) for s in expected.window)
    return {t: v for t, v in series.items() if lo <= t < hi}  # type: ignore[operator]


@pytest.mark.parametrize("name", [n for n in SCENARIOS if n != "power_cut"])
def test_scenario_holds_its_documented_condition(name: str) -> None:
    _fleet, sim, _sent, series = _run(name)
    scenario = sim.scenarios[0]
    assert all(d.district == "riverside" for d in scenario.targets)
    expected_alerts = scenario.expected_alerts()
    assert expected_alerts
    for expected in expected_alerts:
        assert expected.devices == scenario.device_ids
        points = expected.for_s // INTERVAL
        if expected.kind == "group":
            per_time: dict[object, list[float]] = {}
            for device_id in expected.devices:
                for t, v in _in_window(expected, series[(device_id, expected.metric)]).items():
                    per_time.setdefault(t, []).append(v)
            assert len(per_time) >= points
            assert all(expected.holds(sum(v) / len(v)) for v in per_time.values())
            continue
        for device_id in expected.devices:
            window = _in_window(expected, series[(device_id, expected.metric)])
            assert len(window) >= points, (device_id, len(window))
            bad = {t: v for t, v in window.items() if not expected.holds(v)}
            assert not bad, (expected.rule, device_id, sorted(bad.items())[:3])


def test_other_districts_stay_normal_during_an_incident() -> None:
    _fleet, sim, _sent, series = _run("fridge_failure")
    fridge = sim.scenarios[0].targets[0].device_id
    for (device_id, metric), values in series.items():
        if metric == "fridge_temp_c" and device_id != fridge:
            assert max(values.values()) <= 8


def test_scenarios_are_deterministic_for_a_seed() -> None:
    a = [(m.topic, m.payload) for _, m in _run("traffic_jam", seed=9)[2]]
    b = [(m.topic, m.payload) for _, m in _run("traffic_jam", seed=9)[2]]
    assert a == b


def test_power_cut_takes_the_district_offline_then_forwards_what_it_missed() -> None:
    fleet, sim, sent, _series = _run("power_cut")
    cut = sim.scenarios[0]
    assert isinstance(cut, PowerCut)
    ids = set(cut.device_ids)
    assert ids == {d.device_id for d in fleet.in_district("riverside")}
    start, end = MONDAY + LEAD, MONDAY + LEAD + timedelta(seconds=cut.duration_s)
    lookup = fleet.lookup()
    states: dict[str, list[tuple[object, bool]]] = {}
    for at, m in sent:
        if m.kind == "status" and m.device_id in ids:
            update = decode_status(m.topic, m.payload, at, lookup)
            states.setdefault(m.device_id, []).append((update.ts, update.online))
    for device_id in ids:
        assert states[device_id] == [(MONDAY, True), (start, False), (end, True)]
    # Nothing is sent during the cut; afterwards each device forwards every missed sample.
    during = [m for at, m in sent if m.device_id in ids and start <= at < end]
    assert [m.kind for m in during] == ["status"] * len(ids)
    batches = [(at, m) for at, m in sent if m.device_id in ids and m.samples > 1]
    assert {m.device_id for _, m in batches} == ids
    missed = cut.duration_s // INTERVAL
    for at, m in batches:
        assert at == end
        decoded = decode(fleet, m, at)
        assert decoded.rejections == []
        assert decoded.samples == missed
        samples = json.loads(m.payload)["batch"]
        seqs = [s["seq"] for s in samples]
        assert seqs == list(range(seqs[0], seqs[0] + missed))
    # Devices elsewhere never stopped.
    other = next(d.device_id for d in fleet.devices if d.device_id not in ids)
    assert any(m.device_id == other for at, m in sent if start <= at < end)


def test_power_cut_expects_absence_for_every_device_of_the_district() -> None:
    fleet = Fleet.build(6)
    cut = PowerCut(fleet, "central", MONDAY)
    expected = cut.expected_alerts()
    assert {e.domain for e in expected} == set(fleet.domains)
    assert sorted(i for e in expected for i in e.devices) == sorted(cut.device_ids)
    assert all(e.kind == "absence" and e.window == (0, 1200) for e in expected)


RULES = {r.name: r for r in default_rules()}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_the_named_default_rule_would_catch_the_condition(name: str) -> None:
    fleet = Fleet.build(6)
    for expected in SCENARIOS[name](fleet, "central", MONDAY).expected_alerts():
        rule = RULES.get(expected.rule)
        assert rule is not None, f"no default rule named {expected.rule!r}"
        assert (rule.kind, rule.domain, rule.metric) == (
            expected.kind,
            expected.domain,
            expected.metric,
        )
        params = rule.params
        if isinstance(params, AbsenceParams):
            assert params.after_s < expected.for_s
            continue
        assert isinstance(params, ThresholdParams | GroupParams)
        assert params.op == expected.op and expected.value is not None
        # The documented condition implies the rule's, for longer than the rule waits.
        assert (
            expected.value <= params.value if params.op == "<" else expected.value >= params.value
        )
        assert params.for_s < expected.for_s
