"""The KPI read model: the queries behind the indicators, over the registry, the
``latest`` table and the per-minute rollup. Read-only; the tables' writers are
:mod:`ioc.storage.registry` and :mod:`ioc.storage.readings`.

"Reporting" is defined here, once (see :data:`REPORTING`), and every figure that
counts reporting devices (the KPIs, the GOC report) reads it from this query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ioc.storage.db import Connection, translated


@dataclass(frozen=True, slots=True)
class Scope:
    """What is asked: a domain, a district, or all (None), at ``now``."""

    now: datetime
    domain: str | None = None
    district: str | None = None


#: A device is reporting when its newest reading is within its domain's expected
#: report interval (``report_interval_s`` in the catalog) AND it has no open alert of
#: an absence ("silent") rule: a device the alert engine calls silent or offline is
#: never counted as reporting, whatever the windows say.
REPORTING = """s.last_seen >= %(now)s - make_interval(secs => e.within_s)
               AND NOT d.device_id = ANY(%(silent)s::text[])"""

_EXPECTED = "unnest(%(domains)s::text[], %(within)s::float8[]) AS e (domain, within_s)"

_DEVICES = f"""
SELECT d.domain, d.district, count(*)::int,
       count(*) FILTER (WHERE d.online)::int,
       count(*) FILTER (WHERE {REPORTING})::int,
       percentile_cont(0.5) WITHIN GROUP
         (ORDER BY extract(epoch FROM %(now)s - s.last_seen)),
       max(extract(epoch FROM %(now)s - s.last_seen))
FROM devices d
JOIN {_EXPECTED} USING (domain)
LEFT JOIN (SELECT device_id, max(time) AS last_seen FROM latest GROUP BY device_id) s
  USING (device_id)
WHERE d.decommissioned_at IS NULL
  AND (%(domain)s::text IS NULL OR d.domain = %(domain)s)
  AND (%(district)s::text IS NULL OR d.district = %(district)s)
GROUP BY d.domain, d.district ORDER BY d.domain, d.district"""

_READINGS = f"""
SELECT d.domain, d.district, l.metric, avg(l.value), min(l.value), max(l.value), count(*)::int,
       count(*) FILTER (WHERE l.value < lim.lo)::int,
       count(*) FILTER (WHERE l.value > lim.hi)::int
FROM latest l
JOIN devices d USING (device_id)
JOIN {_EXPECTED} USING (domain)
LEFT JOIN (SELECT * FROM unnest(%(names)s::text[], %(los)s::float8[], %(his)s::float8[]))
  AS lim (metric, lo, hi) ON lim.metric = l.metric
WHERE d.decommissioned_at IS NULL AND l.time >= %(now)s - make_interval(secs => e.within_s)
  AND (%(domain)s::text IS NULL OR d.domain = %(domain)s)
  AND (%(district)s::text IS NULL OR d.district = %(district)s)
GROUP BY d.domain, d.district, l.metric"""

_EXCURSIONS = """
SELECT d.district, count(*)::int
FROM readings_1m r JOIN devices d USING (device_id)
WHERE r.metric = %(metric)s AND r.bucket >= %(since)s
  AND (r.min < %(lo)s OR r.max > %(hi)s) AND d.domain = %(domain)s
  AND (%(district)s::text IS NULL OR d.district = %(district)s)
GROUP BY d.district"""


def _params(scope: Scope) -> dict[str, Any]:
    return {"now": scope.now, "domain": scope.domain, "district": scope.district}


def _expected(within: Mapping[str, float]) -> dict[str, Any]:
    return {"domains": list(within), "within": list(within.values())}


def device_counts(
    conn: Connection, scope: Scope, within: Mapping[str, float], silent: Sequence[str]
) -> list[tuple[Any, ...]]:
    """(domain, district, registered, online, reporting, median age s, max age s) of
    active devices; ``within`` is each domain's report interval, ``silent`` the devices
    with an open absence alert."""
    params = {**_params(scope), **_expected(within), "silent": list(silent)}
    with translated():
        return conn.execute(_DEVICES, params).fetchall()


def latest_by_metric(
    conn: Connection,
    scope: Scope,
    within: Mapping[str, float],
    limits: Mapping[str, tuple[float | None, float | None]],
) -> list[tuple[Any, ...]]:
    """(domain, district, metric, avg, min, max, devices, below, above) over the
    latest values heard within each domain's report interval; below/above count values
    past ``limits`` (metric → (low, high))."""
    params = {
        **_params(scope),
        **_expected(within),
        "names": list(limits),
        "los": [lo for lo, _ in limits.values()],
        "his": [hi for _, hi in limits.values()],
    }
    with translated():
        return conn.execute(_READINGS, params).fetchall()


def excursion_minutes(
    conn: Connection,
    scope: Scope,
    domain: str,
    metric: str,
    band: tuple[float, float],
    since: datetime,
) -> dict[str, int]:
    """District → minutes since ``since`` in which a device's ``metric`` left ``band``."""
    params = {
        **_params(scope),
        "domain": domain,
        "metric": metric,
        "lo": band[0],
        "hi": band[1],
        "since": since,
    }
    with translated():
        rows = conn.execute(_EXCURSIONS, params).fetchall()
    return {str(district): int(n) for district, n in rows}
