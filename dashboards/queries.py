"""The SQL behind the panels, in one place, written against the storage schema.

Grafana expands its macros before the query reaches PostgreSQL: ``$__timeFilter(col)``,
``$__interval_ms`` (the panel's bucket width in milliseconds), and the template
variables ``$district``/``$device`` (quoted, comma-separated; ``'__all'`` for All).

Long ranges read the rollups. :func:`series` unions three branches, raw readings,
``readings_1m`` and ``readings_1h``, each guarded by a constant condition on
``$__interval_ms``; PostgreSQL drops the branches whose guard is false before touching
a table, so a 30-day panel scans hourly rows and a 15-minute panel raw ones. Averages
are weighted by each bucket's ``n`` so rollups combine exactly.
"""

from __future__ import annotations

#: Past this age a device's data counts as stale on the wall and the pipeline board.
STALE_AFTER = "5 minutes"


def district_filter(alias: str = "d") -> str:
    return f"('__all' IN ($district) OR {alias}.district IN ($district))"


DISTRICT = district_filter()
DEVICE = "('__all' IN ($device) OR d.device_id IN ($device))"

BUCKET = "$__interval_ms * INTERVAL '1 millisecond'"

#: Branches of the rollup union: (table, time, value sum, count, time filter, guard). A
#: rollup bucket that starts less than its width before the range still holds readings
#: inside it, so it is read too: the first bucket on screen is as complete as from raw.
_SOURCES = (
    (
        "readings_1h",
        "bucket",
        "sum",
        "n",
        "bucket > $__timeFrom()::timestamptz - INTERVAL '1 hour' AND bucket <= $__timeTo()",
        "$__interval_ms >= 3600000",
    ),
    (
        "readings_1m",
        "bucket",
        "sum",
        "n",
        "bucket > $__timeFrom()::timestamptz - INTERVAL '1 minute' AND bucket <= $__timeTo()",
        "$__interval_ms >= 60000 AND $__interval_ms < 3600000",
    ),
    ("readings", "time", "value", "1", "$__timeFilter(time)", "$__interval_ms < 60000"),
)


def literal(text: str) -> str:
    """A SQL string literal (metric and domain names come from the catalog)."""
    return "'" + text.replace("'", "''") + "'"


def rollup_source(metric: str) -> str:
    """``(t, device_id, s, n)`` rows of one metric from the table that fits the interval."""
    branches = [
        f"SELECT {col} AS t, device_id, {s} AS s, {n} AS n FROM {table}\n"
        f"   WHERE {guard} AND metric = {literal(metric)} AND {window}"
        for table, col, s, n, window, guard in _SOURCES
    ]
    return "\n  UNION ALL\n  ".join(branches)


def series(metric: str, domain: str) -> str:
    """Weighted average per bucket: one series per district, or per device once the
    ``$device`` variable narrows the view."""
    return f"""
WITH src AS (
  {rollup_source(metric)}
)
SELECT time_bucket({BUCKET}, src.t) AS time,
       CASE WHEN '__all' IN ($device) THEN d.district ELSE d.device_id END AS metric,
       sum(src.s) / sum(src.n) AS value
FROM src JOIN devices d USING (device_id)
WHERE d.domain = {literal(domain)} AND {DISTRICT} AND {DEVICE}
GROUP BY 1, 2
ORDER BY 1, 2"""


def latest_mean(metric: str, domain: str, *, scoped: bool = True) -> str:
    """Mean of the fresh latest values of one metric over the domain's devices."""
    scope = f" AND {DISTRICT} AND {DEVICE}" if scoped else ""
    return f"""
SELECT avg(l.value) AS {metric}
FROM latest l JOIN devices d USING (device_id)
WHERE l.metric = {literal(metric)} AND d.domain = {literal(domain)}
  AND d.decommissioned_at IS NULL AND l.time > now() - INTERVAL '{STALE_AFTER}'{scope}"""


def devices_variable(domain: str) -> str:
    return f"""
SELECT d.device_id FROM devices d
WHERE d.domain = {literal(domain)} AND d.decommissioned_at IS NULL AND {DISTRICT}
ORDER BY 1"""


def districts_variable(domain: str) -> str:
    return f"""
SELECT DISTINCT d.district FROM devices d
WHERE d.domain = {literal(domain)} AND d.decommissioned_at IS NULL
ORDER BY 1"""


def last_seen() -> str:
    """Per device: when its freshest reading was taken (``max(latest.time)``)."""
    return "SELECT device_id, max(time) AS last_seen FROM latest GROUP BY device_id"


