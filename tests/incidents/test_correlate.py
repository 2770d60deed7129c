"""Correlation stepped through time: tables of (transition) → incident, state and alerts,
then the shapes the issue names (power cut, group and members, a storm)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ioc.incidents import lifecycle
from ioc.incidents.correlate import correlate
from ioc.incidents.defaults import default_catalogue
from ioc.incidents.models import Catalogue
from ioc.incidents.state import AlertTransition, Board, Incident, prune
from testkit.incident_factory import SILENT, partition, run, tr

FRIDGE = "Health: vaccine fridge warm"


def step(
    transitions: list[AlertTransition], board: Board | None = None
) -> list[tuple[int, str, tuple[int, ...]]]:
    """Feed one transition per call; after each, (incident id, state, alert ids) of the
    incident that holds the transition's alert."""
    board = board or Board()
    trace = []
    for t in transitions:
        board, _ = run([t], board)
        i = board.incident_of(t.alert_id)
        assert i is not None
        trace.append((i.id, i.state, i.alert_ids))
    return trace


def test_one_rule_in_one_district_resolves_reopens_and_then_opens_anew() -> None:
    # rule-in-district: window 600 s after the resolution
    trace = step(
        [
            tr(1, FRIDGE, 0),
            tr(2, FRIDGE, 30),
            tr(1, FRIDGE, 60, "resolved"),
            tr(2, FRIDGE, 90, "acknowledged"),
            tr(2, FRIDGE, 100, "resolved"),
            tr(3, FRIDGE, 650),  # 550 s after: reopens the same incident
            tr(3, FRIDGE, 700, "resolved"),
            tr(4, FRIDGE, 1301),  # 601 s after: a new incident
        ]
    )
    assert trace == [
        (1, "open", (1,)),
        (1, "open", (1, 2)),
        (1, "open", (1, 2)),
        (1, "open", (1, 2)),
        (1, "resolved", (1, 2)),
        (1, "open", (1, 2, 3)),
        (1, "resolved", (1, 2, 3)),
        (2, "open", (4,)),
    ]


def test_history_records_who_when_and_why() -> None:
    board, changes = run([tr(1, FRIDGE, 0), tr(1, FRIDGE, 60, "resolved"), tr(2, FRIDGE, 90)])
    incident = board.incidents[1]
    assert [(e.at, e.action) for e in incident.history] == [
        (0, "opened"),
        (0, "alert_added"),
        (60, "alert_changed"),
        (60, "resolved"),
        (90, "alert_added"),
        (90, "reopened"),
    ]
    assert {e.by for e in incident.history} == {"engine"}
    assert [c.entry for c in changes] == list(incident.history)
    assert [c.event for c in changes] == [
        "opened",
        "updated",
        "updated",
        "resolved",
        "updated",
        "opened",
    ]


def test_power_cut_shape_is_one_incident_across_domains() -> None:
    transitions = [
        tr(n, SILENT[domain], at=n, device=f"{domain}-{k}")
        for n, (domain, k) in enumerate(((d, k) for d in SILENT for k in range(5)), start=1)
    ]
    assert max(t.at for t in transitions) <= 120
    board, _ = run(transitions)
    (incident,) = board.incidents.values()
    assert incident.title == "devices silent in D1: possible power or network outage"
    assert incident.domains == ("agriculture", "energy", "health", "traffic")
    assert incident.districts == ("D1",)
    assert incident.device_count == 20
    assert incident.severity == "major"  # the highest of minor and major
    assert incident.procedure == "power_cut" and len(incident.steps) == 7


def test_silence_in_two_districts_is_two_incidents() -> None:
    board, _ = run(
        [tr(1, SILENT["energy"], 0, district="D1"), tr(2, SILENT["energy"], 5, district="D2")]
    )
    assert sorted(i.title for i in board.incidents.values()) == [
        "devices silent in D1: possible power or network outage",
        "devices silent in D2: possible power or network outage",
    ]


