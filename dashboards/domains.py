"""One dashboard per domain, built from the metric catalog.

Each catalog metric gets a "now" stat and a trend panel with its unit, physical range
and colour levels; the district and device variables narrow every panel; the devices
table and the open alerts link to the operations center API.
"""

from __future__ import annotations

from collections.abc import Sequence

from dashboards import alerts, queries
from dashboards.levels import Level, steps
from dashboards.model import (
    DEVICE_LINK,
    Json,
    center_link,
    dashboard,
    dashboard_link,
    field_links,
    panel,
    query_variable,
    row,
    stat_options,
    target,
)
from dashboards.units import grafana_unit, title
from ioc.telemetry.catalog import CATALOG, Catalog, Metric

STATE_COLORS = [
    {
        "type": "value",
        "options": {
            "online": {"color": "green", "index": 0},
            "stale": {"color": "orange", "index": 1},
            "offline": {"color": "red", "index": 2},
        },
    }
]


def _stat(metric: Metric, levels: Sequence[Level]) -> Json:
    return panel(
        "stat",
        title(metric),
        [target(queries.latest_mean(metric.name, metric.domain))],
        description=f"{metric.description}: mean of the devices' latest values (last "
        f"{queries.STALE_AFTER}). Physical range {metric.min:g} to {metric.max:g} {metric.unit}.",
        unit=grafana_unit(metric),
        steps=steps(metric, levels),
        options=stat_options(color_mode="background", text_mode="value"),
        size=(6, 4),
    )


def _trend(metric: Metric, levels: Sequence[Level]) -> Json:
    return panel(
        "timeseries",
        title(metric),
        [target(queries.series(metric.name, metric.domain), fmt="time_series")],
        description=f"{metric.description}. One line per district, or per device once "
        "devices are selected; long ranges read the per-minute and per-hour rollups.",
        unit=grafana_unit(metric),
        steps=steps(metric, levels),
        custom={
            "drawStyle": "line",
            "lineWidth": 2,
            "fillOpacity": 0,
            "spanNulls": False,
            "showPoints": "never",
            "thresholdsStyle": {"mode": "line+area"},
        },
        options={
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        size=(12, 8),
    )


def _devices(domain: str) -> Json:
    return panel(
        "table",
        "Devices",
        [target(queries.devices_table(domain))],
        description="Registered devices with their state and the age of their data; "
        "each id opens the device in the operations center API.",
        overrides=[
            field_links("device_id", DEVICE_LINK),
            {
                "matcher": {"id": "byName", "options": "state"},
                "properties": [
                    {"id": "mappings", "value": STATE_COLORS},
                    {"id": "custom.cellOptions", "value": {"type": "color-background"}},
                ],
            },
            {
                "matcher": {"id": "byName", "options": "age"},
                "properties": [{"id": "unit", "value": "s"}],
            },
        ],
        options={"showHeader": True, "cellHeight": "sm"},
        size=(12, 10),
    )


def build(domain: str, levels: Sequence[Level] = (), catalog: Catalog = CATALOG) -> Json:
    metrics = list(catalog[domain].values())
    panels: list[Json] = [row("Now")]
    panels += [_stat(m, levels) for m in metrics]
    panels.append(row("Trends"))
    panels += [_trend(m, levels) for m in metrics]
    panels.append(row("Devices and alerts"))
    panels.append(_devices(domain))
    panels.append(alerts.open_table(domain=domain, size=(12, 10)))
    return dashboard(
        f"ioc-{domain}",
        f"IOC · {domain.capitalize()}",
        panels,
        description=f"The {domain} domain: every metric of the catalog, per district and "
        "device, with the devices and open alerts linked to the operations center.",
        tags=["ioc", "ioc-domain", domain],
        variables=[
            query_variable("district", "District", queries.districts_variable(domain)),
            query_variable("device", "Device", queries.devices_variable(domain)),
        ],
        annotations=alerts.alert_annotations(domain),
        links=[
            dashboard_link("Domains", "ioc-domain"),
            dashboard_link("IOC", "ioc"),
            center_link(),
        ],
    )
