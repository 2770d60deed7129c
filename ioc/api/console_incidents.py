"""The console's view of incidents, in the contract's shape (``GET /api/v1/incidents``:
id, title, state, severity, districts, domains, alert_ids, device_count, opened_at,
acknowledged_at, acknowledged_by, resolved_at, closed_at, steps, history), read through
the incidents store and its views, as the incidents API reads them."""

from __future__ import annotations

from typing import Any

from ioc.incidents import store, views
from ioc.storage.db import Connection

#: Incidents the inbox shows: not yet resolved.
OPEN_STATES = ("open", "acknowledged")


def list_incidents(
    conn: Connection, *, state: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """A page of incidents, newest first, as contract dicts; and how many match."""
    found, total = store.list_incidents(
        conn, {"state": state, "domain": None, "severity": None, "district": None}, limit, offset
    )
    alert_ids = store.alert_ids_of(conn, [i.id for i in found])
    now = store.now(conn)
    return [views.summary(i, alert_ids[i.id], now).model_dump() for i in found], total


def open_incidents(conn: Connection, limit: int = 500) -> list[dict[str, Any]]:
    """Open and acknowledged incidents (the inbox's lead items), JSON-ready."""
    out: list[dict[str, Any]] = []
    for state in OPEN_STATES:
        items, _ = list_incidents(conn, state=state, limit=limit, offset=0)
        out += [views_json(i) for i in items]
    return out


def views_json(item: dict[str, Any]) -> dict[str, Any]:
    """Datetimes as ISO text, for the page's script."""
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in item.items()}


def get_incident(conn: Connection, incident_id: int) -> dict[str, Any]:
    """One incident with its alerts, steps (overdue flagged) and history, or NotFound."""
    incident = store.load(conn, incident_id, history=True)
    return views.detail(incident, store.now(conn)).model_dump()
