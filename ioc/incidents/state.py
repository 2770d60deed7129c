"""The values the incident core passes around, all immutable: what comes in (an alert's
transition), what an incident is, its history, and the board of live incidents.

Times are seconds since the epoch (floats), as in the alert core. Nothing here knows the
alert models or the database: the engine turns its alert changes into
:class:`AlertTransition` and stores the :class:`Incident` values it gets back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal, NamedTuple, get_args

from ioc.types import AlertState, Domain, IncidentState, Severity

AlertAction = Literal["opened", "acknowledged", "resolved"]
#: An alert only moves forward: a transition of lower rank than the alert's state is
#: old news (redelivered, or overtaken) and changes nothing.
ACTION_RANK: Mapping[str, int] = {"opened": 0, "acknowledged": 1, "resolved": 2}
ALERT_STATE_OF: Mapping[AlertAction, AlertState] = {
    "opened": "firing",
    "acknowledged": "acknowledged",
    "resolved": "resolved",
}
#: Who the core names as the author of the changes it makes itself.
ENGINE = "engine"

#: What an entry of an incident's history records.
Action = Literal[
    "opened",
    "alert_added",
    "alert_changed",
    "severity_changed",
    "acknowledged",
    "resolved",
    "reopened",
    "closed",
    "escalated",
    "step_done",
]
ACTIONS: tuple[Action, ...] = get_args(Action)
#: Live-stream kinds (``incident.<kind>``) of the history actions.
IncidentEvent = Literal["opened", "updated", "acknowledged", "escalated", "resolved", "closed"]
EVENT_OF: Mapping[Action, IncidentEvent] = {
    "opened": "opened",
    "alert_added": "updated",
    "alert_changed": "updated",
    "severity_changed": "updated",
    "acknowledged": "acknowledged",
    "resolved": "resolved",
    "reopened": "opened",
    "closed": "closed",
    "escalated": "escalated",
    "step_done": "updated",
}
OPEN_STATES: frozenset[IncidentState] = frozenset({"open", "acknowledged"})


class AlertTransition(NamedTuple):
    """One alert opened, acknowledged or resolved: the core's only input from the engine."""

    alert_id: int
    rule_id: int
    rule_name: str
    rule_kind: str
    subject: str
    device_id: str | None
    domain: Domain
    district: str | None
    severity: Severity
    action: AlertAction
    at: float
    value: float | None = None


class Member(NamedTuple):
    """An alert as its incident knows it."""

    alert_id: int
    rule_id: int
    rule_name: str
    subject: str
    device_id: str | None
    domain: Domain
    district: str | None
    severity: Severity
    state: AlertState
    #: the earliest time seen for it, and the time of its current state
    since: float
    at: float
    value: float | None = None

    @property
    def open(self) -> bool:
        return self.state != "resolved"


class Entry(NamedTuple):
    """One line of an incident's history: what happened, when, who, and a note."""

    at: float
    action: Action
    by: str
    note: str = ""


class Step(NamedTuple):
    """A procedure step on an incident: numbered from 1, ticked once."""

    n: int
    text: str
    role: str | None = None
    target_min: float | None = None
    done_at: float | None = None
    done_by: str | None = None
    note: str | None = None

    @property
    def done(self) -> bool:
        return self.done_at is not None


@dataclass(frozen=True, slots=True)
class Incident:
    """One problem, one card. Derived fields (title, severity, districts, domains,
    device count) always follow ``members``; :mod:`ioc.incidents.correlate` keeps them."""

    id: int
    key: str
    policy: str
    title: str
    state: IncidentState
    severity: Severity
    opened_at: float
    #: when it last became open (its opening, or a reopening): escalation counts from here
    since: float
    window_s: float
    members: tuple[Member, ...] = ()
    districts: tuple[str, ...] = ()
    domains: tuple[Domain, ...] = ()
    device_count: int = 0
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None
    resolved_at: float | None = None
    resolved_by: str | None = None
    closed_at: float | None = None
    closed_by: str | None = None
    summary: str | None = None
    procedure: str | None = None
    steps: tuple[Step, ...] = ()
    #: names of the escalation tiers already done (each escalates once)
    escalated: tuple[str, ...] = ()
    history: tuple[Entry, ...] = ()

    @property
    def alert_ids(self) -> tuple[int, ...]:
        return tuple(m.alert_id for m in self.members)

    @property
    def open_alerts(self) -> int:
        return sum(1 for m in self.members if m.open)


class Change(NamedTuple):
    """A history entry written on one incident: the caller stores the incident's new
    value and this entry, and emits ``incident.<event>``."""

    incident_id: int
    entry: Entry

    @property
    def event(self) -> IncidentEvent:
        return EVENT_OF[self.entry.action]


@dataclass(frozen=True, slots=True)
class Board:
    """The incidents the correlator works on, with its indexes: which incident holds each
    alert, and the newest not-closed incident of each correlation key. Never changed in
    place: :func:`ioc.incidents.correlate.correlate` returns a new one."""

    incidents: Mapping[int, Incident] = field(default_factory=lambda: MappingProxyType({}))
    next_id: int = 1
    by_alert: Mapping[int, int] = field(default_factory=lambda: MappingProxyType({}))
    by_key: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def of(cls, incidents: Iterable[Incident], next_id: int | None = None) -> Board:
        """A board restored from stored incidents (open ones, resolved ones still inside
        their window, and any with an open alert)."""
        by_id = {i.id: i for i in incidents}
        by_alert = {m.alert_id: i.id for i in by_id.values() for m in i.members}
        by_key: dict[str, int] = {}
        for i in sorted(by_id.values(), key=lambda i: i.id):
            if i.state != "closed":
                by_key[i.key] = i.id
        first = max(by_id, default=0) + 1
        return cls(
            MappingProxyType(by_id),
            max(first, next_id or first),
            MappingProxyType(by_alert),
            MappingProxyType(by_key),
        )

    def put(self, incident: Incident) -> Board:
        """The board with ``incident`` replaced (after an operator's action)."""
        return Board.of(
            [*(i for i in self.incidents.values() if i.id != incident.id), incident], self.next_id
        )

    def incident_of(self, alert_id: int) -> Incident | None:
        found = self.by_alert.get(alert_id)
        return None if found is None else self.incidents[found]


def prune(board: Board, now: float) -> Board:
    """Drop what correlation no longer needs: closed incidents with no open alert, and
    resolved ones past their reopening window with no open alert. The database keeps
    them; the engine reloads the same set at start (see :meth:`Board.of`)."""

    def live(i: Incident) -> bool:
        if i.state in OPEN_STATES or i.open_alerts:
            return True
        return i.state == "resolved" and now <= (i.resolved_at or 0.0) + i.window_s

    kept = [i for i in board.incidents.values() if live(i)]
    if len(kept) == len(board.incidents):
        return board
    return Board.of(kept, board.next_id)
