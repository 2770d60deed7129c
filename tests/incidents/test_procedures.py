"""Procedures on incidents: attached from the policy or the first alert's rule, ticked
once, overdue against their time targets with a stepped clock."""

from __future__ import annotations

import pytest

from ioc.errors import Conflict, NotFound
from ioc.incidents import lifecycle, procedures
from ioc.incidents.state import Incident
from testkit.incident_factory import SILENT, run, tr


def outage(at: float = 1000.0) -> Incident:
    board, _ = run([tr(1, SILENT["energy"], at), tr(2, SILENT["health"], at + 30)])
    return board.incidents[1]


def test_policy_procedure_attaches_in_order() -> None:
    i = outage()
    assert i.procedure == "power_cut"
    assert [s.n for s in i.steps] == list(range(1, 8))
    assert i.steps[1].role == "operator" and i.steps[1].target_min == 5
    assert i.steps[-1].target_min is None


def test_tick_once() -> None:
    i = procedures.tick(outage(), 2, "ana", 1100, "supply is out, ETA 40 min")
    step = i.steps[1]
    assert (step.done_at, step.done_by, step.note) == (1100, "ana", "supply is out, ETA 40 min")
    assert i.history[-1].action == "step_done" and i.history[-1].by == "ana"
    with pytest.raises(Conflict):
        procedures.tick(i, 2, "bob", 1200)
    with pytest.raises(NotFound):
        procedures.tick(i, 8, "bob", 1200)


def test_no_ticking_on_a_closed_incident() -> None:
    i = lifecycle.close(lifecycle.resolve(outage(), "ana", 1, "back"), "ana", 2, "reviewed")
    with pytest.raises(Conflict):
        procedures.tick(i, 1, "ana", 3)


@pytest.mark.parametrize(
    ("minutes", "ticked", "expected"),
    [
        (0, (), []),
        (2, (), []),  # due at 2 min, not past it yet
        (2.01, (), [1]),
        (5.5, (), [1, 2]),
        (5.5, (1,), [2]),
        (12, (1, 2), [3, 4]),
        (60, (1, 2, 3, 4, 5, 6), []),  # step 7 has no target
    ],
)
def test_overdue_with_a_stepped_clock(
    minutes: float, ticked: tuple[int, ...], expected: list[int]
) -> None:
    i = outage(at=1000)
    for n in ticked:
        i = procedures.tick(i, n, "ana", 1000 + n)
    assert [s.n for s in procedures.overdue(i, 1000 + minutes * 60)] == expected


def test_nothing_is_overdue_once_resolved() -> None:
    i = lifecycle.resolve(outage(at=0), "ana", 60, "power back")
    assert procedures.overdue(i, 10_000) == ()


def test_rule_procedure_when_the_policy_names_none() -> None:
    board, _ = run([tr(1, "Health: vaccine fridge warm", 0)])
    assert board.incidents[1].procedure == "fridge_failure"
    assert board.incidents[1].steps[0].role == "health liaison"


def test_steps_follow_the_first_alert_until_one_is_ticked() -> None:
    # the policy names no procedure: the rule of the earliest alert decides, even when
    # it arrives late; once a step is ticked the procedure stays
    from ioc.incidents.defaults import default_catalogue
    from ioc.incidents.models import Catalogue, Policy

    shipped = default_catalogue()
    by_district = Policy(name="district", title="{district}", group_by=("district",))
    catalogue = Catalogue(policies=(by_district,), procedures=shipped.procedures)
    board, _ = run([tr(2, "Health: beds nearly full", 50)], catalogue=catalogue)
    assert board.incidents[1].procedure is None
    board, _ = run([tr(1, "Health: vaccine fridge warm", 10)], board, catalogue)
    assert board.incidents[1].procedure == "fridge_failure"
    board = board.put(procedures.tick(board.incidents[1], 1, "ana", 60))
    board, _ = run([tr(3, "Traffic: junction jammed", 0)], board, catalogue)
    assert board.incidents[1].procedure == "fridge_failure"
    assert board.incidents[1].steps[0].done_by == "ana"
