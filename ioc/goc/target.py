"""The outbox target "goc": pushes reports, critical alerts and critical incidents
(escalated, closed) to ``IOC_GOC_URL``.

``deliver(item)`` returns when the GOC accepted the item and raises otherwise; the
outbox drainer retries with backoff, so an outage delays delivery but loses nothing.
Each request is signed afresh (new timestamp) but carries the item's stable
``Idempotency-Key``, so the GOC counts a retried item once. 409 from the GOC means it
already has the item: that is success. The HTTP client is injected (tests pass an
``httpx.MockTransport`` or point it at the reference receiver).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx

from ioc.config import Settings
from ioc.errors import Unavailable
from ioc.goc import signer
from ioc.goc.report import alert_message, incident_message

log = logging.getLogger("ioc.goc")

NAME = "goc"
REPORT_KIND = "goc.report"


class Item(Protocol):
    """What the target needs of an outbox row (:class:`ioc.outbox.store.OutboxItem`)."""

    @property
    def kind(self) -> str: ...

    @property
    def key(self) -> str: ...

    @property
    def payload(self) -> dict[str, Any]: ...


def body_of(item: Item, center_id: str) -> dict[str, Any]:
    if item.kind == REPORT_KIND:
        return item.payload
    if item.kind.startswith("incident."):
        return incident_message(center_id, item.kind, item.payload)
    return alert_message(center_id, item.kind, item.payload)


class GocTarget:
    name = NAME

    def __init__(
        self,
        url: str,
        secret: bytes,
        center_id: str,
        client: httpx.Client,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError("IOC_GOC_URL must be an http(s) URL")
        if not secret:
            raise ValueError("IOC_GOC_SECRET must be set to push to the GOC")
        self.url = url
        self.secret = secret
        self.center_id = center_id
        self.client = client
        self.clock = clock

    def deliver(self, item: Item) -> None:
        body = json.dumps(body_of(item, self.center_id), separators=(",", ":")).encode()
        headers = signer.headers(self.secret, int(self.clock()), body, item.key)
        try:
            response = self.client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise Unavailable(f"GOC unreachable: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 409 or response.is_success:
            log.info(
                "delivered to GOC",
                extra={"key": item.key, "kind": item.kind, "status": response.status_code},
            )
            return
        raise Unavailable(f"GOC answered {response.status_code}: {response.text[:200]}")


def make_target(settings: Settings, client: httpx.Client | None = None) -> GocTarget | None:
    """The GOC target from settings, or None when no GOC is configured."""
    if not settings.goc_url or settings.goc_secret is None:
        return None
    return GocTarget(
        settings.goc_url,
        settings.goc_secret.get_secret_value().encode(),
        settings.center_id,
        client or httpx.Client(timeout=10.0),
    )
