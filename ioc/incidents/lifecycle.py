"""What operators do to an incident, pure: take it (acknowledge), resolve it with a note,
close it with a summary after review. Each returns the new incident with the change in
its history; a move the lifecycle does not allow is a :class:`~ioc.errors.Conflict`.

    open ──ack──▶ acknowledged ──resolve──▶ resolved ──close──▶ closed
      └──────────────resolve──────────────────▲  ▲
                 (or: its last alert resolves) ─┘  a new alert of its key within the
                                                   window reopens it (correlate)
"""

from __future__ import annotations

from dataclasses import replace

from ioc.errors import Conflict
from ioc.incidents.state import OPEN_STATES, Entry, Incident


def acknowledge(incident: Incident, by: str, at: float, note: str | None = None) -> Incident:
    """``by`` takes the incident: it is theirs, and it stops escalating."""
    if incident.state != "open":
        raise Conflict(f"incident {incident.id} is {incident.state}, not open")
    return replace(
        incident,
        state="acknowledged",
        acknowledged_at=at,
        acknowledged_by=by,
        history=(*incident.history, Entry(at, "acknowledged", by, note or "")),
    )


def resolve(incident: Incident, by: str, at: float, note: str) -> Incident:
    """An operator resolves it (say the cause is fixed while a device is still silent);
    a note saying why is required."""
    if incident.state not in OPEN_STATES:
        raise Conflict(f"incident {incident.id} is {incident.state}, not open")
    if not note.strip():
        raise Conflict("resolving an incident by hand needs a note")
    return replace(
        incident,
        state="resolved",
        resolved_at=at,
        resolved_by=by,
        history=(*incident.history, Entry(at, "resolved", by, note)),
    )


def close(incident: Incident, by: str, at: float, summary: str) -> Incident:
    """After review: a resolved incident is closed with a summary, and never reopens."""
    if incident.state != "resolved":
        raise Conflict(f"incident {incident.id} is {incident.state}: only a resolved one closes")
    if not summary.strip():
        raise Conflict("closing an incident needs a summary")
    return replace(
        incident,
        state="closed",
        closed_at=at,
        closed_by=by,
        summary=summary,
        history=(*incident.history, Entry(at, "closed", by, summary)),
    )