def device_state(alias_last_seen: str = "ls.last_seen") -> str:
    """Text state of a device for the map and tables: offline, stale, or online."""
    return f"""CASE WHEN d.online IS FALSE THEN 'offline'
            WHEN {alias_last_seen} IS NULL
              OR {alias_last_seen} < now() - INTERVAL '{STALE_AFTER}' THEN 'stale'
            ELSE 'online' END"""


def devices_table(domain: str) -> str:
    """The domain's devices with their state and last reading time, for a linked table."""
    return f"""
SELECT d.device_id, d.name, d.district, {device_state()} AS state,
       ls.last_seen, now() - ls.last_seen AS age
FROM devices d LEFT JOIN ({last_seen()}) ls USING (device_id)
WHERE d.domain = {literal(domain)} AND d.decommissioned_at IS NULL AND {DISTRICT} AND {DEVICE}
ORDER BY state DESC, d.device_id"""


def freshness_by_domain() -> str:
    """Seconds since the freshest reading of each domain."""
    return """
SELECT d.domain AS domain, extract(epoch FROM now() - max(l.time)) AS seconds
FROM latest l JOIN devices d USING (device_id)
WHERE d.decommissioned_at IS NULL
GROUP BY d.domain
ORDER BY d.domain"""


def online_by_domain() -> str:
    return f"""
SELECT d.domain AS domain,
       count(*) FILTER (WHERE d.online IS NOT FALSE
                          AND ls.last_seen > now() - INTERVAL '{STALE_AFTER}') AS online,
       count(*) AS registered
FROM devices d LEFT JOIN ({last_seen()}) ls USING (device_id)
WHERE d.decommissioned_at IS NULL
GROUP BY d.domain
ORDER BY d.domain"""


def ingest_rate() -> str:
    """Readings stored per second, from the per-minute rollup (raw rows per bucket)."""
    return f"""
SELECT time_bucket(greatest({BUCKET}, INTERVAL '1 minute'), bucket) AS time,
       sum(n)::float8 / extract(epoch FROM greatest({BUCKET}, INTERVAL '1 minute'))
         AS "readings/s"
FROM readings_1m
WHERE $__timeFilter(bucket)
GROUP BY 1
ORDER BY 1"""


def ingest_rate_now() -> str:
    return """
SELECT coalesce(sum(n), 0)::float8 / 300 AS "readings/s"
FROM readings_1m
WHERE bucket >= now() - INTERVAL '5 minutes'"""


def rejections_by_reason() -> str:
    return f"""
SELECT time_bucket(greatest({BUCKET}, INTERVAL '1 minute'), received_at) AS time,
       reason AS metric, sum(count) AS value
FROM dead_letters
WHERE $__timeFilter(received_at)
GROUP BY 1, 2
ORDER BY 1, 2"""


def rejections_total() -> str:
    return """
SELECT reason, sum(count) AS rejected, max(received_at) AS last_at
FROM dead_letters
WHERE $__timeFilter(received_at)
GROUP BY reason
ORDER BY rejected DESC"""


def recent_dead_letters() -> str:
    return """
SELECT received_at, reason, device_id, topic, count, detail, payload_bytes
FROM dead_letters
WHERE $__timeFilter(received_at)
ORDER BY received_at DESC
LIMIT 50"""


def lag_by_domain() -> str:
    """Age of the freshest and of the stalest device's data, per domain."""
    return """
SELECT d.domain AS domain,
       extract(epoch FROM now() - max(ls.last_seen)) AS "freshest s",
       extract(epoch FROM now() - min(ls.last_seen)) AS "stalest s"
FROM devices d JOIN (SELECT device_id, max(time) AS last_seen FROM latest GROUP BY 1) ls
  USING (device_id)
WHERE d.decommissioned_at IS NULL
GROUP BY d.domain
ORDER BY d.domain"""


def devices_online_over_time() -> str:
    """Status changes per bucket, from the device status history."""
    return f"""
SELECT time_bucket(greatest({BUCKET}, INTERVAL '1 minute'), time) AS time,
       CASE WHEN online THEN 'came online' ELSE 'went offline' END AS metric,
       count(*) AS value
FROM device_events
WHERE $__timeFilter(time)
GROUP BY 1, 2
ORDER BY 1, 2"""


def offline_devices() -> str:
    return f"""
SELECT d.device_id, d.domain, d.district, {device_state()} AS state, ls.last_seen
FROM devices d LEFT JOIN ({last_seen()}) ls USING (device_id)
WHERE d.decommissioned_at IS NULL
  AND (d.online IS FALSE OR ls.last_seen IS NULL
       OR ls.last_seen < now() - INTERVAL '{STALE_AFTER}')
ORDER BY ls.last_seen NULLS FIRST
LIMIT 100"""
