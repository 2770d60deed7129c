"""Server-sent events for the wall: alerts opened, acknowledged, resolved; devices going
on/offline. Replays from ``Last-Event-ID``, then follows the live stream; the stream's
owner (:mod:`ioc.storage.events`) LISTENs before the replay query, so nothing committed
in between is missed."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from ioc.api.deps import AppSettings, Database, Db, Principal, Viewer
from ioc.api.problems import responses
from ioc.config import Settings
from ioc.errors import InvalidInput
from ioc.storage import events as stream
from ioc.storage import registry
from ioc.types import EVENT_KINDS

router = APIRouter(prefix="/api/v1", tags=["events"])

BATCH = 500
KEEPALIVE_S = 15.0


def frame(event_id: int, kind: str, data: str) -> str:
    return f"id: {event_id}\nevent: {kind}\ndata: {data}\n\n"


#: Whether an event (kind, payload) is the caller's to see.
Keep = Callable[[str, Mapping[str, Any]], bool]


def _everything(kind: str, payload: Mapping[str, Any]) -> bool:
    return True


async def scope_of(who: Principal, db: Database) -> Keep:
    """What a caller's stream lets through: everything, or for a person (or key) limited
    to a district, that district's alerts, incidents and devices."""
    if who.district is None:
        return _everything
    district = who.district

    def devices() -> frozenset[str]:
        with db.connect() as conn:
            return registry.device_ids_in(conn, district)

    ids = await run_in_threadpool(devices)
    return lambda kind, payload: who.sees_event(kind, payload, ids)


async def _stream(
    url: str, after: int, request: Request, keep: Keep = _everything
) -> AsyncIterator[str]:
    """Owns its connection: opened when the stream starts, closed however it ends."""
    async with stream.listener(url) as conn:
        yield "retry: 3000\n\n"
        while True:
            rows = await stream.read_after(conn, after, BATCH)
            for event_id, kind, payload in rows:
                after = event_id
                if keep(kind, payload):
                    yield frame(event_id, kind, json.dumps(payload, separators=(",", ":")))
            if len(rows) == BATCH:
                continue
            if await request.is_disconnected():
                return
            if not await stream.wait(conn, KEEPALIVE_S):
                yield ": keepalive\n\n"


@router.get(
    "/events",
    summary="Live events (text/event-stream)",
    description="Kinds: " + ", ".join(f"`{k}`" for k in EVENT_KINDS) + ". Each event has "
    "an `id`; reconnect with `Last-Event-ID` to receive what was missed. Without it the "
    "stream starts now.",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}},
        **responses(401, 403, 422, 503),
    },
)
async def events(
    request: Request,
    who: Viewer,
    db: Db,
    settings: AppSettings,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
) -> StreamingResponse:
    return await stream_response(request, who, db, settings, last_event_id)


async def stream_response(
    request: Request, who: Principal, db: Database, settings: Settings, given: str | None
) -> StreamingResponse:
    """The caller's stream, resumed after event ``given`` (or from now): the API's and the
    console's, one implementation."""
    resume = None if given is None else _event_id(given)
    if resume is None:
        # Checked here, before the 200 goes out, so a database outage is a 503.
        async with stream.listener(settings.database_url, listen=False) as conn:
            resume = await stream.last_id(conn)
    keep = await scope_of(who, db)
    return StreamingResponse(
        _stream(settings.database_url, resume, request, keep),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _event_id(text: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise InvalidInput("Last-Event-ID must be an event id (a non-negative integer)")
    return int(text)
