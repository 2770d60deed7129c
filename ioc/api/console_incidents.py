"""The console's view of incidents, in the contract's shape (``GET /api/v1/incidents``:
id, title, state, severity, districts, domains, alert_ids, device_count, opened_at,
acknowledged_at, acknowledged_by, resolved_at, closed_at, steps, history).

The incidents store is being built beside the console; until it lands these answer
"none", and the console works with alerts alone. Wiring it is this module's job only:
call the store here and every page and the inbox lead with incidents.
"""

from __future__ import annotations

from typing import Any

from ioc.errors import NotFound
from ioc.storage.db import Connection


def open_incidents(conn: Connection) -> list[dict[str, Any]]:
    """Open and acknowledged incidents as contract dicts (none until the store lands)."""
    del conn
    return []


def list_incidents(
    conn: Connection, *, state: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    del conn, state, limit, offset
    return [], 0


def get_incident(conn: Connection, incident_id: int) -> dict[str, Any]:
    del conn
    raise NotFound(f"incident {incident_id} does not exist")
