"""The outbox tables: enqueue in the caller's transaction, claim, record outcomes.

Routing is data (``outbox_routes``): a notification becomes one row per enabled target
whose ``min_severity`` and ``kinds`` admit it, so the API (ack, resolve) and the engine
(open, auto-resolve) route the same way without knowing which targets exist.

Order: every row has a subject (``alert:42``, ``incident:7``, ``goc.report``), and
:func:`claim` hands out a row only when no earlier row of the same subject for the same
target is still pending. A target thus receives an alert's ``opened`` before its
``resolved`` and reports in period order, while a row that keeps failing holds back only
its own subject (until it is delivered, or dead after ``max_attempts``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from ioc.storage.db import Connection
from ioc.types import ALERT_EVENT_KINDS, SEVERITIES, severity_rank

SEVERITY_RANK = {s: severity_rank(s) for s in SEVERITIES}
_RANK_SQL = "array_position(ARRAY[" + ",".join(f"'{s}'" for s in SEVERITIES) + "], {})"


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One notification for one target; ``key`` is stable: use it as an idempotency key."""

    id: int
    target: str
    kind: str
    key: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime


def subject_of(kind: str, payload: dict[str, Any]) -> str:
    """The series an item belongs to: ``alert:42`` for ``alert.*`` kinds (likewise any
    ``thing.*`` kind whose payload has an ``id``), else the kind itself (``goc.report``:
    reports form one series)."""
    family, dot, _ = kind.partition(".")
    if dot and "id" in payload:
        return f"{family}:{payload['id']}"
    return kind


def enqueue(
    conn: Connection,
    kind: str,
    key: str,
    payload: dict[str, Any],
    severity: str,
    *,
    subject: str | None = None,
) -> int:
    """Route one notification to every target that wants it; returns rows written.

    ``key`` names the notification (e.g. ``alert-42-opened``); enqueueing it twice for a
    target is a no-op, so a retried transaction never notifies twice. ``subject``
    (default :func:`subject_of`) orders delivery: rows of one subject go out in the
    order they were enqueued.
    """
    cur = conn.execute(
        f"""INSERT INTO outbox (target, kind, key, payload, subject)
            SELECT target, %s, %s, %s, %s FROM outbox_routes
            WHERE enabled AND %s = ANY (kinds)
              AND {_RANK_SQL.format("min_severity")} <= {_RANK_SQL.format("%s")}
            ON CONFLICT (target, key) DO NOTHING""",
        (kind, key, Jsonb(payload), subject or subject_of(kind, payload), kind, severity),
    )
    return cur.rowcount


def declare_routes(
    conn: Connection,
    targets: Iterable[str],
    min_severity: str = "info",
    kinds: tuple[str, ...] = ALERT_EVENT_KINDS,
) -> None:
    """Make sure each target is routed (a service calls this for the targets it drains).

    An existing route is left as the operator configured it.
    """
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO outbox_routes (target, min_severity, kinds) VALUES (%s, %s, %s)"
            " ON CONFLICT (target) DO NOTHING",
            [(t, min_severity, list(kinds)) for t in targets],
        )


def claim(conn: Connection, target: str, now: datetime) -> OutboxItem | None:
    """Lock the oldest due row of ``target`` that is first in its subject (inside the
    caller's transaction), or None.

    ``SKIP LOCKED``: drainers in other processes pass over rows being delivered; a row
    being delivered is still pending, so the next row of its subject waits for it.
    """
    row = conn.execute(
        """SELECT id, target, kind, key, payload, attempts, created_at FROM outbox o
           WHERE target = %s AND state = 'pending' AND next_attempt_at <= %s
             AND NOT EXISTS (
               SELECT 1 FROM outbox p
               WHERE p.target = o.target AND p.subject = o.subject
                 AND p.state = 'pending' AND p.id < o.id)
           ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED""",
        (target, now),
    ).fetchone()
    if row is None:
        return None
    id_, target_, kind, key, payload, attempts, created = row
    return OutboxItem(
        int(id_),
        str(target_),
        str(kind),
        str(key),
        dict(payload),
        int(attempts),
        created,
    )


def mark_delivered(conn: Connection, item_id: int, now: datetime) -> None:
    conn.execute(
        "UPDATE outbox SET state = 'delivered', delivered_at = %s, attempts = attempts + 1,"
        " last_error = NULL WHERE id = %s",
        (now, item_id),
    )


def mark_failed(
    conn: Connection, item_id: int, error: str, next_attempt_at: datetime, dead: bool
) -> None:
    conn.execute(
        "UPDATE outbox SET attempts = attempts + 1, last_error = %s, next_attempt_at = %s,"
        " state = CASE WHEN %s THEN 'dead' ELSE 'pending' END WHERE id = %s",
        (error[:2000], next_attempt_at, dead, item_id),
    )


def pending_targets(conn: Connection) -> list[str]:
    rows = conn.execute("SELECT DISTINCT target FROM outbox WHERE state = 'pending'").fetchall()
    return sorted(str(r[0]) for r in rows)
