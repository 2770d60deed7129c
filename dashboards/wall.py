"""The control-room wall: one screen, readable from across the room, kiosk-friendly.

Top: each domain's headline indicators. Middle: the map of devices coloured by state
(the worst open alert wins over offline, offline over stale), and the open alerts by
severity with their age. Bottom: data freshness and the ingest pipeline's health.
Open it with ``?kiosk`` on the wall; it refreshes itself every 10 s.
"""

from __future__ import annotations

from collections.abc import Sequence

from dashboards import alerts, queries
from dashboards.levels import Level, steps
from dashboards.model import (
    DEVICE_LINK,
    SEVERITY_COLORS,
    Json,
    bargauge_options,
    center_link,
    dashboard,
    dashboard_link,
    field_links,
    panel,
    stat_options,
    target,
    thresholds,
)
from dashboards.queries import STALE_AFTER, literal
from dashboards.units import grafana_unit, title
from ioc.telemetry.catalog import CATALOG, Catalog
from ioc.types import DOMAINS, SEVERITIES, severity_rank

#: The indicators each domain shows on the wall (catalog names; the rest are on the
#: domain's own dashboard).
HEADLINES: dict[str, tuple[str, ...]] = {
    "traffic": ("avg_speed_kmh", "vehicle_count"),
    "energy": ("load_pct", "frequency_hz"),
    "agriculture": ("soil_moisture_pct", "water_level_cm"),
    "health": ("fridge_temp_c", "bed_occupancy_pct"),
}

#: Alert severities that colour a marker (info does not): code = rank + 2, above offline.
_MARKED = [s for s in SEVERITIES if severity_rank(s) > 0]
#: Map marker colours, by ``state_code`` (higher wins).
MAP_STATES = (
    (0, "online", "green"),
    (1, "stale", "purple"),
    (2, "offline", "#808080"),
    *((severity_rank(s) + 2, s, SEVERITY_COLORS[s]) for s in _MARKED),
)


def kpi_sql(domain: str, metrics: Sequence[str]) -> str:
    columns = [f"({queries.latest_mean(m, domain, scoped=False).strip()}) AS {m}" for m in metrics]
    online = f"""(SELECT count(*) FROM devices d
    JOIN ({queries.last_seen()}) ls USING (device_id)
    WHERE d.domain = {literal(domain)} AND d.decommissioned_at IS NULL
      AND d.online IS NOT FALSE AND ls.last_seen > now() - INTERVAL '{STALE_AFTER}')
    AS devices_online"""
    return "\nSELECT " + ",\n       ".join([*columns, online])


def _kpis(domain: str, levels: Sequence[Level], catalog: Catalog) -> Json:
    metrics = [catalog[domain][m] for m in HEADLINES[domain]]
    overrides = [
        {
            "matcher": {"id": "byName", "options": m.name},
            "properties": [
                {"id": "displayName", "value": title(m)},
                {"id": "unit", "value": grafana_unit(m)},
                {"id": "thresholds", "value": steps(m, levels)},
                {"id": "decimals", "value": 1},
            ],
        }
        for m in metrics
    ]
    overrides.append(
        {
            "matcher": {"id": "byName", "options": "devices_online"},
            "properties": [
                {"id": "displayName", "value": "Devices online"},
                {"id": "color", "value": {"mode": "fixed", "fixedColor": "text"}},
            ],
        }
    )
    return panel(
        "stat",
        domain.capitalize(),
        [target(kpi_sql(domain, HEADLINES[domain]))],
        description=f"{domain.capitalize()}: mean of the devices' latest values (last "
        f"{STALE_AFTER}), coloured by the alert rules' levels; devices reporting.",
        overrides=overrides,
        options=stat_options(
            color_mode="background", text_mode="value_and_name", orientation="vertical"
        ),
        size=(6, 6),
    )


