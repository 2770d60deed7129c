"""Compression and retention policies, where the database runs them itself.

Without the policy scheduler the IOC enforces retention on its own schedule (see
:mod:`ioc.storage.maintenance`); this records which of the two is in force.
"""

from ioc.storage.db import Connection
from ioc.storage.features import Features

VERSION = 4
NAME = "compression and retention policies"


def upgrade(conn: Connection, features: Features) -> None:
    if features.policies:
        conn.execute(
            """ALTER TABLE readings SET (timescaledb.compress,
                 timescaledb.compress_segmentby = 'device_id, metric',
                 timescaledb.compress_orderby = 'time DESC')"""
        )
        conn.execute("SELECT add_compression_policy('readings', INTERVAL '7 days')")
    mode = "policy" if features.policies else "maintained"
    conn.execute("INSERT INTO storage_settings (key, value) VALUES ('retention_mode', %s)", (mode,))
