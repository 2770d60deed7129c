"""The outbox tables: enqueue in the caller's transaction, claim, record outcomes.

Routing is data (``outbox_routes``): a notification becomes one row per enabled target
whose ``min_severity`` and ``kinds`` admit it, so the API (ack, resolve) and the engine
(open, auto-resolve) route the same way without knowing which targets exist.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from ioc.storage.db import Connection

SEVERITY_RANK = {"info": 0, "minor": 1, "major": 2, "critical": 3}
_RANK_SQL = "array_position(ARRAY['info','minor','major','critical'], {})"


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


def enqueue(conn: Connection, kind: str, key: str, payload: dict[str, Any], severity: str) -> int:
    """Route one notification to every target that wants it; returns rows written.

    ``key`` names the notification (e.g. ``alert-42-opened``); enqueueing it twice for a
    target is a no-op, so a retried transaction never notifies twice.
    """
    cur = conn.execute(
        f"""INSERT INTO outbox (target, kind, key, payload)
            SELECT target, %s, %s, %s FROM outbox_routes
            WHERE enabled AND %s = ANY (kinds)
              AND {_RANK_SQL.format("min_severity")} <= {_RANK_SQL.format("%s")}
            ON CONFLICT (target, key) DO NOTHING""",
        (kind, key, Jsonb(payload), kind, severity),
    )
    return cur.rowcount


def declare_routes(
    conn: Connection,
    targets: Iterable[str],
    min_severity: str = "info",
    kinds: tuple[str, ...] = ("alert.opened", "alert.acknowledged", "alert.resolved"),
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
    """Lock the oldest due row of ``target`` (inside the caller's transaction), or None.

    ``SKIP LOCKED``: drainers in other processes pass over rows being delivered.
    """
    row = conn.execute(
        """SELECT id, target, kind, key, payload, attempts, created_at FROM outbox
           WHERE target = %s AND state = 'pending' AND next_attempt_at <= %s
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
