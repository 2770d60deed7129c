"""The pure core, stepped through time like Prometheus' TestKeepFiringFor: tables of
(t, value) → phase and transitions, then properties over generated streams."""

from __future__ import annotations

from typing import Any

import pytest

from ioc.alerts.core import (
    Sample,
    State,
    Status,
    Transition,
    aggregate,
    evaluate,
    firing,
)
from ioc.alerts.models import GroupParams, RuleSpec


def rule(kind: str = "threshold", **params: Any) -> RuleSpec:
    metric = {"absence": None}.get(kind, "fridge_temp_c")
    defaults: dict[str, Any] = {
        "threshold": {"op": ">", "value": 8, "clear": 7.5},
        "rate": {"op": ">", "value": 1, "clear": 0.2, "window_s": 120},
        "absence": {"after_s": 300},
        "anomaly": {"history": 20, "min_history": 10, "z": 6, "clear_z": 3},
    }[kind]
    return RuleSpec.model_validate(
        {
            "name": "r",
            "kind": kind,
            "domain": "health",
            "metric": metric,
            "params": {**defaults, **params},
        }
    )


def run(r: RuleSpec, steps: list[tuple[float, float | None]]) -> list[tuple[str, list[str]]]:
    """Feed (t, value) one at a time (value None = a tick at t); record phase + actions."""
    state, trace = State(), []
    for t, value in steps:
        events = [] if value is None else [Sample(t, value)]
        state, out = evaluate(r, state, events, now=t)
        trace.append((state.phase, [x.action for x in out]))
    return trace


FRIDGE = rule(for_s=300, keep_firing_for_s=0)


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        # a short excursion never fires: pending, then dropped
        (
            [(0, 7.0), (60, 8.5), (120, 9.0), (180, 7.9)],
            ["inactive", "pending", "pending", "inactive"],
        ),
        # held for 300 s: fires once, stays firing inside the hysteresis band, clears at 7.5
        (
            [(0, 8.5), (150, 9.0), (300, 9.2), (360, 7.8), (420, 8.1), (480, 7.5), (540, 9.0)],
            ["pending", "pending", "firing", "firing", "firing", "inactive", "pending"],
        ),
        # time alone promotes a pending condition (the last value holds)
        (
            [(0, 9.0), (200, None), (300, None), (400, None)],
            ["pending", "pending", "firing", "firing"],
        ),
    ],
)
def test_threshold_with_for_and_hysteresis(
    steps: list[tuple[float, float | None]], expected: list[str]
) -> None:
    assert [phase for phase, _ in run(FRIDGE, steps)] == expected


def test_a_reading_holds_for_a_bounded_time() -> None:
    slow = rule(for_s=600)
    state, out = evaluate(slow, State(), [Sample(0, 9.0)], now=0)
    state, out = evaluate(slow, state, [], now=5000)
    assert out == [] and state.phase == "pending"  # one reading does not hold for 10 min
    state, out = evaluate(slow, state, [Sample(5001, 9.0)], now=5001)
    assert out == [] and state.since == 5001  # unobserved for over HOLD_S: start over
    for t in (5250, 5500):
        state, out = evaluate(slow, state, [Sample(t, 9.0)], now=t)
        assert out == [] and state.phase == "pending"
    state, out = evaluate(slow, state, [], now=5601)
    assert [(x.action, x.at) for x in out] == [("opened", 5601)]


def test_transitions_carry_time_and_value() -> None:
    state, out = evaluate(FRIDGE, State(), [Sample(0, 8.5), Sample(300, 9.5)], now=300)
    assert out == [Transition("opened", 300, 9.5, "9.5 > 8")]
    assert state.value == 9.5 and state.since == 300
    state, out = evaluate(FRIDGE, state, [Sample(400, 7.4)], now=400)
    assert [(x.action, x.at, x.value) for x in out] == [("resolved", 400, 7.4)]


def test_keep_firing_for() -> None:
    # the Prometheus test's shape: 75 85 70 70 10x5 against > 80 with keep_firing_for
    r = rule(value=80, clear=80, keep_firing_for_s=120)
    steps: list[tuple[float, float | None]] = [
        (0, 75),
        (60, 85),
        (120, 70),
        (180, 70),
        (240, 10),
        (300, 10),
        (360, 10),
    ]
    trace = run(r, steps)
    assert [p for p, _ in trace] == [
        "inactive",
        "firing",
        "firing",
        "firing",
        "inactive",
        "inactive",
        "inactive",
    ]
    assert sum(a == ["resolved"] for _, a in trace) == 1
    # a return above the clear level restarts the keep-firing clock
    trace = run(r, [(0, 85), (60, 70), (120, 85), (180, 70), (240, 70), (300, 70)])
    assert [p for p, _ in trace] == ["firing"] * 5 + ["inactive"]


def test_keep_firing_for_resolves_on_a_tick() -> None:
    r = rule(value=80, clear=80, keep_firing_for_s=120)
    trace = run(r, [(0, 85), (60, 70), (150, None), (180, None)])
    assert trace[-1] == ("inactive", ["resolved"])


def test_below_threshold() -> None:
    r = rule(op="<", value=2, clear=2.5, for_s=0)
    assert [p for p, _ in run(r, [(0, 3), (1, 1.9), (2, 2.4), (3, 2.5)])] == [
        "inactive",
        "firing",
        "firing",
        "inactive",
    ]


