"""Operators' moves on an incident: allowed ones change state and history, the others
are conflicts."""

from __future__ import annotations

import pytest

from ioc.errors import Conflict
from ioc.incidents import lifecycle
from ioc.incidents.state import Incident
from testkit.incident_factory import run, tr


def fresh() -> Incident:
    board, _ = run([tr(1, "Health: vaccine fridge warm", 0)])
    return board.incidents[1]


def test_acknowledge_resolve_close() -> None:
    i = lifecycle.acknowledge(fresh(), "ana", 60, "on it")
    assert (i.state, i.acknowledged_at, i.acknowledged_by) == ("acknowledged", 60, "ana")
    i = lifecycle.resolve(i, "ana", 600, "vaccines in the backup fridge")
    assert (i.state, i.resolved_at, i.resolved_by) == ("resolved", 600, "ana")
    i = lifecycle.close(i, "lead", 900, "compressor replaced; 40 doses discarded")
    assert (i.state, i.closed_at, i.closed_by) == ("closed", 900, "lead")
    assert i.summary == "compressor replaced; 40 doses discarded"
    assert [(e.action, e.by, e.note) for e in i.history[-3:]] == [
        ("acknowledged", "ana", "on it"),
        ("resolved", "ana", "vaccines in the backup fridge"),
        ("closed", "lead", "compressor replaced; 40 doses discarded"),
    ]


def test_resolve_without_acknowledging() -> None:
    assert lifecycle.resolve(fresh(), "ana", 5, "false alarm").state == "resolved"


@pytest.mark.parametrize(
    ("moves", "refused"),
    [
        ([], lambda i: lifecycle.close(i, "ana", 9, "done")),  # open: resolve first
        (["ack"], lambda i: lifecycle.acknowledge(i, "bob", 9)),  # already taken
        ([], lambda i: lifecycle.resolve(i, "ana", 9, "  ")),  # a note is required
        (["resolve"], lambda i: lifecycle.resolve(i, "ana", 9, "again")),
        (["resolve"], lambda i: lifecycle.acknowledge(i, "ana", 9)),
        (["resolve"], lambda i: lifecycle.close(i, "ana", 9, "")),  # a summary is required
        (["resolve", "close"], lambda i: lifecycle.close(i, "ana", 9, "again")),
    ],
)
def test_refused_moves_are_conflicts(moves: list[str], refused: object) -> None:
    i = fresh()
    for move in moves:
        if move == "ack":
            i = lifecycle.acknowledge(i, "ana", 1)
        elif move == "resolve":
            i = lifecycle.resolve(i, "ana", 2, "fixed")
        else:
            i = lifecycle.close(i, "ana", 3, "reviewed")
    before = i
    with pytest.raises(Conflict):
        refused(i)  # type: ignore[operator]
    assert i == before
