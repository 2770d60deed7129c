"""Keep the per-minute and per-hour rollups current where the database does not.

With continuous aggregates TimescaleDB does this itself. Otherwise ingest logs, per
device, the time range of each batch it inserted (``rollup_invalidations``), and
:func:`refresh` recomputes exactly those buckets from the raw rows, replacing what was
there: a refresh can run any number of times, on any replica, and counts each reading
once. A cluster-wide advisory lock lets one replica refresh at a time.

The same pass keeps the per-district minute rollup (``readings_district_1m``, migration
70) where it exists. It always equals the aggregate, per (domain, district, metric,
minute), of ``readings_1m`` over the devices listed in ``readings_district_members``,
and each pass first brings that list in line with ``devices`` (active devices, their
registered domain and district):

- a device decommissioned (or deleted) leaves its group: its minute rows are subtracted
  from the group's (n, sum); a minute where it held the min or max, or that it alone
  filled, is recomputed from the remaining members or dropped;
- a device that moved district (or domain) leaves the old group that way and its minute
  rows are added to the new one; a newly registered device joins with what it has sent.

Then the minutes that ingest invalidated are recomputed exactly for the groups of the
devices that sent them. The cost follows what changed: the invalidated minutes times
the size of their districts, plus a moved device's own history.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from ioc.storage.db import Connection, translated

log = logging.getLogger("ioc.rollups")

_LOCK_KEY = 0x10C_2011  # "IOC rollups"

_MINUTES_BODY = """
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

_MINUTES = _MINUTES_BODY

# The same, returning the district minutes of members that it rewrote, with a count each.
_MINUTES_KEYED = (
    "WITH written AS ("
    + _MINUTES_BODY
    + """RETURNING device_id, metric, bucket)
SELECT g.domain, g.district, w.metric, w.bucket, count(*)
FROM written w LEFT JOIN readings_district_members g ON g.device_id = w.device_id
GROUP BY 1, 2, 3, 4
"""
)

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


# Who counted where, against who should: new, gone, moved devices.
_MEMBERSHIP = """
SELECT coalesce(d.device_id, g.device_id), g.domain, g.district, d.domain, d.district
FROM (SELECT device_id, domain, district FROM devices WHERE decommissioned_at IS NULL) d
FULL JOIN readings_district_members g ON g.device_id = d.device_id
WHERE g.device_id IS NULL OR d.device_id IS NULL
   OR g.domain <> d.domain OR g.district <> d.district
"""

# The minute rows of devices, summed per (group, metric, minute).
_CONTRIBUTION = """
WITH moving AS (
    SELECT * FROM unnest(%(devices)s::text[], %(domains)s::text[], %(districts)s::text[])
      AS t (device_id, domain, district)
), part AS (
    SELECT v.domain, v.district, m.metric, m.bucket,
           sum(m.n) AS n, sum(m.sum) AS sum, min(m.min) AS min, max(m.max) AS max
    FROM moving v JOIN readings_1m m ON m.device_id = v.device_id
    GROUP BY v.domain, v.district, m.metric, m.bucket
)"""

# Returns the minutes whose min or max may have left with the devices, or that are empty.
_LEAVE = (
    _CONTRIBUTION
    + """
UPDATE readings_district_1m x SET n = x.n - p.n, sum = x.sum - p.sum
FROM part p
WHERE x.domain = p.domain AND x.district = p.district AND x.metric = p.metric
  AND x.bucket = p.bucket
RETURNING x.domain, x.district, x.metric, x.bucket, x.n <= 0 OR p.min <= x.min OR p.max >= x.max
"""
)

_JOIN = (
    _CONTRIBUTION
    + """
INSERT INTO readings_district_1m AS x (bucket, domain, district, metric, n, sum, min, max)
SELECT bucket, domain, district, metric, n, sum, min, max FROM part
ORDER BY domain, district, metric, bucket
ON CONFLICT (domain, district, metric, bucket) DO UPDATE SET
  n = x.n + excluded.n, sum = x.sum + excluded.sum,
  min = least(x.min, excluded.min), max = greatest(x.max, excluded.max)
"""
)

