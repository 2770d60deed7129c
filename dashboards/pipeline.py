"""Pipeline health: ingest rate, rejections by reason, lag, devices online.

For whoever keeps the pipe running rather than the city: is data arriving, what is
being refused and why, how far behind each domain is, and which devices went quiet.
"""

from __future__ import annotations

from dashboards import queries
from dashboards.model import (
    DEVICE_LINK,
    Json,
    bargauge_options,
    center_link,
    dashboard,
    dashboard_link,
    field_links,
    panel,
    row,
    stat_options,
    target,
    thresholds,
)


def build() -> Json:
    panels = [
        row("Now"),
        panel(
            "stat",
            "Ingest rate (last 5 min)",
            [target(queries.ingest_rate_now())],
            description="Readings stored per second over the last five minutes.",
            unit="short",
            options=stat_options(color_mode="value", text_mode="value", graph_mode="area"),
            size=(6, 5),
        ),
        panel(
            "bargauge",
            "Devices online",
            [target(queries.online_by_domain())],
            description="Devices reporting (online and fresh) out of those registered.",
            options=bargauge_options("gradient", fields="/^online$/"),
            size=(6, 5),
        ),
        panel(
            "bargauge",
            "Lag per domain",
            [target(queries.lag_by_domain())],
            description="Age of each domain's freshest and stalest device data, in seconds.",
            unit="s",
            steps=thresholds((None, "green"), (60, "orange"), (300, "red")),
            options=bargauge_options("basic"),
            size=(12, 5),
        ),
        row("Over time"),
        panel(
            "timeseries",
            "Ingest rate",
            [target(queries.ingest_rate(), fmt="time_series")],
            description="Readings stored per second, from the per-minute rollup.",
            unit="short",
            custom={"drawStyle": "line", "fillOpacity": 20, "lineWidth": 2},
            size=(12, 8),
        ),
        panel(
            "timeseries",
            "Rejections by reason",
            [target(queries.rejections_by_reason(), fmt="time_series")],
            description="Dead-lettered input per reason (readings, samples or messages).",
            unit="short",
            custom={"drawStyle": "bars", "fillOpacity": 70, "stacking": {"mode": "normal"}},
            size=(12, 8),
        ),
        panel(
            "timeseries",
            "Device status changes",
            [target(queries.devices_online_over_time(), fmt="time_series")],
            description="Devices coming online and dropping off (MQTT status and last will).",
            unit="short",
            custom={"drawStyle": "bars", "fillOpacity": 70, "stacking": {"mode": "normal"}},
            size=(12, 8),
        ),
        panel(
            "table",
            "Rejections in range",
            [target(queries.rejections_total())],
            description="Per reason: how much was refused, and when last.",
            size=(12, 8),
        ),
        row("Detail"),
        panel(
            "table",
            "Latest dead letters",
            [target(queries.recent_dead_letters())],
            description="The 50 most recent dead letters; the device id opens the device.",
            overrides=[field_links("device_id", DEVICE_LINK)],
            size=(14, 10),
        ),
        panel(
            "table",
            "Offline or silent devices",
            [target(queries.offline_devices())],
            description="Devices offline by status, or without a reading for "
            f"{queries.STALE_AFTER}; the id opens the device.",
            overrides=[field_links("device_id", DEVICE_LINK)],
            size=(10, 10),
        ),
    ]
    return dashboard(
        "ioc-pipeline",
        "IOC · Pipeline health",
        panels,
        description="Ingest rate, rejected input by reason, lag per domain, devices online.",
        tags=["ioc", "ioc-ops"],
        links=[dashboard_link("IOC", "ioc"), center_link()],
        time_from="now-3h",
    )
