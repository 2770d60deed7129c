"""The live event stream: the one owner of the ``events`` table and its channel.

Writers :func:`publish` a row and a NOTIFY atomically: the NOTIFY is delivered only if
the transaction commits, so a listener never hears of something that did not happen.
Readers (the API's server-sent events) open a :func:`listener`, LISTEN before they
replay with :func:`read_after`, and wait with :func:`wait`; nothing committed in between
is missed. Kinds are :data:`ioc.types.EVENT_KINDS`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from ioc.errors import StorageUnavailable
from ioc.storage.db import Connection
from ioc.types import EventKind

CHANNEL = "ioc_events"

AsyncConnection = psycopg.AsyncConnection[tuple[Any, ...]]


def publish(conn: Connection, kind: EventKind, payload: dict[str, Any]) -> int:
    row = conn.execute(
        "INSERT INTO events (kind, payload) VALUES (%s, %s) RETURNING id", (kind, Jsonb(payload))
    ).fetchone()
    assert row is not None
    event_id = int(row[0])
    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(event_id)))
    return event_id


@asynccontextmanager
async def listener(url: str, *, listen: bool = True) -> AsyncIterator[AsyncConnection]:
    """An autocommit connection of its own, LISTENing on :data:`CHANNEL` when asked;
    closed however the block ends. An unreachable database is StorageUnavailable."""
    try:
        conn = await psycopg.AsyncConnection.connect(
            url, autocommit=True, connect_timeout=5, application_name="ioc-sse"
        )
    except psycopg.OperationalError as exc:
        raise StorageUnavailable(str(exc).strip() or type(exc).__name__) from exc
    async with conn:
        if listen:
            await conn.execute(f"LISTEN {CHANNEL}")
        yield conn


async def last_id(conn: AsyncConnection) -> int:
    """The newest event's id (0 when there is none): where "from now on" starts."""
    cur = await conn.execute("SELECT coalesce(max(id), 0) FROM events")
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def read_after(
    conn: AsyncConnection, after: int, limit: int
) -> list[tuple[int, str, dict[str, Any]]]:
    """(id, kind, payload) of up to ``limit`` events after ``after``, oldest first."""
    cur = await conn.execute(
        "SELECT id, kind, payload FROM events WHERE id > %s ORDER BY id LIMIT %s",
        (after, limit),
    )
    return [(int(i), str(k), dict(p)) for i, k, p in await cur.fetchall()]


async def wait(conn: AsyncConnection, timeout: float) -> bool:
    """Wait for a notification on a :func:`listener`; False when ``timeout`` passed."""
    heard = False
    async for _ in conn.notifies(timeout=timeout, stop_after=1):
        heard = True
    return heard
