"""Security events for the center's monitoring team: the one owner of
``security_events``.

Each event has a stable name (:class:`SecurityEvent`: dashboards and alerting key on
it), and goes three ways at once: a structured log line (logger ``ioc.security``,
field ``security_event``), the Prometheus counter ``ioc_security_events_total{event}``
in :data:`REGISTRY`, and a row that the admin page ``/ui/security`` lists. ``detail``
never carries a secret: no key, password, session token or CSRF token.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from psycopg.types.json import Jsonb

from ioc.storage.db import Connection

log = logging.getLogger("ioc.security")

#: The API process's security counters (served at ``GET /metrics`` to admins).
REGISTRY = CollectorRegistry(auto_describe=True)


class SecurityEvent(StrEnum):
    SIGNIN_FAILED = "signin.failed"
    SIGNIN_SUCCEEDED = "signin.succeeded"
    SIGNED_OUT = "signin.signed_out"
    KEY_REJECTED = "apikey.rejected"
    THROTTLED = "client.throttled"
    ACCESS_DENIED = "access.denied"
    OUT_OF_SCOPE = "access.out_of_scope"
    CSRF_REFUSED = "csrf.refused"


#: Worth a warning in the log; the rest (sign-in, sign-out) are info.
_WARN = frozenset(set(SecurityEvent) - {SecurityEvent.SIGNIN_SUCCEEDED, SecurityEvent.SIGNED_OUT})

EVENTS = Counter(
    "ioc_security_events",
    "Security events seen by the API, by stable event name",
    ["event"],
    registry=REGISTRY,
)
for _event in SecurityEvent:
    EVENTS.labels(_event.value)  # every series exists at 0, so rates work from the start


@dataclass(frozen=True, slots=True)
class Seen:
    """One stored security event: what, when, from which client, as whom, where."""

    id: int
    time: datetime
    event: str
    client: str | None
    actor: str | None
    path: str
    detail: dict[str, Any]


def count(event: SecurityEvent) -> None:
    """Only the counter: for repeats that would flood the log and the table."""
    EVENTS.labels(event.value).inc()


def emit(
    conn: Connection | None,
    event: SecurityEvent,
    *,
    client: str | None,
    path: str,
    actor: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Log, count and (with a connection) store one event."""
    count(event)
    fields = {"security_event": event.value, "client": client, "path": path, "actor": actor}
    log.log(
        logging.WARNING if event in _WARN else logging.INFO,
        event.value,
        extra={**fields, **(detail or {})},
    )
    if conn is not None:
        conn.execute(
            "INSERT INTO security_events (event, client, actor, path, detail)"
            " VALUES (%s, %s, %s, %s, %s)",
            (event.value, client, actor, path[:500], Jsonb(detail or {})),
        )


def recent(conn: Connection, *, limit: int = 200, event: str | None = None) -> list[Seen]:
    rows = conn.execute(
        "SELECT id, time, event, client, actor, path, detail FROM security_events"
        " WHERE (%(e)s::text IS NULL OR event = %(e)s) ORDER BY id DESC LIMIT %(n)s",
        {"e": event, "n": limit},
    ).fetchall()
    return [
        Seen(
            id=int(r[0]),
            time=r[1],
            event=str(r[2]),
            client=None if r[3] is None else str(r[3]),
            actor=None if r[4] is None else str(r[4]),
            path=str(r[5]),
            detail=dict(r[6]),
        )
        for r in rows
    ]
