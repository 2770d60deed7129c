"""Alert figures for the KPIs, read through the alert engine's store (no alert SQL here).

Open alerts by severity and the oldest one's age; mean time to acknowledge and to
resolve over alerts started in the last 7 days. Reads at most ``MAX_ALERTS`` recent
alerts per call, newest first, which bounds the cost on a center with a long history.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from statistics import fmean
from typing import Any

from ioc.alerts import store
from ioc.alerts.models import Alert, AlertFilters, Page
from ioc.storage.db import Connection

WINDOW = timedelta(days=7)
PAGE = 1000
MAX_ALERTS = 20_000


def _recent(conn: Connection, filters: AlertFilters, since: datetime | None) -> list[Alert]:
    out: list[Alert] = []
    offset = 0
    while offset < MAX_ALERTS:
        page = store.list_alerts(conn, filters, Page(limit=PAGE, offset=offset))
        for a in page:
            if since is not None and a.started_at < since:
                return out
            out.append(a)
        if len(page) < PAGE:
            break
        offset += PAGE
    return out


def alert_stats(
    conn: Connection, domain: str | None, district: str | None, now: datetime
) -> dict[tuple[str, str], Any]:
    base: dict[str, Any] = {}
    if domain is not None:
        base["domain"] = domain
    if district is not None:
        base["district"] = district
    open_ = _recent(conn, AlertFilters(state="open", **base), None)
    recent = _recent(conn, AlertFilters(**base), now - WINDOW)

    groups: dict[tuple[str, str], dict[str, Any]] = defaultdict(
        lambda: {
            "open": {"critical": 0, "major": 0, "minor": 0, "info": 0},
            "oldest_open_age_s": None,
            "mean_time_to_ack_s": None,
            "mean_time_to_resolve_s": None,
        }
    )
    for a in open_:
        g = groups[(str(a.domain), a.district or "")]
        g["open"][a.severity] += 1
        age = (now - a.started_at).total_seconds()
        g["oldest_open_age_s"] = max(age, g["oldest_open_age_s"] or 0.0)
    to_ack: dict[tuple[str, str], list[float]] = defaultdict(list)
    to_resolve: dict[tuple[str, str], list[float]] = defaultdict(list)
    for a in recent:
        key: tuple[str, str] = (str(a.domain), a.district or "")
        if a.acknowledged_at is not None:
            to_ack[key].append((a.acknowledged_at - a.started_at).total_seconds())
        if a.resolved_at is not None:
            to_resolve[key].append((a.resolved_at - a.started_at).total_seconds())
    for key, values in to_ack.items():
        groups[key]["mean_time_to_ack_s"] = round(fmean(values), 1)
    for key, values in to_resolve.items():
        groups[key]["mean_time_to_resolve_s"] = round(fmean(values), 1)
    return dict(groups)
