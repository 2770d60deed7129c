"""Device registry, and the time_bucket shim for plain PostgreSQL."""

from ioc.storage.db import Connection
from ioc.storage.features import Features

VERSION = 1
NAME = "device registry"

#: The domains as they stood when this migration was written (frozen history: a
#: migration never reads application modules).
DOMAINS = ("traffic", "energy", "agriculture", "health")


def upgrade(conn: Connection, features: Features) -> None:
    if not features.timescaledb:
        # Same bucket origin as TimescaleDB's time_bucket (Monday 2000-01-03), so every
        # query reads the same with or without the extension.
        conn.execute(
            """CREATE OR REPLACE FUNCTION time_bucket(bucket_width interval, ts timestamptz)
               RETURNS timestamptz LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
               $$ SELECT date_bin(bucket_width, ts, timestamptz '2000-01-03 00:00:00+00') $$"""
        )
    domains = ", ".join(f"'{d}'" for d in DOMAINS)
    conn.execute(
        f"""CREATE TABLE devices (
              device_id text PRIMARY KEY CHECK (device_id ~ '^[A-Za-z0-9_-]{{1,64}}$'),
              domain text NOT NULL CHECK (domain IN ({domains})),
              name text NOT NULL DEFAULT '',
              district text NOT NULL DEFAULT '',
              lat double precision CHECK (lat BETWEEN -90 AND 90),
              lon double precision CHECK (lon BETWEEN -180 AND 180),
              created_at timestamptz NOT NULL DEFAULT now(),
              decommissioned_at timestamptz,
              online boolean,
              status_at timestamptz)"""
    )
    conn.execute("CREATE INDEX devices_domain_district ON devices (domain, district)")
    conn.execute(
        """CREATE TABLE storage_settings (
              key text PRIMARY KEY,
              value text NOT NULL)"""
    )
