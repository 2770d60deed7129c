"""Publish to the live event stream: a row in ``events`` and a NOTIFY, atomically.

Kinds: ``device.online``, ``device.offline``, ``alert.opened``, ``alert.acknowledged``,
``alert.resolved``. The NOTIFY is delivered only if the transaction commits, so a
listener never hears of something that did not happen.
"""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from ioc.storage.db import Connection

CHANNEL = "ioc_events"


def publish(conn: Connection, kind: str, payload: dict[str, Any]) -> int:
    row = conn.execute(
        "INSERT INTO events (kind, payload) VALUES (%s, %s) RETURNING id", (kind, Jsonb(payload))
    ).fetchone()
    assert row is not None
    event_id = int(row[0])
    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(event_id)))
    return event_id
