"""Indicators per domain and district, after the government's automatic measurement of
service delivery: is the equipment there and reporting, how fresh is the data, how
quickly are alerts handled, and what do the domain's own readings say.

Current indicators read the ``latest`` table (one row per device and metric), so they
cost the same whatever the history; the cold-chain figure reads 24 h of ``readings_1m``;
the alert figures are one aggregate of the alert store
(:func:`ioc.kpis.service_levels.alert_figures`), the incident figures (open by severity, mean
time to acknowledge and to resolve) one of the incident store
(:func:`ioc.kpis.service_levels.incident_figures`). What "reporting" means is
:data:`ioc.kpis.store.REPORTING`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from ioc.alerts import store as alerts
from ioc.kpis import service_levels, store
from ioc.kpis.store import Scope
from ioc.storage.db import Connection, translated
from ioc.telemetry.catalog import CATALOG
from ioc.types import DOMAINS

#: Mean times to acknowledge and to resolve are taken over alerts started this recently.
ALERT_WINDOW = timedelta(days=7)

#: The vaccine cold chain, °C.
COLD_CHAIN = (2.0, 8.0)

#: metric → (low, high): readings past these count as "below" / "above".
LIMITS: dict[str, tuple[float | None, float | None]] = {
    "avg_speed_kmh": (20.0, None),  # congested below 20 km/h
    "load_pct": (None, 100.0),  # over the feeder's rated capacity
    "soil_moisture_pct": (15.0, None),  # dry
    "water_salinity_gl": (None, 2.0),  # saline water
    "fridge_temp_c": COLD_CHAIN,
}


def report_intervals() -> dict[str, float]:
    """Domain → seconds within which its devices are expected to be heard from."""
    return {d: CATALOG.report_interval_s(d) for d in DOMAINS}


def headline(domain: str, metrics: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The domain's own indicators, from its per-metric figures."""

    def pct(metric: str, side: str) -> float | None:
        m = metrics.get(metric)
        return None if not m or not m["devices"] else round(100 * m[side] / m["devices"], 1)

    def avg(metric: str) -> float | None:
        m = metrics.get(metric)
        return None if not m else round(float(m["avg"]), 2)

    if domain == "traffic":
        return {
            "avg_speed_kmh": avg("avg_speed_kmh"),
            "congestion_pct": pct("avg_speed_kmh", "below"),
        }
    if domain == "energy":
        load = metrics.get("load_pct")
        return {
            "load_pct_avg": avg("load_pct"),
            "load_pct_max": None if not load else round(float(load["max"]), 2),
            "overloaded_feeders": 0 if not load else load["above"],
        }
    if domain == "agriculture":
        return {
            "soil_moisture_pct_avg": avg("soil_moisture_pct"),
            "dry_fields_pct": pct("soil_moisture_pct", "below"),
            "water_salinity_gl_avg": avg("water_salinity_gl"),
            "saline_sites_pct": pct("water_salinity_gl", "above"),
        }
    fridge = metrics.get("fridge_temp_c")
    return {
        "fridges_out_of_range": 0 if not fridge else fridge["below"] + fridge["above"],
        "fridge_temp_c_max": None if not fridge else round(float(fridge["max"]), 2),
    }


def _group(row: tuple[Any, ...]) -> dict[str, Any]:
    dom, dis, total, online, reporting, p50, worst = row
    return {
        "domain": dom,
        "district": dis,
        "devices": {
            "registered": total,
            "online": online,
            "reporting": reporting,
            "reporting_pct": round(100 * reporting / total, 1) if total else None,
        },
        "freshness_s": {
            "median": None if p50 is None else round(float(p50), 1),
            "max": None if worst is None else round(float(worst), 1),
        },
        "metrics": {},
    }


def compute(
    conn: Connection, now: datetime, *, domain: str | None = None, district: str | None = None
) -> list[dict[str, Any]]:
    """One dict per (domain, district) with active devices, in domain, district order."""
    scope = Scope(now, domain, district)
    within = report_intervals()
    silent = alerts.silent_devices(conn)
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for row in store.device_counts(conn, scope, within, silent):
        groups[(str(row[0]), str(row[1]))] = _group(row)
    for dom, dis, metric, a, lo, hi, n, below, above in store.latest_by_metric(
        conn, scope, within, LIMITS
    ):
        group = groups.get((str(dom), str(dis)))
        if group is not None:
            group["metrics"][metric] = {
                "avg": a,
                "min": lo,
                "max": hi,
                "devices": n,
                "below": below,
                "above": above,
            }
    excursions = store.excursion_minutes(
        conn, scope, "health", "fridge_temp_c", COLD_CHAIN, now - timedelta(days=1)
    )
    figures = service_levels.alert_figures(conn, now, now - ALERT_WINDOW, domain, district)
    with translated():
        held = service_levels.incident_figures(conn, now - ALERT_WINDOW, domain, district)
    for (dom, dis), group in groups.items():
        group["indicators"] = headline(dom, group["metrics"])
        if dom == "health":
            group["indicators"]["cold_chain_excursion_minutes_24h"] = excursions.get(dis, 0)
        group["alerts"] = figures.get((dom, dis), service_levels.empty_alert_figures())
        group["incidents"] = held.get((dom, dis), service_levels.empty_incident_figures())
    return list(groups.values())
