"""The engine's memory without I/O: indexes, scopes, absence over devices, group subjects,
restore."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ioc.alerts.book import Book, Device
from ioc.alerts.models import Alert, Rule

T = datetime(2026, 11, 23, tzinfo=UTC)


def make_rule(rule_id: int, **over: Any) -> Rule:
    data: dict[str, Any] = {
        "id": rule_id,
        "name": f"r{rule_id}",
        "kind": "threshold",
        "domain": "health",
        "metric": "fridge_temp_c",
        "params": {"op": ">", "value": 8, "clear": 7.5},
        "created_at": T,
        "updated_at": T,
    }
    return Rule.model_validate({**data, **over})


DEVICES = [
    Device("f1", "health", "D1", heard=0.0),
    Device("f2", "health", "D2", heard=0.0),
    Device("t1", "traffic", "D1", heard=0.0),
    Device("t2", "traffic", "D1", heard=0.0),
    Device("t3", "traffic", "D2", heard=0.0),
]


def test_device_rules_are_found_by_metric_and_scope() -> None:
    book = Book(
        [make_rule(1), make_rule(2, scope={"districts": ["D2"]}), make_rule(3, enabled=False)],
        DEVICES,
    )
    changes = book.readings("f1", [(10.0, "fridge_temp_c", 9.0), (10.0, "pm25_ugm3", 9.0)], 10.0)
    assert [(c.rule.id, c.subject, c.district, c.transition.action) for c in changes] == [
        (1, "f1", "D1", "opened")
    ]
    assert book.readings("nobody", [(10.0, "fridge_temp_c", 9.0)], 10.0) == []


def test_absence_is_counted_for_every_device_of_the_domain() -> None:
    book = Book([make_rule(1, kind="absence", metric=None, params={"after_s": 60})], DEVICES)
    assert book.tick(59.0) == []
    book.readings("f2", [(30.0, "fridge_temp_c", 5.0)], 30.0)
    assert [c.subject for c in book.tick(60.0)] == ["f1"]
    assert book.tick(61.0) == []
    assert [c.subject for c in book.tick(90.0)] == ["f2"]
    back = book.readings("f1", [(100.0, "bed_occupancy_pct", 50.0)], 100.0)
    assert [(c.subject, c.transition.action) for c in back] == [("f1", "resolved")]


def test_offline_status_fires_absence() -> None:
    book = Book([make_rule(1, kind="absence", metric=None, params={"after_s": 600})], DEVICES)
    out = book.status("f1", 5.0, False, 5.0)
    assert [(c.subject, c.transition.reason) for c in out] == [("f1", "status offline")]


def test_group_rule_per_district() -> None:
    rule = make_rule(
        1,
        kind="group",
        domain="traffic",
        metric="avg_speed_kmh",
        params={"op": "<", "value": 15, "clear": 20, "by": "district", "window_s": 300},
    )
    book = Book([rule], DEVICES)
    book.readings("t1", [(0.0, "avg_speed_kmh", 10.0)], 0.0)
    book.readings("t2", [(0.0, "avg_speed_kmh", 12.0)], 0.0)
    book.readings("t3", [(0.0, "avg_speed_kmh", 50.0)], 0.0)
    out = book.tick(1.0)
    assert [(c.subject, c.device_id, c.district, c.transition.value) for c in out] == [
        ("district:D1", None, "D1", 11.0)
    ]
    book.readings("t1", [(2.0, "avg_speed_kmh", 40.0)], 2.0)
    out = book.tick(3.0)
    assert [(c.subject, c.transition.action) for c in out] == [("district:D1", "resolved")]


def test_restore_makes_open_alerts_firing() -> None:
    book = Book([make_rule(1)], DEVICES)
    alert = Alert.model_validate(
        {
            "id": 1,
            "rule_id": 1,
            "rule_name": "r1",
            "subject": "f1",
            "device_id": "f1",
            "domain": "health",
            "district": "D1",
            "metric": "fridge_temp_c",
            "severity": "major",
            "state": "acknowledged",
            "started_at": T,
            "value": 9.0,
        }
    )
    assert book.restore([alert]) == 1
    assert book.readings("f1", [(T.timestamp() + 5, "fridge_temp_c", 9.5)], 0.0) == []
    out = book.readings("f1", [(T.timestamp() + 9, "fridge_temp_c", 7.0)], 0.0)
    assert [c.transition.action for c in out] == ["resolved"]


def test_rule_changes_keep_states_of_surviving_rules() -> None:
    book = Book([make_rule(1), make_rule(2)], DEVICES)
    book.readings("f1", [(1.0, "fridge_temp_c", 9.0)], 1.0)
    book.set_rules([make_rule(1)])
    assert set(book.states) == {(1, "f1")}
    assert book.states[(1, "f1")].phase == "firing"
