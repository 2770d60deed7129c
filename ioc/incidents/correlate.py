"""Correlation, pure: ``correlate(catalogue, board, transitions) → (board, changes)``.

No clock, no database: the caller passes the live incidents (a :class:`Board`) and the
alert transitions the engine produced; it stores the incidents and history entries it
gets back. The time of everything is the alerts' own time (``at``), so a replay or a
reordering gives the same incidents; ``now`` matters only to pruning, overdue steps and
escalation, which take it as an argument.

- Every alert belongs to exactly one incident, fixed when it is first seen: its policy's
  correlation key (:func:`ioc.incidents.keys.assign`) picks the newest not-closed
  incident of that key. An open or acknowledged one takes it; a resolved one takes it
  when it came within the policy's window after the resolution (and, if the alert is not
  itself resolved, reopens); otherwise, or if the incident was closed, a new incident of
  the key opens. So there is one open incident per key, never a twin.
- An alert only moves forward (opened → acknowledged → resolved); a transition that is
  not newer than what its incident knows is ignored, so redelivery changes nothing.
- An incident resolves by itself when its last open alert resolves. Its severity is the
  highest of its open alerts (of all of them once none is open); its title, districts,
  domains and device count follow its alerts.
- Within one call transitions are taken in time order (ties by alert id), so the order
  of a batch does not matter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import NamedTuple

from ioc.incidents import procedures
from ioc.incidents.keys import OWN, assign, render_title
from ioc.incidents.models import Catalogue, Policy
from ioc.incidents.state import (
    ACTION_RANK,
    ALERT_STATE_OF,
    ENGINE,
    OPEN_STATES,
    Action,
    AlertTransition,
    Board,
    Change,
    Entry,
    Incident,
    Member,
)
from ioc.types import IncidentState, Severity, severity_rank

_STATE_RANK = {"firing": 0, "acknowledged": 1, "resolved": 2}


class Outcome(NamedTuple):
    board: Board
    changes: list[Change]


@dataclass(slots=True)
class _Draft:
    """An incident being changed within one call (mutable; frozen again at the end)."""

    base: Incident
    policy: Policy
    members: dict[int, Member]
    open: int
    state: IncidentState
    since: float
    acknowledged_at: float | None
    acknowledged_by: str | None
    resolved_at: float | None
    resolved_by: str | None
    history: list[Entry] = field(default_factory=list)
    last_at: float = 0.0

    @classmethod
    def of(cls, incident: Incident, policy: Policy) -> _Draft:
        return cls(
            incident,
            policy,
            {m.alert_id: m for m in incident.members},
            incident.open_alerts,
            incident.state,
            incident.since,
            incident.acknowledged_at,
            incident.acknowledged_by,
            incident.resolved_at,
            incident.resolved_by,
        )

    def log(self, at: float, action: Action, note: str, by: str = ENGINE) -> None:
        self.history.append(Entry(at, action, by, note))
        self.last_at = max(self.last_at, at)

    def joinable(self, t: AlertTransition) -> bool:
        return _takes(self.state, self.resolved_at, self.base.window_s, t)

    def add(self, t: AlertTransition) -> None:
        m = _member(t)
        self.members[t.alert_id] = m
        self.open += m.open
        where = t.subject if t.device_id is None else t.device_id
        self.log(t.at, "alert_added", f"alert {t.alert_id}: {t.rule_name} on {where}")
        if self.state == "resolved" and m.open:
            self.state, self.since = "open", t.at
            self.acknowledged_at = self.acknowledged_by = None
            self.resolved_at = self.resolved_by = None
            self.log(t.at, "reopened", f"alert {t.alert_id} within {self.policy.window_s:g}s")
        self._settle(t.at)

    def advance(self, t: AlertTransition) -> bool:
        m = self.members[t.alert_id]
        if ACTION_RANK[t.action] <= _STATE_RANK[m.state]:
            return False
        was_open = m.open
        m = m._replace(state=ALERT_STATE_OF[t.action], at=t.at)
        self.members[t.alert_id] = m
        if was_open and not m.open:
            self.open -= 1
        self.log(t.at, "alert_changed", f"alert {t.alert_id} {t.action}")
        self._settle(t.at)
        return True

    def _settle(self, at: float) -> None:
        if self.state in OPEN_STATES and self.open == 0:
            self.state, self.resolved_at, self.resolved_by = "resolved", at, ENGINE
            self.log(at, "resolved", "all its alerts resolved")

    def freeze(self, catalogue: Catalogue) -> Incident:
        members = tuple(sorted(self.members.values(), key=lambda m: m.alert_id))
        severity = _severity(members)
        base = self.base
        if severity != base.severity and base.members:
            self.log(self.last_at, "severity_changed", f"{base.severity} → {severity}")
        steps, name = base.steps, base.procedure
        if not any(s.done for s in steps):  # untouched: follow the (possibly earlier) first alert
            chosen = procedures.choose(catalogue, self.policy, members)
            if (chosen.name if chosen else None) != name:
                steps, name = procedures.steps_of(chosen), chosen.name if chosen else None
        return replace(
            base,
            title=render_title(self.policy.title, members),
            state=self.state,
            severity=severity,
            since=self.since,
            members=members,
            districts=tuple(sorted({m.district for m in members if m.district})),
            domains=tuple(sorted({m.domain for m in members})),
            device_count=len({m.device_id for m in members if m.device_id}),
            acknowledged_at=self.acknowledged_at,
            acknowledged_by=self.acknowledged_by,
            resolved_at=self.resolved_at,
            resolved_by=self.resolved_by,
            procedure=name,
            steps=steps,
            history=(*base.history, *self.history),
        )


def _member(t: AlertTransition) -> Member:
    return Member(
        t.alert_id,
        t.rule_id,
        t.rule_name,
        t.subject,
        t.device_id,
        t.domain,
        t.district,
        t.severity,
        ALERT_STATE_OF[t.action],
        t.at,
        t.at,
        t.value,
    )


def _severity(members: Iterable[Member]) -> Severity:
    ms = list(members)
    pool = [m for m in ms if m.open] or ms
    return max((m.severity for m in pool), key=severity_rank, default="info")


def _joinable(incident: Incident, t: AlertTransition) -> bool:
    return _takes(incident.state, incident.resolved_at, incident.window_s, t)


def _takes(
    state: IncidentState, resolved_at: float | None, window_s: float, t: AlertTransition
) -> bool:
    """Open and acknowledged incidents take any alert of their key; a resolved one only
    within its window after the resolution; a closed one never."""
    if state in OPEN_STATES:
        return True
    return state == "resolved" and resolved_at is not None and t.at <= resolved_at + window_s


def correlate(
    catalogue: Catalogue, board: Board, transitions: Iterable[AlertTransition]
) -> Outcome:
    """Place each transition's alert in its incident; return the new board and, in
    order, the history entries written (one :class:`Change` each)."""
    policies = {p.name: p for p in catalogue.policies}
    drafts: dict[int, _Draft] = {}
    # copied on the first new alert only: most transitions move known alerts along
    by_alert: Mapping[int, int] = board.by_alert
    by_key: Mapping[str, int] = board.by_key
    grown: tuple[dict[int, int], dict[str, int]] | None = None
    next_id = board.next_id
    order: list[tuple[int, int]] = []  # (incident id, index in its draft's history)

    def draft(incident: Incident, policy: Policy | None = None) -> _Draft:
        d = drafts.get(incident.id)
        if d is None:
            p = policy or policies.get(incident.policy) or _fallback(incident)
            d = drafts[incident.id] = _Draft.of(incident, p)
        return d

    for t in sorted(transitions, key=lambda t: (t.at, t.alert_id, ACTION_RANK[t.action])):
        held = by_alert.get(t.alert_id)
        if held is not None:
            d = drafts.get(held) or draft(board.incidents[held])
            before = len(d.history)
            d.advance(t)
        else:
            policy, key = assign(catalogue.policies, t)
            current = by_key.get(key)
            found: _Draft | None = None
            if current in drafts:
                found = drafts[current] if drafts[current].joinable(t) else None
            elif current is not None and _joinable(board.incidents[current], t):
                found = draft(board.incidents[current], policy)
            fresh = found is None
            if found is None:
                found = drafts[next_id] = _Draft.of(_new(next_id, policy, key, t), policy)
                next_id += 1
            d, before = found, len(found.history)
            if fresh:
                d.log(t.at, "opened", f"{policy.name}: alert {t.alert_id}")
            d.add(t)
            if grown is None:
                grown = dict(by_alert), dict(by_key)
                by_alert, by_key = grown
            grown[0][t.alert_id] = grown[1][key] = d.base.id
        order += [(d.base.id, i) for i in range(before, len(d.history))]

    incidents = dict(board.incidents)
    incidents.update((iid, d.freeze(catalogue)) for iid, d in drafts.items())
    changes = _changes(drafts, order)
    return Outcome(
        Board(
            MappingProxyType(incidents),
            next_id,
            board.by_alert if grown is None else MappingProxyType(grown[0]),
            board.by_key if grown is None else MappingProxyType(grown[1]),
        ),
        changes,
    )


def _new(iid: int, policy: Policy, key: str, t: AlertTransition) -> Incident:
    return Incident(
        id=iid,
        key=key,
        policy=policy.name,
        title="",
        state="open",
        severity=t.severity,
        opened_at=t.at,
        since=t.at,
        window_s=policy.window_s,
    )


def _fallback(incident: Incident) -> Policy:
    """An incident whose policy was since deleted keeps its key, window and title."""
    title = incident.title.replace("{", "{{").replace("}", "}}")
    return OWN.model_copy(
        update={"name": incident.policy, "window_s": incident.window_s, "title": title}
    )


def _changes(drafts: dict[int, _Draft], order: list[tuple[int, int]]) -> list[Change]:
    """The entries written, in the order they happened; each incident's closing entries
    (a severity change found at freeze time) after its last."""
    out = [Change(iid, drafts[iid].history[i]) for iid, i in order]
    seen: dict[int, int] = {}
    for iid, _ in order:
        seen[iid] = seen.get(iid, 0) + 1
    for iid, d in drafts.items():
        out += [Change(iid, e) for e in d.history[seen.get(iid, 0) :]]
    return out
