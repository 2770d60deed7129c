"""A reference receiver on a real port that can go down and come back."""

from __future__ import annotations

import threading

import uvicorn

from ioc.goc.receiver import Inbox, create_app
from testkit.broker import free_port, wait_for_port


class Receiver:
    def __init__(self, secret: bytes) -> None:
        self.secret = secret
        self.port = free_port()
        self.inbox = Inbox()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/ingest"

    def start(self) -> None:
        config = uvicorn.Config(
            create_app(self.secret, self.inbox),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        wait_for_port(self.port)

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
