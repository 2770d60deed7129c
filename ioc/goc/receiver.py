"""A reference GOC receiver: verifies signatures and counts each idempotency key once.

For tests and local runs, not production: it keeps what it received in memory.

    IOC_GOC_SECRET=s3cret python -m ioc.goc.receiver --port 9500

then ``IOC_GOC_URL=http://127.0.0.1:9500/ingest``. ``GET /received`` lists what was
accepted, in order; a request with a key already seen answers 200 with
``{"duplicate": true}`` and is not counted again; a bad signature answers 401.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ioc.goc import signer


class Inbox:
    """What the receiver accepted, keyed by idempotency key (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: dict[str, dict[str, Any]] = {}
        self.duplicates = 0
        self.rejected = 0

    def add(self, key: str, body: dict[str, Any]) -> bool:
        with self._lock:
            if key in self.items:
                self.duplicates += 1
                return False
            self.items[key] = body
            return True


def create_app(
    secret: bytes, inbox: Inbox | None = None, clock: Callable[[], float] = time.time
) -> Starlette:
    box = inbox or Inbox()

    async def ingest(request: Request) -> JSONResponse:
        body = await request.body()
        problem = signer.verify(
            secret,
            request.headers.get(signer.TIMESTAMP),
            body,
            request.headers.get(signer.SIGNATURE),
            clock(),
        )
        if problem:
            box.rejected += 1
            return JSONResponse({"error": problem}, status_code=401)
        key = request.headers.get(signer.IDEMPOTENCY_KEY)
        if not key:
            return JSONResponse({"error": "Idempotency-Key is required"}, status_code=400)
        try:
            parsed = json.loads(body)
        except ValueError:
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        if not isinstance(parsed, dict) or "schema" not in parsed:
            return JSONResponse({"error": "body has no schema"}, status_code=422)
        fresh = box.add(key, parsed)
        return JSONResponse({"accepted": fresh, "duplicate": not fresh}, status_code=200)

    async def received(_: Request) -> JSONResponse:
        return JSONResponse(
            {
                "items": [{"key": k, "body": v} for k, v in box.items.items()],
                "duplicates": box.duplicates,
                "rejected": box.rejected,
            }
        )

    app = Starlette(
        routes=[
            Route("/ingest", ingest, methods=["POST"]),
            Route("/received", received, methods=["GET"]),
        ]
    )
    app.state.inbox = box
    return app


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="Reference GOC receiver (tests, local runs)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9500)
    args = parser.parse_args()
    secret = os.environ.get("IOC_GOC_SECRET")
    if not secret:
        raise SystemExit("set IOC_GOC_SECRET to the secret shared with the IOC")
    uvicorn.run(create_app(secret.encode()), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
