"""A per-district minute rollup, so a district's 24 h of 1-minute buckets reads 1,440 rows.

Read from ``readings_1m`` a district chart touches every minute row of every device of
the district (200 devices → 288,000 rows for 24 h). ``readings_district_1m`` keeps one
row per (domain, district, metric, minute): n, sum, min, max of the readings of the
district's member devices, re-aggregated exactly by readers (sum of sums over sum of
counts). ``readings_district_members`` records which device counted in which
(domain, district): the refresher compares it with ``devices`` on every pass and moves a
device's minute rows out of its old group (decommissioned, or moved) and into its new
one, so the rollup always equals the live computation over active devices.

Where the IOC keeps the rollups (TimescaleDB Apache edition, plain PostgreSQL) the
refresher maintains this table in the same pass that recomputes the minute buckets, from
the same invalidation log. It is a hypertable when the extension is there (7-day chunks,
like ``readings_1m``, and the same retention).

Full TimescaleDB (continuous aggregates): no district rollup; district series keep
reading ``readings_1m`` as before (``storage_settings.district_rollup = 'none'``). Why:
a continuous aggregate over a join with ``devices`` (hierarchical ones with joins since
TimescaleDB 2.11) materialises each bucket with the device's district at refresh time
and is not invalidated when ``devices`` changes (timescale/timescaledb#8011 asks for
that), so a decommissioned device would stay counted; and a refresher-kept table needs
the invalidation log, which ingest writes only where the IOC keeps the rollups. Neither
could be tested on a machine that runs the Apache edition.

The rollup is filled from what ``readings_1m`` holds now; invalidations still pending
are applied by the next refresh.
"""

from ioc.storage.db import Connection
from ioc.storage.features import Features

VERSION = 70
NAME = "per-district minute rollup"


def upgrade(conn: Connection, features: Features) -> None:
    if features.continuous_aggregates:
        conn.execute("INSERT INTO storage_settings (key, value) VALUES ('district_rollup', 'none')")
        return
    conn.execute(
        """CREATE TABLE readings_district_1m (
              bucket timestamptz NOT NULL,
              domain text NOT NULL,
              district text NOT NULL,
              metric text NOT NULL,
              n bigint NOT NULL,
              sum double precision NOT NULL,
              min double precision NOT NULL,
              max double precision NOT NULL,
              CONSTRAINT readings_district_1m_key PRIMARY KEY (domain, district, metric, bucket)
                INCLUDE (n, sum, min, max))"""
    )
    if features.timescaledb:
        conn.execute(
            "SELECT create_hypertable('readings_district_1m',"
            " by_range('bucket', INTERVAL '7 days'))"
        )
    else:
        conn.execute("CREATE INDEX readings_district_1m_bucket ON readings_district_1m (bucket)")
    conn.execute(
        """CREATE TABLE readings_district_members (
              device_id text PRIMARY KEY,
              domain text NOT NULL,
              district text NOT NULL)"""
    )
    conn.execute(
        "CREATE INDEX readings_district_members_group"
        " ON readings_district_members (domain, district)"
    )
    conn.execute(
        """INSERT INTO readings_district_members (device_id, domain, district)
           SELECT device_id, domain, district FROM devices WHERE decommissioned_at IS NULL"""
    )
    conn.execute(
        """INSERT INTO readings_district_1m (bucket, domain, district, metric, n, sum, min, max)
           SELECT m.bucket, g.domain, g.district, m.metric,
                  sum(m.n), sum(m.sum), min(m.min), max(m.max)
           FROM readings_1m m JOIN readings_district_members g USING (device_id)
           GROUP BY g.domain, g.district, m.metric, m.bucket"""
    )
    conn.execute(
        "INSERT INTO storage_settings (key, value) VALUES ('district_rollup', 'maintained')"
    )
