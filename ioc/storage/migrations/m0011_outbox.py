"""The notification outbox: one row per (notification, target), each with its own
delivery state, so a slow or failing target never holds back the others.

Rows are written in the same transaction as the alert change they announce; drainers
claim them with ``FOR UPDATE SKIP LOCKED`` (several drainers never deliver one row twice
at once) and retry with exponential backoff and jitter.
"""

from ioc.storage.db import Connection
from ioc.storage.features import Features

VERSION = 11
NAME = "notification outbox"


def upgrade(conn: Connection, features: Features) -> None:
    conn.execute(
        """CREATE TABLE outbox (
              id bigserial PRIMARY KEY,
              created_at timestamptz NOT NULL DEFAULT now(),
              target text NOT NULL,
              kind text NOT NULL,
              key text NOT NULL,
              payload jsonb NOT NULL,
              state text NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'delivered', 'dead')),
              attempts integer NOT NULL DEFAULT 0,
              next_attempt_at timestamptz NOT NULL DEFAULT now(),
              last_error text,
              delivered_at timestamptz,
              UNIQUE (target, key))"""
    )
    conn.execute(
        "CREATE INDEX outbox_due ON outbox (target, next_attempt_at, id) WHERE state = 'pending'"
    )
    # Routing is data: which target hears which notification. Services declare the
    # targets they drain at start (webhook, grafana); "goc" is always routed so that
    # critical alerts and the indicator reports (ioc.goc.schedule) wait for the GOC
    # connector even before it is configured.
    conn.execute(
        """CREATE TABLE outbox_routes (
              target text PRIMARY KEY,
              min_severity text NOT NULL DEFAULT 'info'
                CHECK (min_severity IN ('info', 'minor', 'major', 'critical')),
              kinds text[] NOT NULL
                DEFAULT '{alert.opened,alert.acknowledged,alert.resolved}',
              enabled boolean NOT NULL DEFAULT true)"""
    )
    conn.execute(
        "INSERT INTO outbox_routes (target, min_severity, kinds) VALUES ('goc', 'critical',"
        " '{alert.opened,alert.acknowledged,alert.resolved,goc.report}')"
    )