def map_sql() -> str:
    whens = " ".join(f"WHEN {literal(s)} THEN {code}" for code, s, _ in reversed(MAP_STATES[3:]))
    rank = f"CASE a.severity {whens} END"
    return f"""
SELECT d.device_id, d.name, d.domain, d.district, d.lat AS latitude, d.lon AS longitude,
       greatest(coalesce(al.worst, 0),
                CASE WHEN d.online IS FALSE THEN 2
                     WHEN ls.last_seen IS NULL
                       OR ls.last_seen < now() - INTERVAL '{STALE_AFTER}' THEN 1
                     ELSE 0 END) AS state_code,
       ls.last_seen
FROM devices d
LEFT JOIN ({queries.last_seen()}) ls USING (device_id)
LEFT JOIN (SELECT a.device_id, max({rank}) AS worst FROM alerts a
           WHERE a.state <> 'resolved' AND a.device_id IS NOT NULL
           GROUP BY a.device_id) al USING (device_id)
WHERE d.decommissioned_at IS NULL AND d.lat IS NOT NULL AND d.lon IS NOT NULL"""


def _map() -> Json:
    return panel(
        "geomap",
        "Devices",
        [target(map_sql())],
        description="Every device with a position, coloured by its worst open alert, "
        "else offline (grey) or stale (purple), else online (green). A marker's "
        "tooltip links to the device in the operations center API.",
        steps={
            "mode": "absolute",
            "steps": [{"color": c, "value": None if v == 0 else v} for v, _, c in MAP_STATES],
        },
        mappings=[
            {
                "type": "value",
                "options": {str(v): {"text": name, "index": v} for v, name, _ in MAP_STATES},
            }
        ],
        overrides=[field_links("device_id", DEVICE_LINK)],
        options={
            "view": {"id": "fit", "allLayers": True, "lat": 0, "lon": 0, "zoom": 10},
            "controls": {"showZoom": True, "mouseWheelZoom": False, "showAttribution": True},
            "basemap": {"type": "default", "name": "Basemap"},
            "tooltip": {"mode": "details"},
            "layers": [
                {
                    "type": "markers",
                    "name": "Devices",
                    "tooltip": True,
                    "location": {
                        "mode": "coords",
                        "latitude": "latitude",
                        "longitude": "longitude",
                    },
                    "config": {
                        "showLegend": True,
                        "style": {
                            "color": {"field": "state_code", "fixed": "green"},
                            "size": {"fixed": 9},
                            "opacity": 0.9,
                            "symbol": {"mode": "fixed", "fixed": "img/icons/marker/circle.svg"},
                        },
                    },
                }
            ],
        },
        size=(14, 16),
    )


def _freshness() -> Json:
    return panel(
        "bargauge",
        "Data freshness",
        [target(queries.freshness_by_domain())],
        description="Seconds since each domain's freshest reading.",
        unit="s",
        steps=thresholds((None, "green"), (60, "orange"), (300, "red")),
        options=bargauge_options("lcd", showUnfilled=True),
        size=(8, 6),
    )


def _ingest() -> Json:
    return panel(
        "timeseries",
        "Ingest rate",
        [target(queries.ingest_rate(), fmt="time_series")],
        description="Readings stored per second.",
        unit="short",
        custom={"drawStyle": "bars", "fillOpacity": 60, "lineWidth": 1},
        options={"legend": {"showLegend": False, "displayMode": "hidden", "placement": "bottom"}},
        size=(8, 6),
    )


def _rejections() -> Json:
    return panel(
        "bargauge",
        "Rejected input by reason",
        [target(queries.rejections_total())],
        description="Dead-lettered readings and messages in the time range, per reason.",
        steps=thresholds((None, "green"), (1, "orange")),
        options=bargauge_options("basic", fields="/^rejected$/"),
        size=(8, 6),
    )


def build(levels: Sequence[Level] = (), catalog: Catalog = CATALOG) -> Json:
    panels: list[Json] = [_kpis(d, levels, catalog) for d in DOMAINS]
    panels += [
        _map(),
        alerts.by_severity(size=(10, 5)),
        alerts.oldest_open(size=(10, 4)),
        alerts.open_table(size=(10, 7)),
        _freshness(),
        _ingest(),
        _rejections(),
    ]
    board = dashboard(
        "ioc-wall",
        "IOC · Control-room wall",
        panels,
        description="One screen for the control-room wall (open with ?kiosk): domain "
        "indicators, devices on the map, open alerts, data freshness, ingest health.",
        tags=["ioc", "ioc-wall"],
        annotations=alerts.alert_annotations(),
        links=[
            dashboard_link("Domains", "ioc-domain"),
            dashboard_link("IOC", "ioc"),
            center_link(),
        ],
        time_from="now-1h",
        refresh="10s",
    )
    board["timepicker"] = {"hidden": True}
    return board
