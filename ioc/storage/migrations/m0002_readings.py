"""Readings (narrow hypertable), latest values, dead letters, device status history."""

from ioc.storage.db import Connection
from ioc.storage.features import Features

VERSION = 2
NAME = "readings, latest values, dead letters, device events"


def upgrade(conn: Connection, features: Features) -> None:
    conn.execute(
        """CREATE TABLE readings (
              time timestamptz NOT NULL,
              device_id text NOT NULL,
              metric text NOT NULL,
              value double precision NOT NULL,
              CONSTRAINT readings_key UNIQUE (device_id, metric, time))"""
    )
    if features.timescaledb:
        conn.execute("SELECT create_hypertable('readings', by_range('time', INTERVAL '1 day'))")
    else:
        conn.execute("CREATE INDEX readings_time ON readings (time)")

    conn.execute(
        """CREATE TABLE latest (
              device_id text NOT NULL,
              metric text NOT NULL,
              time timestamptz NOT NULL,
              value double precision NOT NULL,
              PRIMARY KEY (device_id, metric))"""
    )

    conn.execute(
        """CREATE TABLE dead_letters (
              id bigserial PRIMARY KEY,
              received_at timestamptz NOT NULL DEFAULT now(),
              topic text NOT NULL,
              device_id text,
              reason text NOT NULL,
              count integer NOT NULL DEFAULT 1,
              detail text NOT NULL,
              payload bytea,
              payload_bytes integer NOT NULL)"""
    )
    conn.execute("CREATE INDEX dead_letters_received ON dead_letters (received_at)")
    conn.execute("CREATE INDEX dead_letters_reason ON dead_letters (reason, received_at)")
    conn.execute("CREATE INDEX dead_letters_device ON dead_letters (device_id, received_at)")

    conn.execute(
        """CREATE TABLE device_events (
              time timestamptz NOT NULL,
              device_id text NOT NULL,
              online boolean NOT NULL,
              received_at timestamptz NOT NULL DEFAULT now())"""
    )
    conn.execute("CREATE INDEX device_events_device ON device_events (device_id, time DESC)")
