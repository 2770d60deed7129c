"""Each fault is refused by the pipeline for the reason it was meant to provoke, and the
faults that are valid data (late, skewed within tolerance) are accepted."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from devices.simulator import EXPECTED, FaultKind, FaultPlan, Fleet, Message, Simulator
from devices.simulator.faults import parse_rates
from ioc.types import RejectReason
from tests.simulator.conftest import MONDAY, decode

REFUSED = [k for k in FaultKind if EXPECTED[k] not in (None, RejectReason.DUPLICATE)]


def _run(
    rates: dict[FaultKind, float], fleet: Fleet | None = None, steps: int = 4, skew_s: float = 120
) -> tuple[Fleet, list[tuple[datetime, Message]]]:
    fleet = fleet or Fleet.build(3, seed=1)
    plan = FaultPlan(rates, fleet, seed=1, skew_s=skew_s)
    sim = Simulator(fleet, start=MONDAY, interval_s=10, seed=1, faults=plan)
    sent = []
    for _ in range(steps):
        at = sim.now
        sent += [(at, m) for m in sim.step()]
    return fleet, sent


@pytest.mark.parametrize("kind", REFUSED)
def test_each_fault_is_refused_for_its_own_reason(kind: FaultKind) -> None:
    fleet, sent = _run({kind: 1.0})
    assert sent and all(m.fault is kind for _, m in sent)
    for at, m in sent:
        decoded = decode(fleet, m, at)
        reasons = {r.reason for r in decoded.rejections}
        assert reasons == {EXPECTED[kind]}, (kind, decoded.rejections)
        if kind in (FaultKind.OUT_OF_RANGE, FaultKind.NAN, FaultKind.UNKNOWN_METRIC):
            # One bad reading costs only itself: the rest of the sample is kept.
            assert len(decoded.rejections) == 1
            assert len(decoded.readings) >= 3


def test_wrong_topic_without_another_domain_names_an_unknown_device() -> None:
    fleet = Fleet.build(2, domains=["health"])
    fleet, sent = _run({FaultKind.WRONG_TOPIC: 1.0}, fleet)
    for at, m in sent:
        assert m.topic.split("/")[3] != m.device_id
        assert [r.reason for r in decode(fleet, m, at).rejections] == [RejectReason.UNKNOWN_DEVICE]


def test_duplicates_pass_the_decoder_and_repeat_the_same_rows_for_storage_to_refuse() -> None:
    fleet, sent = _run({FaultKind.DUPLICATE: 1.0}, steps=1)
    assert len(sent) == 2 * len(fleet)
    by_device: dict[str, list[set[tuple[object, ...]]]] = {}
    for at, m in sent:
        decoded = decode(fleet, m, at)
        assert decoded.rejections == []
        by_device.setdefault(m.device_id, []).append(
            {(r.time, r.device_id, r.metric) for r in decoded.readings}
        )
    # Same (device, metric, time): the readings table's unique key turns the resend away.
    assert all(len(keys) == 2 and keys[0] == keys[1] for keys in by_device.values())


def test_out_of_order_samples_arrive_late_and_are_accepted() -> None:
    fleet, sent = _run({FaultKind.OUT_OF_ORDER: 0.5}, steps=10)
    late = 0
    seen: dict[str, int] = {}
    for at, m in sent:
        decoded = decode(fleet, m, at)
        assert decoded.rejections == []
        seq = json.loads(m.payload)["seq"]
        if seq < seen.get(m.device_id, -1):
            late += 1
            assert m.fault is FaultKind.OUT_OF_ORDER
        seen[m.device_id] = max(seq, seen.get(m.device_id, -1))
    assert late > 0


@pytest.mark.parametrize(
    ("skew_s", "reason"), [(120, None), (299, None), (301, RejectReason.FUTURE_TIMESTAMP)]
)
def test_clock_skew_is_accepted_within_tolerance_and_refused_beyond(
    skew_s: float, reason: RejectReason | None
) -> None:
    fleet, sent = _run({FaultKind.CLOCK_SKEW: 1.0}, skew_s=skew_s)
    plan = FaultPlan({FaultKind.CLOCK_SKEW: 1.0}, fleet, seed=1, skew_s=skew_s)
    assert plan.expected_for_skew == reason
    for at, m in sent:
        decoded = decode(fleet, m, at)
        assert {r.reason for r in decoded.rejections} == ({reason} if reason else set())
        if reason is None:
            assert all(r.time > at for r in decoded.readings)


def test_rates_mix_faults_deterministically() -> None:
    rates = {FaultKind.NAN: 0.1, FaultKind.MALFORMED_JSON: 0.1}
    fleet = Fleet.build(50, seed=1)
    a = [(m.topic, m.payload) for _, m in _run(rates, fleet, steps=5)[1]]
    b = [(m.topic, m.payload) for _, m in _run(rates, fleet, steps=5)[1]]
    assert a == b
    kinds = [m.fault for _, m in _run(rates, fleet, steps=5)[1]]
    share = {k: kinds.count(k) / len(kinds) for k in rates}
    assert all(0.05 < s < 0.15 for s in share.values()), share
    assert kinds.count(None) > 0.7 * len(kinds)


@pytest.mark.parametrize(
    ("specs", "message"),
    [
        (["gremlins=0.1"], "unknown fault 'gremlins'"),
        (["nan=lots"], "not a number"),
        (["nan=1.5"], "between 0 and 1"),
        (["nan=0.6", "oversized=0.6"], "more than 1"),
    ],
)
def test_bad_fault_specs_are_refused_clearly(specs: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_rates(specs)


def test_fault_specs_parse() -> None:
    assert parse_rates(["nan=0.25", "duplicate"]) == {
        FaultKind.NAN: 0.25,
        FaultKind.DUPLICATE: 0.01,
    }
