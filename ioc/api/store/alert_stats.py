"""Alert figures for the KPIs, read through the alert engine's store when it is there."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ioc.storage.db import Connection


def alert_stats(
    conn: Connection, domain: str | None, district: str | None, now: datetime
) -> dict[tuple[str, str], Any]:
    return {}
