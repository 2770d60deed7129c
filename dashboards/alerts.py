"""Alert panels and annotations, over the alert engine's ``alerts`` and ``alert_history``.

Every alert shown links to ``/api/v1/alerts/{id}``; opens and resolutions are drawn as
annotations from the history, so they line up with the readings that caused them.
"""

from __future__ import annotations

from dashboards.model import (
    ALERT_LINK,
    DEVICE_LINK,
    SEVERITY_COLORS,
    Json,
    annotation,
    bargauge_options,
    field_links,
    panel,
    stat_options,
    target,
    thresholds,
)
from dashboards.queries import district_filter, literal
from ioc.types import SEVERITIES_DESC, severity_rank

#: Most severe first: the order of columns, legends and the ranking below.
SEVERITIES = SEVERITIES_DESC

SEVERITY_MAPPING = [
    {
        "type": "value",
        "options": {
            s: {"color": SEVERITY_COLORS[s], "index": i, "text": s.upper()}
            for i, s in enumerate(SEVERITIES)
        },
    }
]

#: SQL: an alert's severity rank, 1 (info) to 4 (critical).
_RANK = (
    "CASE a.severity "
    + " ".join(f"WHEN {literal(s)} THEN {severity_rank(s) + 1}" for s in SEVERITIES[:-1])
    + " ELSE 1 END"
)


def _where(domain: str | None) -> str:
    return f" AND a.domain = {literal(domain)} AND {district_filter('a')}" if domain else ""


def open_alerts_sql(domain: str | None = None) -> str:
    return f"""
SELECT a.id, a.severity, a.state, a.rule_name AS rule, a.device_id, a.domain, a.district,
       a.value, a.started_at, now() - a.started_at AS age
FROM alerts a
WHERE a.state <> 'resolved'{_where(domain)}
ORDER BY {_RANK} DESC, a.started_at
LIMIT 200"""


def open_by_severity_sql() -> str:
    counts = ",\n       ".join(
        f"count(*) FILTER (WHERE a.severity = {literal(s)}) AS {s}" for s in SEVERITIES
    )
    return f"""
SELECT {counts}
FROM alerts a
WHERE a.state <> 'resolved'"""


def oldest_open_sql() -> str:
    """Per severity, how long the oldest open alert has waited (seconds)."""
    return f"""
SELECT a.severity, extract(epoch FROM now() - min(a.started_at)) AS "oldest open"
FROM alerts a
WHERE a.state <> 'resolved'
GROUP BY a.severity
ORDER BY max({_RANK}) DESC"""


def history_sql(action: str, domain: str | None) -> str:
    scope = f" AND a.domain = {literal(domain)}" if domain else ""
    return f"""
SELECT h.at AS time,
       initcap(h.action) || ': ' || a.rule_name || ' · ' || coalesce(a.device_id, a.subject)
         || ' (' || a.severity || ')' AS text,
       a.severity || ',' || a.domain AS tags
FROM alert_history h JOIN alerts a ON a.id = h.alert_id
WHERE h.action = {literal(action)} AND $__timeFilter(h.at){scope}
ORDER BY h.at"""


def alert_annotations(domain: str | None = None) -> list[Json]:
    return [
        annotation("Alerts opened", history_sql("opened", domain), "red"),
        annotation("Alerts resolved", history_sql("resolved", domain), "green"),
    ]


def open_table(*, domain: str | None = None, size: tuple[int, int] = (10, 12)) -> Json:
    return panel(
        "table",
        "Open alerts",
        [target(open_alerts_sql(domain))],
        description="Firing and acknowledged alerts, most severe and oldest first; the id "
        "opens the alert (with its history) and the device id opens the device.",
        overrides=[
            field_links("id", ALERT_LINK),
            field_links("device_id", DEVICE_LINK),
            {
                "matcher": {"id": "byName", "options": "severity"},
                "properties": [
                    {"id": "mappings", "value": SEVERITY_MAPPING},
                    {"id": "custom.cellOptions", "value": {"type": "color-background"}},
                ],
            },
            {
                "matcher": {"id": "byName", "options": "age"},
                "properties": [{"id": "unit", "value": "s"}],
            },
        ],
        options={"showHeader": True, "cellHeight": "md"},
        size=size,
    )


def by_severity(size: tuple[int, int] = (10, 5)) -> Json:
    return panel(
        "stat",
        "Open alerts by severity",
        [target(open_by_severity_sql())],
        description="Firing and acknowledged alerts, counted per severity.",
        overrides=[
            {
                "matcher": {"id": "byName", "options": s},
                "properties": [
                    {"id": "color", "value": {"mode": "fixed", "fixedColor": SEVERITY_COLORS[s]}}
                ],
            }
            for s in SEVERITIES
        ],
        options=stat_options(
            color_mode="background", text_mode="value_and_name", orientation="vertical"
        ),
        size=size,
    )


def oldest_open(size: tuple[int, int] = (10, 5)) -> Json:
    return panel(
        "bargauge",
        "Oldest open alert per severity",
        [target(oldest_open_sql())],
        description="How long the oldest unresolved alert of each severity has waited.",
        unit="s",
        options=bargauge_options("basic"),
        steps=thresholds((None, "green"), (900, "orange"), (3600, "red")),
        size=size,
    )
