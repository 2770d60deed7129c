"""Reads of ``readings``, ``latest`` and the rollups: bucketed series, latest values.

The writes belong to :mod:`ioc.storage.readings` (ingest) and :mod:`ioc.storage.rollups`;
this module owns every query that reads them for the API, the engine and the wall.

Series: raw readings or the rollups, chosen by the bucket asked.
A bucket that is a whole number of hours reads ``readings_1h``, of minutes
``readings_1m``, anything finer the raw ``readings``; the rollups are re-aggregated
exactly (sum of sums over sum of counts), so a 5-minute bucket from ``readings_1m``
equals one computed from raw data. Buckets are aligned as ``time_bucket`` aligns them;
the first is the one containing ``start``. The number of buckets per request is capped.

District series (every active device of a district) at a whole number of minutes, but
not of hours, read the per-district minute rollup ``readings_district_1m`` where it is
kept (:mod:`ioc.storage.rollups`): 1,440 rows for 24 h instead of one row per device and
minute. Where it is not (full TimescaleDB, or before migration 70) they read
``readings_1m`` over the district's devices, as before; both give the same figures.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ioc.errors import InvalidInput
from ioc.storage.db import Connection
from ioc.storage.rollups import district_rollup_kept

_BUCKET = re.compile(r"^([1-9][0-9]{0,5})(s|m|h|d)$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: Buckets tried, finest first, when the caller asks for none.
LADDER = ("1s", "10s", "30s", "1m", "5m", "15m", "1h", "6h", "1d", "7d")
#: Target number of points when the bucket is chosen automatically.
AUTO_POINTS = 720


def parse_bucket(text: str) -> int:
    """``"5m"`` → 300 seconds."""
    m = _BUCKET.match(text)
    if not m:
        raise InvalidInput(f"bucket {text!r} must look like 30s, 1m, 15m, 1h or 1d")
    return int(m.group(1)) * _UNIT[m.group(2)]


def auto_bucket(span: timedelta) -> str:
    for b in LADDER:
        if span.total_seconds() / parse_bucket(b) <= AUTO_POINTS:
            return b
    return LADDER[-1]


def source_for(bucket_s: int) -> str:
    if bucket_s % 3600 == 0:
        return "readings_1h"
    if bucket_s % 60 == 0:
        return "readings_1m"
    return "readings"


@dataclass(frozen=True, slots=True)
class Window:
    start: datetime
    end: datetime
    bucket: str
    bucket_s: int
    source: str


def plan(start: datetime, end: datetime, bucket: str | None, max_buckets: int) -> Window:
    span = max(end - start, timedelta(0))  # an empty range is an empty series
    chosen = bucket or auto_bucket(span)
    seconds = parse_bucket(chosen)
    count = math.ceil(span.total_seconds() / seconds)
    if count > max_buckets:
        raise InvalidInput(
            f"{count} buckets of {chosen} asked; at most {max_buckets}: widen the bucket"
        )
    return Window(start, end, chosen, seconds, source_for(seconds))


def _query(w: Window, where: str) -> str:
    width = f"INTERVAL '{w.bucket_s} seconds'"
    if w.source == "readings":
        return f"""SELECT time_bucket({width}, r.time) AS t, count(*)::bigint, avg(r.value),
                          min(r.value), max(r.value)
                   FROM readings r {where}
                     AND r.time >= time_bucket({width}, %(start)s) AND r.time < %(end)s
                   GROUP BY t ORDER BY t"""
    native = {"readings_1m": 60, "readings_1h": 3600}[w.source] == w.bucket_s
    bucket = "r.bucket" if native else f"time_bucket({width}, r.bucket)"  # no work to redo
    return f"""SELECT {bucket} AS t, sum(r.n)::bigint,
                      sum(r.sum) / nullif(sum(r.n), 0), min(r.min), max(r.max)
               FROM {w.source} r {where}
                 AND r.bucket >= time_bucket({width}, %(start)s) AND r.bucket < %(end)s
               GROUP BY t ORDER BY t"""


def _points(rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [{"t": t, "n": int(n), "avg": a, "min": lo, "max": hi} for t, n, a, lo, hi in rows]


def device_series(conn: Connection, device_id: str, metric: str, w: Window) -> list[dict[str, Any]]:
    sql = _query(w, "WHERE r.device_id = %(device)s AND r.metric = %(metric)s")
    params = {"device": device_id, "metric": metric, "start": w.start, "end": w.end}
    return _points(conn.execute(sql, params).fetchall())


def _district_query(w: Window) -> str:
    width = f"INTERVAL '{w.bucket_s} seconds'"
    bucket = "r.bucket" if w.bucket_s == 60 else f"time_bucket({width}, r.bucket)"
    return f"""SELECT {bucket} AS t, sum(r.n)::bigint,
                      sum(r.sum) / nullif(sum(r.n), 0), min(r.min), max(r.max)
               FROM readings_district_1m r
               WHERE r.domain = %(domain)s AND r.district = %(district)s
                 AND r.metric = %(metric)s
                 AND r.bucket >= time_bucket({width}, %(start)s) AND r.bucket < %(end)s
               GROUP BY t ORDER BY t"""


def district_series(
    conn: Connection,
    domain: str,
    district: str,
    metric: str,
    w: Window,
    *,
    district_rollup: bool = True,
) -> list[dict[str, Any]]:
    """One metric over every active device of a district (the wall's district charts).

    ``district_rollup=False`` reads the per-device rollups even where the district
    rollup is kept (the benchmark compares the two).
    """
    params = {
        "domain": domain,
        "district": district,
        "metric": metric,
        "start": w.start,
        "end": w.end,
    }
    if w.source == "readings_1m" and district_rollup and district_rollup_kept(conn):
        return _points(conn.execute(_district_query(w), params).fetchall())
    where = """WHERE r.device_id = ANY (ARRAY(
                   SELECT device_id FROM devices
                   WHERE domain = %(domain)s AND district = %(district)s
                     AND decommissioned_at IS NULL))
               AND r.metric = %(metric)s"""
    return _points(conn.execute(_query(w, where), params).fetchall())


def latest_values(conn: Connection, device_id: str) -> dict[str, dict[str, Any]]:
    """``{metric: {"value", "ts"}}`` of one device (empty when it never sent any)."""
    rows = conn.execute(
        "SELECT metric, value, time FROM latest WHERE device_id = %s ORDER BY metric",
        (device_id,),
    ).fetchall()
    return {str(m): {"value": v, "ts": t} for m, v, t in rows}


def recent_latest(
    conn: Connection, device_ids: Sequence[str], since: datetime
) -> list[tuple[str, float, str, float]]:
    """(device, epoch seconds, metric, value) of latest values newer than ``since``."""
    rows = conn.execute(
        "SELECT device_id, time, metric, value FROM latest"
        " WHERE device_id = ANY(%s) AND time > %s ORDER BY device_id, time",
        (list(device_ids), since),
    ).fetchall()
    return [(str(r[0]), r[1].timestamp(), str(r[2]), float(r[3])) for r in rows]
