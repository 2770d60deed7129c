"""How quickly the center handles what goes wrong, per (domain, district): open alerts
and incidents by severity, and their mean time to acknowledge and to resolve.

Each is ONE SQL aggregate, whatever the history (the KPIs and the GOC report read them;
nothing pages alerts into Python). Alerts without a district (a domain-wide group rule)
count under ``""``; an incident spanning two districts counts in each, since it is open
in both.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ioc.storage.db import Connection, translated
from ioc.types import SEVERITIES_DESC


def _open_by_severity(open_state: str) -> str:
    return ", ".join(
        f"count(*) FILTER (WHERE {open_state} AND severity = '{s}')::int" for s in SEVERITIES_DESC
    )


def _means(start: str) -> str:
    """Mean time to acknowledge and to resolve of what started since ``%(since)s``."""
    return f"""avg(extract(epoch FROM acknowledged_at - {start}))
         FILTER (WHERE {start} >= %(since)s AND acknowledged_at IS NOT NULL),
       avg(extract(epoch FROM resolved_at - {start}))
         FILTER (WHERE {start} >= %(since)s AND resolved_at IS NOT NULL)"""


_ALERT_OPEN = "state <> 'resolved'"
_ALERTS = f"""
SELECT domain, coalesce(district, ''), {_open_by_severity(_ALERT_OPEN)},
       max(extract(epoch FROM %(now)s - started_at)) FILTER (WHERE {_ALERT_OPEN}),
       {_means("started_at")}
FROM alerts
WHERE ({_ALERT_OPEN} OR started_at >= %(since)s)
  AND (%(domain)s::text IS NULL OR domain = %(domain)s)
  AND (%(district)s::text IS NULL OR district = %(district)s)
GROUP BY 1, 2"""

_INCIDENT_OPEN = "state IN ('open', 'acknowledged')"
_INCIDENTS = f"""
SELECT dom, dis, {_open_by_severity(_INCIDENT_OPEN)},
       count(*) FILTER (WHERE opened_at >= %(since)s)::int,
       {_means("opened_at")}
FROM incidents
CROSS JOIN LATERAL unnest(CASE WHEN cardinality(domains) = 0 THEN ARRAY[''] ELSE domains END)
  AS d(dom)
CROSS JOIN LATERAL unnest(CASE WHEN cardinality(districts) = 0 THEN ARRAY[''] ELSE districts
  END) AS s(dis)
WHERE ({_INCIDENT_OPEN} OR opened_at >= %(since)s)
  AND (%(domain)s::text IS NULL OR dom = %(domain)s)
  AND (%(district)s::text IS NULL OR dis = %(district)s)
GROUP BY 1, 2"""


def _seconds(value: object, digits: int | None = None) -> float | None:
    if value is None:
        return None
    return float(value) if digits is None else round(float(value), digits)  # type: ignore[arg-type]


def _grouped(
    rows: Sequence[Sequence[Any]], extra: str, extra_of: Any
) -> dict[tuple[str, str], dict[str, Any]]:
    n = len(SEVERITIES_DESC)
    return {
        (str(row[0]), str(row[1])): {
            "open": dict(zip(SEVERITIES_DESC, (int(c) for c in row[2 : 2 + n]), strict=True)),
            extra: extra_of(row[2 + n]),
            "mean_time_to_ack_s": _seconds(row[3 + n], 1),
            "mean_time_to_resolve_s": _seconds(row[4 + n], 1),
        }
        for row in rows
    }


def empty_alert_figures() -> dict[str, Any]:
    """The figures of a (domain, district) without alerts."""
    return {
        "open": dict.fromkeys(SEVERITIES_DESC, 0),
        "oldest_open_age_s": None,
        "mean_time_to_ack_s": None,
        "mean_time_to_resolve_s": None,
    }


def empty_incident_figures() -> dict[str, Any]:
    """The figures of a (domain, district) without incidents."""
    return {
        "open": dict.fromkeys(SEVERITIES_DESC, 0),
        "opened": 0,
        "mean_time_to_ack_s": None,
        "mean_time_to_resolve_s": None,
    }


def alert_figures(
    conn: Connection,
    now: datetime,
    since: datetime,
    domain: str | None = None,
    district: str | None = None,
) -> dict[tuple[str, str], dict[str, Any]]:
    """Open alerts by severity, the oldest one's age, and the mean time to acknowledge
    and to resolve of alerts started since ``since``."""
    params = {"now": now, "since": since, "domain": domain, "district": district}
    with translated():
        rows = conn.execute(_ALERTS, params).fetchall()
    return _grouped(rows, "oldest_open_age_s", _seconds)


def incident_figures(
    conn: Connection, since: datetime, domain: str | None = None, district: str | None = None
) -> dict[tuple[str, str], dict[str, Any]]:
    """Open incidents by severity, incidents opened since ``since``, and their mean time
    to acknowledge and to resolve."""
    params = {"since": since, "domain": domain, "district": district}
    with translated():
        rows = conn.execute(_INCIDENTS, params).fetchall()
    return _grouped(rows, "opened", int)
