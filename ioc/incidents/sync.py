"""The core wired to the database: an alert's transition placed in its incident, and the
escalations due, each inside the caller's transaction.

Nothing is kept in memory between calls: each transition locks what it touches (the
incident that holds the alert, or the correlation key of a new alert), loads those
incidents, runs the pure :func:`~ioc.incidents.correlate.correlate` on them and stores
the result. So two engine replicas, an API process and an engine restart all see one
board, the database's; and the alert change and its incident change commit together
or not at all. (The alert engine's hot standby already lets only one replica commit an
alert change; the key lock and the one-open-per-key index make the incident side safe on
their own.)
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace

from ioc.incidents import catalogue_store, escalation, store
from ioc.incidents.correlate import correlate
from ioc.incidents.keys import assign
from ioc.incidents.models import Catalogue, EscalationTier
from ioc.incidents.notices import Notice, notices
from ioc.incidents.state import AlertTransition, Board, Entry, Incident
from ioc.storage.db import Connection


class Catalogues:
    """The stored catalogue, re-read only when its signature changes (a per-process
    cache that is never stale for longer than one query)."""

    def __init__(self) -> None:
        self._signature: tuple[object, ...] | None = None
        self._catalogue: Catalogue | None = None

    def get(self, conn: Connection) -> Catalogue:
        signature = catalogue_store.catalogue_signature(conn)
        if self._catalogue is None or signature != self._signature:
            self._catalogue = catalogue_store.load_catalogue(conn)
            self._signature = signature
        return self._catalogue


CATALOGUES = Catalogues()


class Loaded:
    """Incidents this process loaded or saved, by change token: a storm's incident of a
    thousand alerts is read from one row, not a thousand, per transition. A token the
    database does not hold (another replica changed it, or our change rolled back) is a
    miss, and the incident is read again."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._kept: OrderedDict[int, tuple[int, Incident]] = OrderedDict()
        self._lock = threading.Lock()  # the API serves from several threads

    def load(self, conn: Connection, incident_id: int) -> Incident:
        """The incident, locked for the rest of the transaction."""
        current = store.token(conn, incident_id, lock=True)
        with self._lock:
            kept = self._kept.get(incident_id)
        if kept is not None and kept[0] == current:
            return kept[1]
        incident = store.load(conn, incident_id)
        self.keep(current, incident)
        return incident

    def keep(self, change: int, incident: Incident) -> None:
        with self._lock:
            self._kept[incident.id] = (change, replace(incident, history=()))
            self._kept.move_to_end(incident.id)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)


LOADED = Loaded()


def place(conn: Connection, t: AlertTransition, catalogue: Catalogue | None = None) -> list[Notice]:
    """Put the alert's transition into its incident (opening, joining, reopening or
    resolving one); returns what to announce. Runs in the caller's transaction."""
    cat = catalogue or CATALOGUES.get(conn)
    held = store.holder(conn, t.alert_id)
    if held is not None:
        loaded = [LOADED.load(conn, held)]
        board = Board.of(loaded)
    else:
        _, key = assign(cat.policies, t)
        store.lock_key(conn, key)
        current = store.newest_of_key(conn, key)
        loaded = [] if current is None else [LOADED.load(conn, current)]
        board = Board.of(loaded, store.next_id(conn))
    outcome = correlate(cat, board, [t])
    before = {i.id: i for i in loaded}
    entries: dict[int, list[Entry]] = {}
    for change in outcome.changes:
        entries.setdefault(change.incident_id, []).append(change.entry)
    out: list[Notice] = []
    for iid, written in entries.items():
        after = outcome.board.incidents[iid]
        out += _store(conn, before.get(iid), after, written)
    return out


def _store(
    conn: Connection, before: Incident | None, after: Incident, entries: list[Entry]
) -> list[Notice]:
    change = secrets.randbits(62)
    ids = store.save(conn, before, after, entries, change)
    LOADED.keep(change, after)
    return notices(after, entries, ids)


def apply(conn: Connection, before: Incident, after: Incident) -> list[Notice]:
    """Store an operator's change (the core's lifecycle or procedure functions turned
    ``before`` into ``after``, adding history entries); returns what to announce."""
    new = list(after.history[len(before.history) :])
    return _store(conn, before, after, new)


def tiers(major_s: float, critical_s: float) -> tuple[EscalationTier, ...]:
    """The escalation tiers the settings describe: a major tier (webhook) and a critical
    one (webhook and the GOC)."""
    return (
        EscalationTier(severity="major", after_s=major_s),
        EscalationTier(severity="critical", after_s=critical_s, goc=True),
    )


def due_for_escalation(conn: Connection, tiers: Sequence[EscalationTier], now: float) -> list[int]:
    """Incidents that may be due at ``now`` (open, untaken, severe enough, old enough)."""
    if not tiers:
        return []
    severities = sorted({s for t in tiers for s in ("major", "critical") if t.covers(s)})
    soonest = min(t.after_s for t in tiers)
    return store.escalation_candidates(conn, severities, now - soonest)


def escalate(
    conn: Connection, incident_id: int, tiers: Sequence[EscalationTier], now: float
) -> list[Notice]:
    """Escalate one incident for the tiers due at ``now``, each once whoever else is
    trying (the escalation's unique key decides); returns what to announce. The caller's
    transaction should hold this incident only (no lock-order deadlock with alert
    changes, which lock one incident each)."""
    incident = store.load(conn, incident_id, lock=True)
    after, found = escalation.escalate(incident, tiers, now)
    mine = [e for e in found if store.record_escalation(conn, incident_id, e.tier.name, now)]
    if not mine:
        return []
    written = {e.tier.name for e in mine}
    entries = [
        entry
        for entry, e in zip(after.history[len(incident.history) :], found, strict=True)
        if e.tier.name in written
    ]
    change = secrets.randbits(62)
    ids = store.save(conn, incident, after, entries, change)
    LOADED.keep(change, after)
    out: list[Notice] = []
    for entry, e, rid in zip(entries, mine, ids, strict=True):
        n = notices(after, [entry], [rid])[0]
        payload = {**n.payload, "tier": e.tier.name, "goc": e.tier.goc}
        # the GOC hears only the tiers meant for it (its route takes critical only)
        severity = after.severity if e.tier.goc else "major"
        key = f"incident-{incident_id}-escalated-{e.tier.name}"
        out.append(n._replace(key=key, payload=payload, severity=severity))
    return out


def escalate_due(conn: Connection, tiers: Sequence[EscalationTier], now: float) -> list[Notice]:
    """Escalate every incident due at ``now`` in the caller's transaction (tests, tools;
    the engine takes one incident per transaction)."""
    out: list[Notice] = []
    for iid in due_for_escalation(conn, tiers, now):
        out += escalate(conn, iid, tiers, now)
    return out