def test_a_group_alert_and_its_members_are_one_incident() -> None:
    board, _ = run(
        [
            tr(1, "Traffic: junction jammed", 0, device="cam-1"),
            tr(2, "Traffic: queue spill-back", 20, device="cam-1"),
            tr(3, "Traffic: district speed collapse", 60),
            tr(4, "Traffic: junction jammed", 90, device="cam-2"),
            tr(5, "Traffic: junction jammed", 95, device="cam-9", district="D2"),
        ]
    )
    assert partition(board) == {frozenset({1, 2, 3, 4}), frozenset({5})}
    congestion = board.incident_of(3)
    assert congestion is not None
    assert congestion.title == "traffic congestion in D1"
    assert congestion.device_count == 2  # the group alert has no device
    assert congestion.severity == "major"
    assert congestion.procedure == "traffic_jam"


def test_a_domain_wide_group_alert_is_an_incident_of_its_own() -> None:
    wide = tr(1, "Traffic: district speed collapse", 0, district=None, subject="domain:traffic")
    board, _ = run([wide, tr(2, "Traffic: junction jammed", 5)])
    own = board.incident_of(1)
    assert own is not None and own.alert_ids == (1,) and own.policy == "own"
    assert own.title == "Traffic: district speed collapse: domain:traffic"
    assert len(board.incidents) == 2


def test_unrelated_rules_in_one_district_stay_apart() -> None:
    board, _ = run([tr(1, FRIDGE, 0), tr(2, "Health: beds nearly full", 5)])
    titles = sorted(i.title for i in board.incidents.values())
    assert titles == ["Health: beds nearly full in D1", "Health: vaccine fridge warm in D1"]
    fridge = board.incident_of(1)
    assert fridge is not None and fridge.procedure == "fridge_failure"
    beds = board.incident_of(2)
    assert beds is not None and beds.procedure is None and beds.steps == ()


def test_severity_follows_the_open_alerts() -> None:
    board, _ = run([tr(1, "Energy: undervoltage", 0), tr(2, "Energy: feeder overloaded", 10)])
    assert board.incidents[1].severity == "critical"
    board, changes = run([tr(2, "Energy: feeder overloaded", 300, "resolved")], board)
    incident = board.incidents[1]
    assert incident.severity == "major" and incident.state == "open"
    assert [(c.entry.action, c.entry.note) for c in changes][-1] == (
        "severity_changed",
        "critical → major",
    )
    board, _ = run([tr(1, "Energy: undervoltage", 400, "resolved")], board)
    assert board.incidents[1].state == "resolved"
    assert board.incidents[1].severity == "critical"  # none open: the highest it had


def test_replaying_changes_nothing() -> None:
    transitions = [tr(1, FRIDGE, 0), tr(2, FRIDGE, 5), tr(1, FRIDGE, 50, "resolved")]
    board, _ = run(transitions)
    again, changes = run(transitions, board)
    assert changes == [] and dict(again.incidents) == dict(board.incidents)


def test_an_older_transition_never_moves_an_alert_back() -> None:
    board, _ = run([tr(1, FRIDGE, 60, "resolved")])
    assert board.incidents[1].state == "resolved"
    board, changes = run([tr(1, FRIDGE, 0), tr(1, FRIDGE, 30, "acknowledged")], board)
    assert changes == [] and board.incidents[1].members[0].state == "resolved"


def test_acknowledged_incident_keeps_taking_its_alerts() -> None:
    board, _ = run([tr(1, FRIDGE, 0)])
    board = board.put(lifecycle.acknowledge(board.incidents[1], "ana", 10))
    board, _ = run([tr(2, FRIDGE, 20)], board)
    incident = board.incidents[1]
    assert incident.state == "acknowledged" and incident.acknowledged_by == "ana"
    assert incident.alert_ids == (1, 2)


def test_reopening_needs_taking_again() -> None:
    board, _ = run([tr(1, FRIDGE, 0)])
    board = board.put(lifecycle.acknowledge(board.incidents[1], "ana", 10))
    board, _ = run([tr(1, FRIDGE, 20, "resolved"), tr(2, FRIDGE, 30)], board)
    incident = board.incidents[1]
    assert incident.state == "open" and incident.acknowledged_by is None
    assert incident.since == 30