_MEMBERS_SET = """
INSERT INTO readings_district_members (device_id, domain, district)
SELECT * FROM unnest(%(devices)s::text[], %(domains)s::text[], %(districts)s::text[])
ON CONFLICT (device_id) DO UPDATE SET domain = excluded.domain, district = excluded.district
"""

# Each minute recomputed from its group's members: a lateral per key over an array of
# device ids, so the plan probes readings_1m by its key instead of scanning the minute.
_FRESH = """
SELECT k.domain, k.district, k.metric, k.bucket, a.n, a.sum, a.min, a.max
FROM unnest(%(domains)s::text[], %(districts)s::text[], %(metrics)s::text[],
            %(buckets)s::timestamptz[]) AS k (domain, district, metric, bucket)
CROSS JOIN LATERAL (
    SELECT sum(m.n) AS n, sum(m.sum) AS sum, min(m.min) AS min, max(m.max) AS max
    FROM readings_1m m
    WHERE m.device_id = ANY (ARRAY(
            SELECT g.device_id FROM readings_district_members g
            WHERE g.domain = k.domain AND g.district = k.district))
      AND m.metric = k.metric AND m.bucket = k.bucket
) AS a
"""

_PUT = """
INSERT INTO readings_district_1m AS x (domain, district, metric, bucket, n, sum, min, max)
SELECT * FROM unnest(%(domains)s::text[], %(districts)s::text[], %(metrics)s::text[],
                     %(buckets)s::timestamptz[], %(n)s::bigint[], %(sum)s::float8[],
                     %(min)s::float8[], %(max)s::float8[])
ORDER BY 1, 2, 3, 4
ON CONFLICT (domain, district, metric, bucket) DO UPDATE SET
  n = excluded.n, sum = excluded.sum, min = excluded.min, max = excluded.max
"""

# A minute none of the members fills any more.
_DROP = """
DELETE FROM readings_district_1m x
USING unnest(%(domains)s::text[], %(districts)s::text[], %(metrics)s::text[],
             %(buckets)s::timestamptz[]) AS k (domain, district, metric, bucket)
WHERE x.domain = k.domain AND x.district = k.district AND x.metric = k.metric
  AND x.bucket = k.bucket
"""

_KEY_COLUMNS = ("domains", "districts", "metrics", "buckets")
_MOVING = ("devices", "domains", "districts")


_REBUILD = """
INSERT INTO readings_district_1m (bucket, domain, district, metric, n, sum, min, max)
SELECT m.bucket, g.domain, g.district, m.metric, sum(m.n), sum(m.sum), min(m.min), max(m.max)
FROM readings_1m m JOIN readings_district_members g USING (device_id)
GROUP BY g.domain, g.district, m.metric, m.bucket
ORDER BY g.domain, g.district, m.metric, m.bucket
"""


def district_rollup_kept(conn: Connection) -> bool:
    """Whether ``readings_district_1m`` exists and is kept (migration 70, not full TimescaleDB)."""
    row = conn.execute(
        "SELECT value FROM storage_settings WHERE key = 'district_rollup'"
    ).fetchone()
    return row is not None and row[0] == "maintained"


Ranges = dict[tuple[str, str], tuple[datetime, datetime]]


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    return [[r[i] for r in rows] for i in range(width)]


def _arrays(names: tuple[str, ...], rows: list[tuple[Any, ...]]) -> dict[str, list[Any]]:
    """Rows as one array parameter per column, for ``unnest``."""
    return dict(zip(names, _columns(rows, len(names)), strict=True))


def _range_params(ranges: Ranges) -> dict[str, list[Any]]:
    return {
        "devices": [k[0] for k in ranges],
        "metrics": [k[1] for k in ranges],
        "lo": [r[0] for r in ranges.values()],
        "hi": [r[1] for r in ranges.values()],
    }


