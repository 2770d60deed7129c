"""Escalation, pure: which tiers an incident is due for at ``now``, each once.

An incident escalates while it is open and nobody has taken it: a tier applies when the
incident's severity is at least the tier's (major or critical) and ``after_s`` has
passed since it last opened. The tiers done are recorded on the incident
(``escalated``), so a tier is never due twice, also after a reopening; the caller
sends the notifications (webhook, and the GOC for ``goc`` tiers) through the outbox in
the same transaction that stores the incident.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import NamedTuple

from ioc.incidents.models import EscalationTier
from ioc.incidents.state import ENGINE, Entry, Incident


class Escalation(NamedTuple):
    incident_id: int
    tier: EscalationTier
    at: float


def due(incident: Incident, tiers: Sequence[EscalationTier], now: float) -> list[Escalation]:
    """The tiers due now, soonest first; none for an acknowledged, resolved or closed
    incident, or for one below major."""
    if incident.state != "open":
        return []
    out = [
        Escalation(incident.id, tier, now)
        for tier in tiers
        if tier.covers(incident.severity)
        and tier.name not in incident.escalated
        and now - incident.since >= tier.after_s
    ]
    return sorted(out, key=lambda e: (e.tier.after_s, e.tier.name))


def escalate(
    incident: Incident, tiers: Sequence[EscalationTier], now: float
) -> tuple[Incident, list[Escalation]]:
    """The incident with its due tiers recorded (history and ``escalated``), and the
    escalations to send."""
    found = due(incident, tiers, now)
    if not found:
        return incident, found
    entries = [
        Entry(
            now,
            "escalated",
            ENGINE,
            f"{e.tier.name}: {incident.severity}, not taken for {now - incident.since:.0f}s"
            + (" (and the GOC)" if e.tier.goc else ""),
        )
        for e in found
    ]
    return (
        replace(
            incident,
            escalated=(*incident.escalated, *(e.tier.name for e in found)),
            history=(*incident.history, *entries),
        ),
        found,
    )