def test_duplicates_and_late_samples_are_ignored() -> None:
    r = rule(for_s=0)
    state, out = evaluate(r, State(), [Sample(10, 9.0)], now=10)
    assert [x.action for x in out] == ["opened"]
    for late in ([Sample(10, 9.0)], [Sample(5, 3.0)], [Sample(10, 3.0)]):
        again, out = evaluate(r, state, late, now=11)
        assert out == [] and again.phase == "firing"


def test_input_state_is_never_modified() -> None:
    before = State()
    evaluate(FRIDGE, before, [Sample(0, 9.0), Sample(400, 9.0)], now=400)
    assert before == State()


def test_rate_of_change() -> None:
    r = rule("rate", value=1.0, clear=0.2, window_s=120)  # °C per minute
    trace = run(r, [(0, 4.0), (30, 4.0), (60, 4.1), (120, 6.5), (180, 7.0), (240, 7.1), (300, 7.1)])
    # (6.5 - 4.0) over 120 s = 1.25/min fires; 0.3/min (at 240) is inside the band;
    # 0.05/min over the window ending at 300 clears
    assert [p for p, _ in trace] == [
        "inactive",
        "inactive",
        "inactive",
        "firing",
        "firing",
        "firing",
        "inactive",
    ]


def test_rate_needs_half_a_window_of_history() -> None:
    r = rule("rate", value=1.0, clear=0.2, window_s=120)
    state, out = evaluate(r, State(), [Sample(0, 4.0), Sample(10, 9.0)], now=10)
    assert out == [] and state.last_signal is None


def test_anomaly_against_own_history() -> None:
    r = rule("anomaly", history=20, min_history=10, z=6, clear_z=3)
    steady = [(float(t), 4.0 + 0.1 * (t % 3)) for t in range(12)]
    trace = run(r, [*steady, (12, 9.0), (13, 9.1), (14, 4.1)])
    assert [p for p, _ in trace[:12]] == ["inactive"] * 12
    assert trace[12] == ("firing", ["opened"])
    assert trace[-1] == ("inactive", ["resolved"])


def test_anomaly_on_a_flat_history_uses_a_floor() -> None:
    r = rule("anomaly", history=20, min_history=10, z=6, clear_z=3)
    flat = [(float(t), 5.0) for t in range(10)]
    # 0.1 °C off a perfectly flat line: under 6 × 0.15 °C (0.1 % of the 150 °C range)
    assert run(r, [*flat, (10, 5.1)])[-1][0] == "inactive"
    assert run(r, [*flat, (10, 6.5)])[-1][0] == "firing"


def test_absence_after_silence_and_back() -> None:
    r = rule("absence", after_s=300)
    state, out = evaluate(r, State(), [Sample(0, 5.0)], now=0)
    assert out == []
    state, out = evaluate(r, state, [], now=299)
    assert out == []
    state, out = evaluate(r, state, [], now=300)
    assert [(x.action, x.value) for x in out] == [("opened", 300)]
    state, out = evaluate(r, state, [], now=900)
    assert out == []  # once
    state, out = evaluate(r, state, [Sample(950, 5.0)], now=951)
    assert [x.action for x in out] == ["resolved"] and state.phase == "inactive"


def test_absence_on_offline_status() -> None:
    r = rule("absence", after_s=300)
    state, out = evaluate(r, State(heard=0), [Status(10, False)], now=10)
    assert [(x.action, x.reason) for x in out] == [("opened", "status offline")]
    state, out = evaluate(r, state, [Status(10, False), Status(5, True)], now=20)
    assert out == []  # a repeated or older status changes nothing
    state, out = evaluate(r, state, [Status(100, True)], now=100)
    assert [(x.action, x.reason) for x in out] == [("resolved", "back online")]
    # online but silent still fires after after_s, counted from the online status
    state, out = evaluate(r, state, [], now=399)
    assert out == []
    state, out = evaluate(r, state, [], now=400)
    assert [x.reason for x in out] == ["nothing heard for 300s"]


def test_absence_offline_can_be_turned_off() -> None:
    r = rule("absence", after_s=300, offline=False)
    state, out = evaluate(r, State(heard=0), [Status(10, False)], now=10)
    assert out == [] and state.online is False


def test_silence_alert_does_not_clear_on_online_without_data() -> None:
    r = rule("absence", after_s=60)
    state, _ = evaluate(r, State(heard=0), [], now=60)
    assert state.phase == "firing" and state.cause == "silent"
    state, out = evaluate(r, state, [Status(70, True)], now=70)
    assert out == [] and state.phase == "firing"


def test_restored_firing_state_resolves_without_reopening() -> None:
    state, out = evaluate(FRIDGE, firing(0, 9.0), [Sample(100, 9.5)], now=100)
    assert out == [] and state.phase == "firing"
    state, out = evaluate(FRIDGE, state, [Sample(200, 7.0)], now=200)
    assert [x.action for x in out] == ["resolved"]


@pytest.mark.parametrize(
    ("agg", "expected"),
    [("avg", 20.0), ("min", 10.0), ("max", 30.0), ("sum", 60.0), ("count", 3.0)],
)
def test_aggregate(agg: str, expected: float) -> None:
    p = GroupParams.model_validate({"op": "<", "value": 15, "agg": agg, "window_s": 300})
    values = [(100.0, 10.0), (200.0, 20.0), (300.0, 30.0), (-1.0, 99.0)]  # the last is stale
    assert aggregate(values, now=300, params=p) == expected


def test_aggregate_needs_enough_devices() -> None:
    p = GroupParams.model_validate({"op": "<", "value": 15, "min_devices": 2})
    assert aggregate([(0.0, 10.0)], now=0, params=p) is None
