"""The event log behind the live stream: alerts opened/acknowledged/resolved, devices
going on/offline. Writers insert and NOTIFY in the same transaction
(:func:`ioc.storage.events.publish`); the API's ``/api/v1/events`` LISTENs and replays
from ``Last-Event-ID``."""

from ioc.storage.db import Connection
from ioc.storage.features import Features

VERSION = 5
NAME = "event log for the live stream"


def upgrade(conn: Connection, features: Features) -> None:
    conn.execute(
        """CREATE TABLE events (
              id bigserial PRIMARY KEY,
              time timestamptz NOT NULL DEFAULT now(),
              kind text NOT NULL,
              payload jsonb NOT NULL)"""
    )
    conn.execute("CREATE INDEX events_time ON events (time)")