def test_a_closed_incident_never_reopens() -> None:
    board, _ = run([tr(1, FRIDGE, 0)])
    resolved = lifecycle.resolve(board.incidents[1], "ana", 10, "vaccines moved")
    board = board.put(lifecycle.close(resolved, "ana", 20, "door left open"))
    board, _ = run([tr(2, FRIDGE, 30)], board)
    assert board.incidents[1].state == "closed" and board.incidents[1].alert_ids == (1,)
    assert board.incident_of(2) == board.incidents[2]
    # the closed incident still learns of its own alert's resolution, and stays closed
    board, _ = run([tr(1, FRIDGE, 40, "resolved")], board)
    assert board.incidents[1].state == "closed"
    assert board.incidents[1].members[0].state == "resolved"


def test_an_operator_resolution_with_alerts_still_firing() -> None:
    board, _ = run([tr(1, FRIDGE, 0)])
    resolved = lifecycle.resolve(board.incidents[1], "ana", 10, "fridge replaced")
    board = board.put(resolved)
    board, changes = run([tr(1, FRIDGE, 50, "resolved")], board)
    assert board.incidents[1].state == "resolved" and board.incidents[1].resolved_by == "ana"
    assert [c.entry.action for c in changes] == ["alert_changed"]


def test_storm_of_a_thousand_openings_is_one_incident() -> None:
    storm = [
        tr(n, SILENT[("traffic", "energy", "agriculture", "health")[n % 4]], at=n / 100)
        for n in range(1, 1001)
    ]
    assert max(t.at for t in storm) <= 10
    board, changes = run(storm)
    (incident,) = board.incidents.values()
    assert len(incident.alert_ids) == 1000 and incident.device_count == 1000
    assert sum(c.entry.action == "opened" for c in changes) == 1
    # the same storm one transition at a time
    board = Board()
    for t in storm:
        board, _ = run([t], board)
    assert partition(board) == {frozenset(range(1, 1001))}


def test_an_incident_whose_policy_was_deleted_keeps_working() -> None:
    board, _ = run([tr(1, FRIDGE, 0)])
    slim = Catalogue(
        policies=tuple(p for p in default_catalogue().policies if p.name != "rule-in-district"),
        procedures=default_catalogue().procedures,
    )
    board, _ = correlate(slim, board, [tr(1, FRIDGE, 10, "resolved")])
    incident = board.incidents[1]
    assert incident.state == "resolved" and incident.policy == "rule-in-district"
    assert incident.title == "Health: vaccine fridge warm in D1"  # kept, not re-made


def test_board_restored_from_stored_incidents() -> None:
    board, _ = run([tr(1, FRIDGE, 0), tr(2, SILENT["health"], 5), tr(3, FRIDGE, 9)])
    restored = Board.of(board.incidents.values())
    assert dict(restored.by_alert) == dict(board.by_alert)
    assert dict(restored.by_key) == dict(board.by_key)
    assert restored.next_id == board.next_id == 3


@pytest.mark.parametrize(
    ("changes", "now", "kept"),
    [
        ({}, 10_000, {1}),  # open: kept
        ({"state": "resolved", "resolved_at": 100.0}, 700, {1}),  # inside the window
        ({"state": "resolved", "resolved_at": 100.0}, 701, set()),  # past it
        ({"state": "closed", "resolved_at": 100.0}, 101, set()),
    ],
)
def test_prune(changes: dict[str, object], now: float, kept: set[int]) -> None:
    board, _ = run([tr(1, FRIDGE, 0), tr(1, FRIDGE, 50, "resolved")])
    incident: Incident = replace(board.incidents[1], **changes)  # type: ignore[arg-type]
    if "state" not in changes:
        incident = replace(incident, state="open")
    assert set(prune(board.put(incident), now).incidents) == kept
