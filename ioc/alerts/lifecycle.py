"""Use cases of an alert's and an incident's lifecycle done by a person: acknowledge,
resolve; for incidents also close and tick a procedure step.

Each takes a connection and the acting principal, and in ONE transaction changes the
alert (or incident) and writes its history, live event and outbox rows
(:mod:`ioc.alerts.store`, :mod:`ioc.incidents.operations`) and the audit entry
(:mod:`ioc.security.audit`): the log never claims a change that rolled back, nor misses
one that committed. An alert's change also moves its incident, in the same transaction.
The incident use cases live here rather than in :mod:`ioc.incidents` because the outbox
and the audit log are that layer's siblings, not below it. Callers (the API's routes and
pages) only translate HTTP to these calls.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ioc.alerts import store
from ioc.alerts.models import Alert
from ioc.incidents import catalogue_store, operations
from ioc.incidents import sync as incident_sync
from ioc.incidents.models import Catalogue, EscalationTier
from ioc.incidents.notices import Notice
from ioc.incidents.state import Incident
from ioc.security import audit
from ioc.security.audit import Actor
from ioc.storage.db import Connection, translated


def acknowledge(conn: Connection, actor: Actor, alert_id: int, note: str | None = None) -> Alert:
    """firing → acknowledged; Conflict when it is acknowledged or resolved already."""
    with translated(), conn.transaction():
        alert = store.acknowledge(conn, alert_id, actor.label, note)
        audit.record(conn, actor, "alert.acknowledge", f"alert:{alert_id}", {"note": note})
    return alert


def resolve(conn: Connection, actor: Actor, alert_id: int, note: str | None = None) -> Alert:
    """firing/acknowledged → resolved; Conflict when it is resolved already."""
    with translated(), conn.transaction():
        alert = store.resolve(conn, alert_id, actor.label, note)
        audit.record(conn, actor, "alert.resolve", f"alert:{alert_id}", {"note": note})
    return alert


def _incident(
    conn: Connection,
    actor: Actor,
    incident_id: int,
    action: str,
    details: dict[str, object],
    move: Callable[[], tuple[Incident, list[Notice]]],
) -> Incident:
    with translated(), conn.transaction():
        incident, notices = move()
        store.send(conn, notices)
        audit.record(conn, actor, f"incident.{action}", f"incident:{incident_id}", details)
    return incident


def acknowledge_incident(
    conn: Connection, actor: Actor, incident_id: int, note: str | None = None
) -> Incident:
    """open → acknowledged: the actor takes it; it stops escalating."""
    return _incident(
        conn,
        actor,
        incident_id,
        "acknowledge",
        {"note": note},
        lambda: operations.acknowledge(conn, actor.label, incident_id, note),
    )


def resolve_incident(
    conn: Connection, actor: Actor, incident_id: int, note: str | None = None
) -> Incident:
    """open/acknowledged → resolved by hand (its alerts stay as they are)."""
    return _incident(
        conn,
        actor,
        incident_id,
        "resolve",
        {"note": note},
        lambda: operations.resolve(conn, actor.label, incident_id, note),
    )


def close_incident(conn: Connection, actor: Actor, incident_id: int, summary: str) -> Incident:
    """resolved → closed, with the review's summary."""
    return _incident(
        conn,
        actor,
        incident_id,
        "close",
        {"summary": summary},
        lambda: operations.close(conn, actor.label, incident_id, summary),
    )


def tick_step(
    conn: Connection, actor: Actor, incident_id: int, n: int, note: str | None = None
) -> Incident:
    """Step ``n`` of the incident's procedure is done."""
    return _incident(
        conn,
        actor,
        incident_id,
        "step",
        {"step": n, "note": note},
        lambda: operations.tick(conn, actor.label, incident_id, n, note),
    )


def replace_incident_policies(conn: Connection, actor: Actor, catalogue: Catalogue) -> None:
    """An admin replaces the correlation policies and procedures; incidents that exist
    keep their key, title and steps (a deleted policy's incident keeps its own)."""
    with translated(), conn.transaction():
        catalogue_store.replace_catalogue(conn, catalogue)
        audit.record(
            conn,
            actor,
            "incident.policies",
            "incident-policies",
            {
                "policies": [p.name for p in catalogue.policies],
                "procedures": [p.name for p in catalogue.procedures],
            },
        )


def escalate_due(conn: Connection, tiers: Sequence[EscalationTier], now: float) -> int:
    """Escalate the incidents due at ``now``, each in its own transaction (no lock-order
    deadlock); every replica may try, and each tier of each incident is recorded once, by
    whichever commits first. How many escalations were sent."""
    sent = 0
    with translated():
        for iid in incident_sync.due_for_escalation(conn, tiers, now):
            with conn.transaction():
                notices = incident_sync.escalate(conn, iid, tiers, now)
                store.send(conn, notices)
            sent += len(notices)
    return sent
