"""Rule validation: params by kind, metric against the catalog, hysteresis direction."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ioc.alerts.defaults import default_rules
from ioc.alerts.models import (
    AbsenceParams,
    GroupParams,
    RuleSpec,
    Scope,
    ThresholdParams,
)
from ioc.telemetry.catalog import CATALOG, DOMAINS


def spec(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "fridge warm",
        "kind": "threshold",
        "domain": "health",
        "metric": "fridge_temp_c",
        "severity": "critical",
        "params": {"op": ">", "value": 8, "clear": 7.5, "for_s": 300},
    }
    return {**base, **over}


def test_threshold_rule_parses_into_its_params_model() -> None:
    rule = RuleSpec.model_validate(spec())
    assert isinstance(rule.params, ThresholdParams)
    assert rule.params.clear == 7.5
    assert rule.scope == Scope()


def test_clear_defaults_to_the_trigger_level() -> None:
    rule = RuleSpec.model_validate(spec(params={"op": "<", "value": 2}))
    assert isinstance(rule.params, ThresholdParams)
    assert rule.params.clear == 2


@pytest.mark.parametrize(
    ("over", "message"),
    [
        ({"metric": "vehicle_count"}, "is not a health metric"),
        ({"metric": None}, "needs a metric"),
        ({"params": {"op": ">", "value": 8, "clear": 9}}, "must be <= value"),
        ({"params": {"op": "<", "value": 2, "clear": 1}}, "must be >= value"),
        ({"params": {"op": ">=", "value": 8}}, "op"),
        ({"params": {"op": ">", "value": 8, "for_s": -1}}, "for_s"),
        ({"params": {"after_s": 300}}, "op"),
        ({"kind": "absence", "params": {"op": ">", "value": 8}}, "after_s"),
        ({"severity": "fatal"}, "severity"),
        ({"domain": "water"}, "domain"),
        ({"kind": "sometimes"}, "kind"),
        ({"colour": "red"}, "colour"),
        ({"kind": "anomaly", "params": {"z": 3, "clear_z": 4}}, "clear_z"),
        ({"name": "nul\x00"}, "NUL"),
        ({"sop": ["step\x00"]}, "NUL"),
        (
            {
                "kind": "group",
                "scope": {"devices": ["a"]},
                "params": {"op": "<", "value": 2},
            },
            "scoped by districts",
        ),
    ],
)
def test_bad_rules_are_refused_with_a_reason(over: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        RuleSpec.model_validate(spec(**over))
    assert message in str(info.value)


def test_absence_needs_no_metric() -> None:
    rule = RuleSpec.model_validate(spec(kind="absence", metric=None, params={"after_s": 60}))
    assert isinstance(rule.params, AbsenceParams)
    assert rule.params.offline is True


def test_rules_round_trip_through_json() -> None:
    rule = RuleSpec.model_validate(
        spec(
            kind="group",
            domain="traffic",
            metric="avg_speed_kmh",
            params={"op": "<", "value": 15, "clear": 20, "by": "district"},
        )
    )
    again = RuleSpec.model_validate_json(rule.model_dump_json())
    assert again == rule
    assert isinstance(again.params, GroupParams)


def test_scope_admits_by_device_and_district() -> None:
    assert Scope().admits("d1", "D1")
    assert Scope(districts=["D1"]).admits("d1", "D1")
    assert not Scope(districts=["D1"]).admits("d1", "D2")
    assert not Scope(devices=["d2"]).admits("d1", "D1")


def test_defaults_cover_every_domain_between_typical_and_physical_ranges() -> None:
    rules = default_rules()
    assert {r.domain for r in rules} == set(DOMAINS)
    assert len({r.name for r in rules}) == len(rules)
    for rule in rules:
        if isinstance(rule.params, ThresholdParams) and rule.metric:
            m = CATALOG[rule.domain][rule.metric]
            level = rule.params.value
            if rule.params.op == ">":
                assert m.typical_max <= level < m.max, rule.name
            else:
                assert m.min < level <= m.typical_min, rule.name
    fridge = next(r for r in rules if r.metric == "fridge_temp_c" and r.severity == "critical")
    assert isinstance(fridge.params, ThresholdParams)
    assert (fridge.params.value, fridge.params.clear, fridge.params.for_s) == (8, 7.5, 300)
