"""Use cases of an alert's lifecycle done by a person: acknowledge, resolve.

Each takes a connection and the acting principal, and in ONE transaction changes the
alert and writes its history, live event and outbox rows (:mod:`ioc.alerts.store`)
and the audit entry (:mod:`ioc.security.audit`): the log never claims a change that
rolled back, nor misses one that committed. Callers (the API's routes and pages) only
translate HTTP to these calls.
"""

from __future__ import annotations

from ioc.alerts import store
from ioc.alerts.models import Alert
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
