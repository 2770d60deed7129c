"""The audit log: every change, with who, what, when and from where.

The one owner of ``audit_log``. Written in the same transaction as the change it
records (by the use cases: :mod:`ioc.alerts.lifecycle`, :mod:`ioc.alerts.authoring`,
:mod:`ioc.security.enrolment`, :mod:`ioc.security.users_cli`), so the log never
claims a change that rolled back nor misses one that committed. ``detail`` must never
carry a secret: callers pass what changed, not credentials. :class:`AuditEntry` is
both what :func:`entries` returns and the body of ``GET /api/v1/audit``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict

from ioc.storage.db import Connection


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is acting: a person (``label`` = login, ``name`` = their name), an API key
    (``key:<prefix>``, ``name`` = the key's name), or a command-line user."""

    label: str
    role: str | None = None
    remote: str | None = None
    name: str | None = None


class AuditEntry(BaseModel):
    """One line of the audit log: who did what to which target, when, from where."""

    model_config = ConfigDict(frozen=True)

    id: int
    time: datetime
    actor: str
    actor_name: str | None = None
    role: str | None
    action: str
    target: str
    remote: str | None
    detail: dict[str, Any]


def record(
    conn: Connection, actor: Actor, action: str, target: str, detail: dict[str, Any] | None = None
) -> None:
    conn.execute(
        "INSERT INTO audit_log (actor, actor_name, role, action, target, remote, detail)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s)",
        (actor.label, actor.name, actor.role, action, target, actor.remote, Jsonb(detail or {})),
    )


def entries(
    conn: Connection, *, target: str | None = None, action: str | None = None, limit: int = 100
) -> list[AuditEntry]:
    rows = conn.execute(
        "SELECT id, time, actor, role, action, target, remote, detail, actor_name FROM audit_log"
        " WHERE (%(t)s::text IS NULL OR target = %(t)s)"
        " AND (%(a)s::text IS NULL OR action = %(a)s)"
        " ORDER BY id DESC LIMIT %(n)s",
        {"t": target, "a": action, "n": limit},
    ).fetchall()
    return [
        AuditEntry(
            id=int(r[0]),
            time=r[1],
            actor=str(r[2]),
            role=None if r[3] is None else str(r[3]),
            action=str(r[4]),
            target=str(r[5]),
            remote=None if r[6] is None else str(r[6]),
            detail=dict(r[7]),
            actor_name=None if r[8] is None else str(r[8]),
        )
        for r in rows
    ]
