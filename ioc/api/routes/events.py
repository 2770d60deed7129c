"""Server-sent events for the wall: alerts opened, acknowledged, resolved; devices going
on/offline. Replays from ``Last-Event-ID`` (the ``events`` table), then follows
``LISTEN ioc_events``; LISTEN is issued before the replay query, so nothing committed in
between is missed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated

import psycopg
from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse

from ioc.api.deps import AppSettings, Viewer
from ioc.api.problems import responses
from ioc.errors import InvalidInput, StorageUnavailable
from ioc.storage.events import CHANNEL

router = APIRouter(prefix="/api/v1", tags=["events"])

BATCH = 500
KEEPALIVE_S = 15.0


def frame(event_id: int, kind: str, data: str) -> str:
    return f"id: {event_id}\nevent: {kind}\ndata: {data}\n\n"


async def _connect(url: str) -> psycopg.AsyncConnection[tuple[object, ...]]:
    try:
        return await psycopg.AsyncConnection.connect(
            url, autocommit=True, connect_timeout=5, application_name="ioc-sse"
        )
    except psycopg.OperationalError as exc:
        raise StorageUnavailable(str(exc).strip()) from exc


async def _stream(url: str, after: int, request: Request) -> AsyncIterator[str]:
    """Owns its connection: opened when the stream starts, closed however it ends."""
    async with await _connect(url) as conn:
        await conn.execute(f"LISTEN {CHANNEL}")
        yield "retry: 3000\n\n"
        while True:
            cur = await conn.execute(
                "SELECT id, kind, payload FROM events WHERE id > %s ORDER BY id LIMIT %s",
                (after, BATCH),
            )
            rows = await cur.fetchall()
            for event_id, kind, payload in rows:
                after = int(event_id)  # type: ignore[call-overload]
                yield frame(after, str(kind), json.dumps(payload, separators=(",", ":")))
            if len(rows) == BATCH:
                continue
            if await request.is_disconnected():
                return
            heard = False
            async for _ in conn.notifies(timeout=KEEPALIVE_S, stop_after=1):
                heard = True
            if not heard:
                yield ": keepalive\n\n"


@router.get(
    "/events",
    summary="Live events (text/event-stream)",
    description="Kinds: `alert.opened`, `alert.acknowledged`, `alert.resolved`, "
    "`device.online`, `device.offline`. Each event has an `id`; reconnect with "
    "`Last-Event-ID` to receive what was missed. Without it the stream starts now.",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}},
        **responses(401, 403, 422, 503),
    },
)
async def events(
    request: Request,
    _: Viewer,
    settings: AppSettings,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    resume = None if last_event_id is None else _event_id(last_event_id)
    if resume is None:
        # Checked here, before the 200 goes out, so a database outage is a 503.
        async with await _connect(settings.database_url) as conn:
            row = await (await conn.execute("SELECT coalesce(max(id), 0) FROM events")).fetchone()
        resume = int(row[0]) if row else 0  # type: ignore[call-overload]
    return StreamingResponse(
        _stream(settings.database_url, resume, request),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _event_id(text: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise InvalidInput("Last-Event-ID must be an event id (a non-negative integer)")
    return int(text)
