"""Keep the per-minute and per-hour rollups current where the database does not.

With continuous aggregates TimescaleDB does this itself. Otherwise ingest logs, per
device, the time range of each batch it inserted (``rollup_invalidations``), and
:func:`refresh` recomputes exactly those buckets from the raw rows, replacing what was
there: a refresh can run any number of times, on any replica, and counts each reading
once. A cluster-wide advisory lock lets one replica refresh at a time.
"""

from __future__ import annotations

from datetime import datetime

from ioc.storage.db import Connection, translated

_LOCK_KEY = 0x10C_2011  # "IOC rollups"

_MINUTES = """
WITH ranges AS (
    SELECT device_id, metric, time_bucket(INTERVAL '1 minute', lo) AS lo,
           time_bucket(INTERVAL '1 minute', hi) + INTERVAL '1 minute' AS hi
    FROM unnest(%(devices)s::text[], %(metrics)s::text[], %(lo)s::timestamptz[],
                %(hi)s::timestamptz[]) AS t (device_id, metric, lo, hi)
)
INSERT INTO readings_1m (bucket, device_id, metric, n, sum, min, max, avg)
SELECT time_bucket(INTERVAL '1 minute', x.time) AS b, x.device_id, x.metric,
       count(*), sum(x.value), min(x.value), max(x.value), avg(x.value)
FROM readings x JOIN ranges r
  ON x.device_id = r.device_id AND x.metric = r.metric AND x.time >= r.lo AND x.time < r.hi
GROUP BY x.device_id, x.metric, b ORDER BY x.device_id, x.metric, b
ON CONFLICT (device_id, metric, bucket) DO UPDATE SET
  n = excluded.n, sum = excluded.sum, min = excluded.min, max = excluded.max, avg = excluded.avg
"""

# Hours are rebuilt from the minutes just written: 60 rows per hour, not every reading.
_HOURS = """
WITH ranges AS (
    SELECT device_id, metric, time_bucket(INTERVAL '1 hour', lo) AS lo,
           time_bucket(INTERVAL '1 hour', hi) + INTERVAL '1 hour' AS hi
    FROM unnest(%(devices)s::text[], %(metrics)s::text[], %(lo)s::timestamptz[],
                %(hi)s::timestamptz[]) AS t (device_id, metric, lo, hi)
)
INSERT INTO readings_1h (bucket, device_id, metric, n, sum, min, max, avg)
SELECT time_bucket(INTERVAL '1 hour', m.bucket) AS b, m.device_id, m.metric,
       sum(m.n), sum(m.sum), min(m.min), max(m.max), sum(m.sum) / sum(m.n)
FROM readings_1m m JOIN ranges r
  ON m.device_id = r.device_id AND m.metric = r.metric AND m.bucket >= r.lo AND m.bucket < r.hi
GROUP BY m.device_id, m.metric, b ORDER BY m.device_id, m.metric, b
ON CONFLICT (device_id, metric, bucket) DO UPDATE SET
  n = excluded.n, sum = excluded.sum, min = excluded.min, max = excluded.max, avg = excluded.avg
"""


def refresh(conn: Connection) -> tuple[int, int] | None:
    """Recompute every invalidated bucket; None if another replica is refreshing.

    Returns (minute buckets, hour buckets) written.
    """
    with translated(), conn.transaction():
        got = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (_LOCK_KEY,)).fetchone()
        if not got or not got[0]:
            return None
        claimed = conn.execute(
            "DELETE FROM rollup_invalidations RETURNING device_id, metric, lo, hi"
        ).fetchall()
        if not claimed:
            return 0, 0
        ranges: dict[tuple[str, str], tuple[datetime, datetime]] = {}
        for device_id, metric, lo, hi in claimed:
            old = ranges.get((device_id, metric))
            ranges[device_id, metric] = (min(old[0], lo), max(old[1], hi)) if old else (lo, hi)
        params = {
            "devices": [k[0] for k in ranges],
            "metrics": [k[1] for k in ranges],
            "lo": [r[0] for r in ranges.values()],
            "hi": [r[1] for r in ranges.values()],
        }
        minutes = conn.execute(_MINUTES, params).rowcount
        hours = conn.execute(_HOURS, params).rowcount
    return minutes, hours
