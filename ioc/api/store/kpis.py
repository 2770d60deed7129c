"""Indicators per domain and district, after the government's automatic measurement of
service delivery: is the equipment there and reporting, how fresh is the data, how
quickly are alerts handled, and what do the domain's own readings say.

Current indicators read the ``latest`` table (one row per device and metric), so they
cost the same whatever the history; the cold-chain figure reads 24 h of ``readings_1m``.
Alert figures come from :func:`alert_stats`, supplied by the alert engine's store.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from ioc.storage.db import Connection

#: A device counts as reporting when heard from within this window.
FRESH = timedelta(minutes=15)

#: metric → (low, high): readings past these count as "below" / "above".
LIMITS: dict[str, tuple[float | None, float | None]] = {
    "avg_speed_kmh": (20.0, None),  # congested below 20 km/h
    "load_pct": (None, 100.0),  # over the feeder's rated capacity
    "soil_moisture_pct": (15.0, None),  # dry
    "water_salinity_gl": (None, 2.0),  # saline water
    "fridge_temp_c": (2.0, 8.0),  # cold chain 2–8 °C
}

_DEVICES = """
SELECT d.domain, d.district, count(*)::int,
       count(*) FILTER (WHERE d.online)::int,
       count(s.last_seen) FILTER (WHERE s.last_seen >= %(fresh_since)s)::int,
       percentile_cont(0.5) WITHIN GROUP
         (ORDER BY extract(epoch FROM %(now)s - s.last_seen)),
       max(extract(epoch FROM %(now)s - s.last_seen))
FROM devices d
LEFT JOIN (SELECT device_id, max(time) AS last_seen FROM latest GROUP BY device_id) s
  USING (device_id)
WHERE d.decommissioned_at IS NULL
  AND (%(domain)s::text IS NULL OR d.domain = %(domain)s)
  AND (%(district)s::text IS NULL OR d.district = %(district)s)
GROUP BY d.domain, d.district ORDER BY d.domain, d.district"""

_READINGS = """
SELECT d.domain, d.district, l.metric, avg(l.value), min(l.value), max(l.value), count(*)::int,
       count(*) FILTER (WHERE l.value < lim.lo)::int,
       count(*) FILTER (WHERE l.value > lim.hi)::int
FROM latest l
JOIN devices d USING (device_id)
LEFT JOIN (SELECT * FROM unnest(%(names)s::text[], %(los)s::float8[], %(his)s::float8[]))
  AS lim (metric, lo, hi) ON lim.metric = l.metric
WHERE d.decommissioned_at IS NULL AND l.time >= %(fresh_since)s
  AND (%(domain)s::text IS NULL OR d.domain = %(domain)s)
  AND (%(district)s::text IS NULL OR d.district = %(district)s)
GROUP BY d.domain, d.district, l.metric"""

_EXCURSIONS = """
SELECT d.district, count(*)::int
FROM readings_1m r JOIN devices d USING (device_id)
WHERE r.metric = 'fridge_temp_c' AND r.bucket >= %(day_ago)s
  AND (r.min < 2 OR r.max > 8) AND d.domain = 'health'
  AND (%(district)s::text IS NULL OR d.district = %(district)s)
GROUP BY d.district"""

#: (domain, district) → alert figures; the alert engine's store provides it.
AlertStats = Callable[[Connection, str | None, str | None, datetime], dict[tuple[str, str], Any]]


def _headline(domain: str, metrics: dict[str, dict[str, Any]]) -> dict[str, Any]:
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


def compute(
    conn: Connection,
    now: datetime,
    *,
    domain: str | None = None,
    district: str | None = None,
    alert_stats: AlertStats | None = None,
) -> list[dict[str, Any]]:
    params: dict[str, Any] = {
        "now": now,
        "fresh_since": now - FRESH,
        "day_ago": now - timedelta(days=1),
        "domain": domain,
        "district": district,
        "names": list(LIMITS),
        "los": [lo for lo, _ in LIMITS.values()],
        "his": [hi for _, hi in LIMITS.values()],
    }
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for dom, dis, total, online, reporting, p50, worst in conn.execute(_DEVICES, params):
        groups[(str(dom), str(dis))] = {
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
    for dom, dis, metric, a, lo, hi, n, below, above in conn.execute(_READINGS, params):
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
    excursions: dict[Any, Any] = dict(conn.execute(_EXCURSIONS, params).fetchall())
    alerts = alert_stats(conn, domain, district, now) if alert_stats else {}
    for (dom, dis), group in groups.items():
        group["indicators"] = _headline(dom, group["metrics"])
        if dom == "health":
            group["indicators"]["cold_chain_excursion_minutes_24h"] = int(excursions.get(dis, 0))
        group["alerts"] = alerts.get((dom, dis), empty_alert_stats())
    return list(groups.values())


def empty_alert_stats() -> dict[str, Any]:
    return {
        "open": {"critical": 0, "major": 0, "minor": 0, "info": 0},
        "oldest_open_age_s": None,
        "mean_time_to_ack_s": None,
        "mean_time_to_resolve_s": None,
    }