def _sync_members(conn: Connection) -> list[tuple[Any, ...]]:
    """Bring the members in line with ``devices``; return the minutes to recompute.

    Runs before this pass rewrites any minute, so a leaving device's rows in
    ``readings_1m`` are still exactly those its group counted."""
    changed = conn.execute(_MEMBERSHIP).fetchall()
    if not changed:
        return []
    leaving = [(d, dom, dis) for d, dom, dis, _, _ in changed if dom is not None]
    joining = [(d, dom, dis) for d, _, _, dom, dis in changed if dom is not None]
    recompute: list[tuple[Any, ...]] = []
    if leaving:
        left = conn.execute(_LEAVE, _arrays(_MOVING, leaving)).fetchall()
        recompute = [r[:4] for r in left if r[4]]
        devices = [d for d, _, _ in leaving]
        conn.execute("DELETE FROM readings_district_members WHERE device_id = ANY(%s)", (devices,))
    if joining:
        conn.execute(_JOIN, _arrays(_MOVING, joining))
        conn.execute(_MEMBERS_SET, _arrays(_MOVING, joining))
    log.info(
        "district rollup members changed",
        extra={"left": len(leaving), "joined": len(joining), "recompute": len(recompute)},
    )
    return recompute


def _recompute_districts(conn: Connection, keys: set[tuple[Any, ...]]) -> int:
    """Recompute the given (domain, district, metric, minute) rows; return rows written."""
    if not keys:
        return 0
    fresh = conn.execute(_FRESH, _arrays(_KEY_COLUMNS, sorted(keys))).fetchall()
    filled = [r for r in fresh if r[4] is not None]
    empty = [r for r in fresh if r[4] is None]
    if filled:
        conn.execute(_PUT, _arrays((*_KEY_COLUMNS, "n", "sum", "min", "max"), filled))
    if empty:
        conn.execute(_DROP, _arrays(_KEY_COLUMNS, empty))
    return len(filled)


def rebuild_districts(conn: Connection) -> int:
    """Rebuild the district rollup and its members from scratch (bulk loads, repairs);
    inside the caller's transaction. Returns the rows written."""
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
    conn.execute("DELETE FROM readings_district_members")
    conn.execute("DELETE FROM readings_district_1m")
    conn.execute(
        """INSERT INTO readings_district_members (device_id, domain, district)
           SELECT device_id, domain, district FROM devices WHERE decommissioned_at IS NULL"""
    )
    return conn.execute(_REBUILD).rowcount


def refresh(conn: Connection) -> tuple[int, int] | None:
    """Recompute every invalidated bucket; None if another replica is refreshing.

    Returns (minute buckets, hour buckets) written; district minutes are logged.
    """
    with translated(), conn.transaction():
        got = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (_LOCK_KEY,)).fetchone()
        if not got or not got[0]:
            return None
        # Small, index-driven statements whose row estimates (unnest of arrays) look big:
        # compiling them costs more than running them.
        conn.execute("SET LOCAL jit = off")
        districts = district_rollup_kept(conn)
        keys = set(_sync_members(conn)) if districts else set()
        claimed = conn.execute(
            "DELETE FROM rollup_invalidations RETURNING device_id, metric, lo, hi"
        ).fetchall()
        minutes = hours = 0
        if claimed:
            ranges: Ranges = {}
            for device_id, metric, lo, hi in claimed:
                old = ranges.get((device_id, metric))
                ranges[device_id, metric] = (min(old[0], lo), max(old[1], hi)) if old else (lo, hi)
            params = _range_params(ranges)
            if districts:
                written = conn.execute(_MINUTES_KEYED, params).fetchall()
                minutes = sum(int(r[4]) for r in written)
                keys.update(r[:4] for r in written if r[0] is not None)
            else:
                minutes = conn.execute(_MINUTES, params).rowcount
            hours = conn.execute(_HOURS, params).rowcount
        if keys:
            rows = _recompute_districts(conn, keys)
            log.debug("district minutes refreshed", extra={"district_minutes": rows})
    return minutes, hours
