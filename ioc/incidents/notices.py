"""What an incident change tells the world: one :class:`Notice` per history entry, for
the live stream and the outbox.

The incidents layer cannot write outbox rows itself (``ioc.outbox`` is its sibling, not
below it), so the functions that change incidents return notices and their caller, the
alert layer above, sends them in the same transaction
(:func:`ioc.alerts.store.send`). Payloads carry the incident's summary, not its alert
list: a storm of a thousand alerts must not write a thousand ids a thousand times.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

from ioc.incidents.state import EVENT_OF, Entry, Incident
from ioc.types import EventKind


class Notice(NamedTuple):
    kind: EventKind
    #: stable and unique per notification: the outbox's (and the GOC's) idempotency key
    key: str
    payload: dict[str, Any]
    severity: str
    subject: str


def _iso(value: float | None) -> str | None:
    return None if value is None else datetime.fromtimestamp(value, UTC).isoformat()


def summary(incident: Incident) -> dict[str, Any]:
    """The incident as events and outbox items carry it. Its id is ``incident_id``, never
    ``id``: on the live stream an ``id`` is an alert's, and consumers filter on it."""
    return {
        "incident_id": incident.id,
        "title": incident.title,
        "state": incident.state,
        "severity": incident.severity,
        "policy": incident.policy,
        "districts": list(incident.districts),
        "domains": list(incident.domains),
        "device_count": incident.device_count,
        "alert_count": len(incident.members),
        "open_alerts": incident.open_alerts,
        "opened_at": _iso(incident.opened_at),
        "acknowledged_at": _iso(incident.acknowledged_at),
        "acknowledged_by": incident.acknowledged_by,
        "resolved_at": _iso(incident.resolved_at),
        "closed_at": _iso(incident.closed_at),
    }


def notice(incident: Incident, entry: Entry, key: str) -> Notice:
    kind: EventKind = f"incident.{EVENT_OF[entry.action]}"  # type: ignore[assignment]
    payload = {
        **summary(incident),
        "action": entry.action,
        "by": entry.by,
        "note": entry.note,
        "at": _iso(entry.at),
    }
    return Notice(kind, key, payload, incident.severity, f"incident:{incident.id}")


def notices(incident: Incident, entries: list[Entry], row_ids: list[int]) -> list[Notice]:
    """One notice per stored entry, keyed by the history row (unique, stable)."""
    return [
        notice(incident, e, f"incident-{incident.id}-{e.action}-{rid}")
        for e, rid in zip(entries, row_ids, strict=True)
    ]
