"""Per-minute and per-hour rollups of readings.

With the full TimescaleDB they are continuous aggregates (real-time, refreshed by
policy). Otherwise they are plain tables (hypertables when the extension is there) that
ingest keeps current in the same transaction as the raw rows, from exactly the rows it
inserted, so a redelivered message is never counted twice. Either way the columns are
the same: bucket, device_id, metric, n, sum, min, max, avg.
"""

from ioc.storage.db import Connection
from ioc.storage.features import Features

VERSION = 3
NAME = "per-minute and per-hour rollups"

ROLLUPS = {"readings_1m": "1 minute", "readings_1h": "1 hour"}
_CHUNKS = {"readings_1m": "7 days", "readings_1h": "90 days"}
_POLICY = {  # start_offset, end_offset, schedule_interval
    "readings_1m": ("3 hours", "1 minute", "1 minute"),
    "readings_1h": ("3 days", "1 hour", "30 minutes"),
}


def upgrade(conn: Connection, features: Features) -> None:
    mode = "continuous_aggregate" if features.continuous_aggregates else "maintained"
    for name, width in ROLLUPS.items():
        if mode == "continuous_aggregate":
            conn.execute(
                f"""CREATE MATERIALIZED VIEW {name}
                      WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
                    SELECT time_bucket(INTERVAL '{width}', time) AS bucket, device_id, metric,
                           count(*) AS n, sum(value) AS sum, min(value) AS min,
                           max(value) AS max, avg(value) AS avg
                    FROM readings GROUP BY bucket, device_id, metric
                    WITH NO DATA"""
            )
            start, end, every = _POLICY[name]
            conn.execute(
                f"""SELECT add_continuous_aggregate_policy('{name}',
                      start_offset => INTERVAL '{start}', end_offset => INTERVAL '{end}',
                      schedule_interval => INTERVAL '{every}')"""
            )
            continue
        conn.execute(
            f"""CREATE TABLE {name} (
                  bucket timestamptz NOT NULL,
                  device_id text NOT NULL,
                  metric text NOT NULL,
                  n bigint NOT NULL,
                  sum double precision NOT NULL,
                  min double precision NOT NULL,
                  max double precision NOT NULL,
                  avg double precision NOT NULL,
                  CONSTRAINT {name}_key UNIQUE (device_id, metric, bucket))"""
        )
        if features.timescaledb:
            chunk = _CHUNKS[name]
            conn.execute(
                f"SELECT create_hypertable('{name}', by_range('bucket', INTERVAL '{chunk}'))"
            )
        else:
            conn.execute(f"CREATE INDEX {name}_bucket ON {name} (bucket)")
    conn.execute("INSERT INTO storage_settings (key, value) VALUES ('rollup_mode', %s)", (mode,))
