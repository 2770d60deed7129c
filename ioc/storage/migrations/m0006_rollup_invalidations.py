"""Invalidation log for rollups the IOC maintains itself.

Ingest records, per batch, device and metric, the time range it inserted; a refresher recomputes
the affected buckets from the raw rows and replaces them (the design of TimescaleDB's
continuous aggregates). Recomputing instead of adding makes a refresh idempotent, and
keeps the rollup work off ingest's hot path.
"""

from ioc.storage.db import Connection
from ioc.storage.features import Features

VERSION = 6
NAME = "rollup invalidation log"


def upgrade(conn: Connection, features: Features) -> None:
    conn.execute(
        """CREATE TABLE rollup_invalidations (
              device_id text NOT NULL,
              metric text NOT NULL,
              lo timestamptz NOT NULL,
              hi timestamptz NOT NULL)"""
    )
