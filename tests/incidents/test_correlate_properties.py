"""Properties of correlation over generated alert transitions (hypothesis): inside one
window the order of arrival does not matter, a replay changes nothing, and every alert
is in exactly one incident."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ioc.incidents.state import AlertTransition, Board
from testkit.incident_factory import RULES, partition, run, tr

settings.register_profile("ioc", max_examples=150, deadline=None)
settings.load_profile("ioc")

#: the shortest window of the default policies, but the "own" policy's (0 s)
WINDOW_S = 120


@st.composite
def alert_lives(draw: Any, span: float = WINDOW_S) -> list[AlertTransition]:
    """Alerts of assorted rules, districts and devices, each opened and perhaps
    acknowledged and resolved, every transition inside one window."""
    out: list[AlertTransition] = []
    n = draw(st.integers(1, 25))
    for alert_id in range(1, n + 1):
        rule = draw(st.sampled_from(sorted(RULES)))
        district = draw(st.sampled_from(["D1", "D2"]))
        device = draw(st.sampled_from(["a", "b", "c", "d"])) + district
        times = sorted(draw(st.lists(st.integers(0, int(span)), min_size=3, max_size=3)))
        stages = draw(st.integers(1, 3))
        for action, at in list(zip(("opened", "acknowledged", "resolved"), times, strict=True))[
            :stages
        ]:
            out.append(tr(alert_id, rule, at, action, device=device, district=district))
    return out


def summary(board: Board) -> set[tuple[Any, ...]]:
    """What must not depend on arrival order (history, being a log, may)."""
    return {
        (
            frozenset(i.alert_ids),
            i.key,
            i.state,
            i.severity,
            i.title,
            i.districts,
            i.domains,
            i.device_count,
            i.procedure,
        )
        for i in board.incidents.values()
    }


def one_by_one(transitions: list[AlertTransition]) -> Board:
    board = Board()
    for t in transitions:
        board, _ = run([t], board)
    return board


@given(alert_lives(), st.randoms())
def test_order_inside_a_window_does_not_matter(
    transitions: list[AlertTransition], rnd: Any
) -> None:
    in_time = one_by_one(sorted(transitions, key=lambda t: t.at))
    shuffled = list(transitions)
    rnd.shuffle(shuffled)
    assert summary(run(shuffled).board) == summary(in_time)
    assert summary(one_by_one(shuffled)) == summary(in_time)


@given(alert_lives(span=3600), st.randoms(), st.integers(1, 5))
def test_a_batch_in_any_order_or_cut_gives_the_same_incidents(
    transitions: list[AlertTransition], rnd: Any, cuts: int
) -> None:
    """Across windows arrival order may matter, but not the order inside a call, nor
    where a time-ordered stream is cut into calls."""
    ordered = sorted(transitions, key=lambda t: (t.at, t.alert_id))
    shuffled = list(transitions)
    rnd.shuffle(shuffled)
    whole = run(shuffled).board
    board = Board()
    size = max(1, len(ordered) // cuts)
    for k in range(0, len(ordered), size):
        board, _ = run(ordered[k : k + size], board)
    assert summary(board) == summary(whole)


@given(alert_lives(span=3600))
def test_replaying_changes_nothing(transitions: list[AlertTransition]) -> None:
    board, _ = run(transitions)
    again, changes = run(transitions, board)
    assert changes == []
    assert dict(again.incidents) == dict(board.incidents)


@given(alert_lives(span=3600), st.randoms())
def test_every_alert_is_in_exactly_one_incident(
    transitions: list[AlertTransition], rnd: Any
) -> None:
    shuffled = list(transitions)
    rnd.shuffle(shuffled)
    board = one_by_one(shuffled)
    groups = partition(board)
    alerts = {t.alert_id for t in transitions}
    assert set().union(*groups) == alerts
    assert sum(len(g) for g in groups) == len(alerts)
    for alert_id in alerts:
        incident = board.incident_of(alert_id)
        assert incident is not None and alert_id in incident.alert_ids
    open_keys = [i.key for i in board.incidents.values() if i.state in ("open", "acknowledged")]
    assert len(open_keys) == len(set(open_keys))  # one open incident per key
