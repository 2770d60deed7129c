"""The indicator report sent to the GOC (documented in ``docs/goc.md``).

Built from the same KPI computation the API serves (:func:`ioc.kpis.figures.compute`),
for a reporting period ending at a multiple of the interval; its id
(``{center}:{period end}``) is also its idempotency key, so a report pushed twice, or
pushed and pulled, is recognisably the same report.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ioc.kpis import figures, service_levels
from ioc.storage.db import Connection, translated
from ioc.types import SEVERITIES_DESC

REPORT_SCHEMA = "ioc.goc.report/v1"
ALERT_SCHEMA = "ioc.goc.alert/v1"
INCIDENT_SCHEMA = "ioc.goc.incident/v1"


def period_end(now: datetime, interval_s: int) -> datetime:
    """The end of the last complete period at ``now``."""
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % interval_s, UTC)


def report_id(center_id: str, end: datetime) -> str:
    return f"{center_id}:{end.strftime('%Y-%m-%dT%H:%M:%SZ')}"


def build_report(
    conn: Connection, center_id: str, end: datetime, interval_s: int, now: datetime
) -> dict[str, Any]:
    groups = figures.compute(conn, now)
    registered = sum(g["devices"]["registered"] for g in groups)
    reporting = sum(g["devices"]["reporting"] for g in groups)
    open_alerts = {s: sum(g["alerts"]["open"].get(s, 0) for g in groups) for s in SEVERITIES_DESC}
    with translated():
        incidents = service_levels.incident_figures(conn, now - figures.ALERT_WINDOW)
    return {
        "schema": REPORT_SCHEMA,
        "report_id": report_id(center_id, end),
        "center_id": center_id,
        "generated_at": _iso(now),
        "period": {"start": _iso(end - timedelta(seconds=interval_s)), "end": _iso(end)},
        "summary": {
            "devices_registered": registered,
            "devices_reporting": reporting,
            "reporting_pct": round(100 * reporting / registered, 1) if registered else None,
            "open_alerts": open_alerts,
        },
        "incidents": incident_section(incidents),
        "indicators": [
            {
                "domain": g["domain"],
                "district": g["district"],
                "devices": g["devices"],
                "freshness_s": g["freshness_s"],
                "alerts": g["alerts"],
                "indicators": g["indicators"],
            }
            for g in groups
        ],
    }


def alert_message(center_id: str, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A critical alert's change (``alert.opened`` / ``alert.resolved`` / ...) for the GOC."""
    fields = (
        "id",
        "rule_id",
        "rule_name",
        "device_id",
        "domain",
        "district",
        "metric",
        "severity",
        "state",
        "started_at",
        "acknowledged_at",
        "resolved_at",
        "value",
    )
    message = {
        "schema": ALERT_SCHEMA,
        "center_id": center_id,
        "event": kind.removeprefix("alert."),
        "alert": {f: payload.get(f) for f in fields},
    }
    if payload.get("incident"):  # the incident it belongs to, as it was at that moment
        held = payload["incident"]
        message["incident"] = {"id": held.get("incident_id")} | {
            k: v for k, v in held.items() if k != "incident_id"
        }
    return message


def incident_section(groups: dict[tuple[str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    """Incidents by domain and district (an incident in two districts counts in each):
    open by severity, opened in the window, mean time to acknowledge and to resolve."""
    return [{"domain": dom, "district": dis, **g} for (dom, dis), g in sorted(groups.items())]


def incident_message(center_id: str, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A critical incident's change (``incident.escalated`` / ``incident.closed``)."""
    fields = (
        "title",
        "state",
        "severity",
        "policy",
        "districts",
        "domains",
        "device_count",
        "alert_count",
        "opened_at",
        "acknowledged_at",
        "resolved_at",
        "closed_at",
    )
    return {
        "schema": INCIDENT_SCHEMA,
        "center_id": center_id,
        "event": kind.removeprefix("incident."),
        "incident": {"id": payload.get("incident_id"), **{f: payload.get(f) for f in fields}},
        "note": payload.get("note"),
        "tier": payload.get("tier"),
    }


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")
