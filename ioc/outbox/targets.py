"""Outbox targets: a webhook and Grafana annotations. The service that drains the
outbox builds them, and the GOC connector's, from settings
(:func:`ioc.services.alerts.targets_from_settings`).

The live event stream of the API needs no target: alert changes are written to
``events`` (and NOTIFYed) in the same transaction as the change itself
(:func:`ioc.storage.events.publish`), which is already what an outbox guarantees.

HTTP clients are injected (``httpx.Client(transport=...)``), so tests hand in an
``httpx.MockTransport`` that checks requests against the documented contract.
"""

from __future__ import annotations

import logging
from datetime import datetime

import httpx

from ioc.errors import Unavailable
from ioc.outbox.store import OutboxItem

log = logging.getLogger("ioc.outbox")

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


def _check(response: httpx.Response, what: str) -> None:
    if not response.is_success:
        raise Unavailable(f"{what} answered {response.status_code}: {response.text[:200]}")


class WebhookTarget:
    """POSTs ``{"kind", "key", "alert"}`` as JSON, with the row's key as
    ``Idempotency-Key`` so the receiver can drop a redelivery."""

    def __init__(self, url: str, client: httpx.Client, name: str = "webhook") -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"webhook URL must be http(s), got {url!r}")
        self.url = url
        self.client = client
        self.name = name

    def deliver(self, item: OutboxItem) -> None:
        try:
            response = self.client.post(
                self.url,
                json={"kind": item.kind, "key": item.key, "alert": item.payload},
                headers={"Idempotency-Key": item.key},
            )
        except httpx.HTTPError as exc:
            raise Unavailable(f"webhook unreachable: {type(exc).__name__}: {exc}") from exc
        _check(response, "webhook")


def _ms(text: str | None) -> int | None:
    return None if text is None else int(datetime.fromisoformat(text).timestamp() * 1000)


class GrafanaTarget:
    """Grafana's annotations API (``POST /api/annotations``): an organization annotation
    (no dashboard) tagged so that the wall's annotation query can pick it up. An opened
    alert marks its start; a resolved one marks the region from start to resolution."""

    name = "grafana"

    def __init__(self, base_url: str, token: str | None, client: httpx.Client) -> None:
        self.url = base_url.rstrip("/") + "/api/annotations"
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = client

    @staticmethod
    def annotation(item: OutboxItem) -> dict[str, object]:
        a = item.payload
        action = item.kind.removeprefix("alert.")
        tags = ["ioc", "alert", action, str(a.get("severity")), str(a.get("domain"))]
        if a.get("district"):
            tags.append(f"district:{a['district']}")
        body: dict[str, object] = {
            "time": _ms(a.get("started_at")),
            "tags": tags,
            "text": f"{a.get('rule_name')} — {a.get('subject')}: {action}"
            + (f" (value {a['value']:g})" if isinstance(a.get("value"), int | float) else "")
            + (f" by {a['by']}" if a.get("by") and a.get("by") != "engine" else ""),
        }
        if action == "resolved" and a.get("resolved_at"):
            body["timeEnd"] = _ms(a.get("resolved_at"))
        elif action == "acknowledged" and a.get("acknowledged_at"):
            body["time"] = _ms(a.get("acknowledged_at"))
        return body

    def deliver(self, item: OutboxItem) -> None:
        try:
            response = self.client.post(self.url, json=self.annotation(item), headers=self.headers)
        except httpx.HTTPError as exc:
            raise Unavailable(f"Grafana unreachable: {type(exc).__name__}: {exc}") from exc
        _check(response, "Grafana")
