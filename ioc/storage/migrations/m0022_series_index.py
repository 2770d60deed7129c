"""A covering index for district series on the per-minute rollup.

A district's 24 h of 1-minute buckets reads every rollup row of its devices; those rows
are spread over the whole table (ingest writes all devices interleaved in time), so a
heap scan touches a page per few rows. With (metric, device_id, bucket) INCLUDE (n, sum,
min, max) the query is an index-only scan over each device's contiguous range. Only
where the IOC keeps the rollups as tables; continuous aggregates are left to TimescaleDB.
"""

from ioc.storage.db import Connection
from ioc.storage.features import Features

VERSION = 22
NAME = "covering index for series on readings_1m"


def upgrade(conn: Connection, features: Features) -> None:
    if features.continuous_aggregates:
        return
    conn.execute(
        "CREATE INDEX IF NOT EXISTS readings_1m_series ON readings_1m"
        " (metric, device_id, bucket) INCLUDE (n, sum, min, max)"
    )
