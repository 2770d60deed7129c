"""Alert rules, alerts and their history.

At most one open alert per (rule, subject) is enforced by the database with a partial
unique index, whatever the number of engine replicas. ``subject`` is the device id for
device rules and ``district:<name>`` / ``domain:<name>`` for group rules (``device_id``
is then null). Rules are not foreign keys of alerts: deleting a rule resolves its open
alerts and keeps their history (``rule_name`` is copied for that reason).
"""

from ioc.storage.db import Connection
from ioc.storage.features import Features

VERSION = 10
NAME = "alert rules, alerts, alert history"


def upgrade(conn: Connection, features: Features) -> None:
    conn.execute(
        """CREATE TABLE alert_rules (
              id bigserial PRIMARY KEY,
              name text NOT NULL UNIQUE,
              kind text NOT NULL,
              domain text NOT NULL,
              metric text,
              severity text NOT NULL
                CHECK (severity IN ('info', 'minor', 'major', 'critical')),
              scope jsonb NOT NULL DEFAULT '{}',
              params jsonb NOT NULL,
              enabled boolean NOT NULL DEFAULT true,
              labels jsonb NOT NULL DEFAULT '{}',
              description text NOT NULL DEFAULT '',
              sop jsonb NOT NULL DEFAULT '[]',
              created_at timestamptz NOT NULL DEFAULT now(),
              updated_at timestamptz NOT NULL DEFAULT now())"""
    )
    conn.execute(
        """CREATE TABLE alerts (
              id bigserial PRIMARY KEY,
              rule_id bigint NOT NULL,
              rule_name text NOT NULL,
              subject text NOT NULL,
              device_id text,
              domain text NOT NULL,
              district text,
              metric text,
              severity text NOT NULL
                CHECK (severity IN ('info', 'minor', 'major', 'critical')),
              state text NOT NULL CHECK (state IN ('firing', 'acknowledged', 'resolved')),
              started_at timestamptz NOT NULL,
              acknowledged_at timestamptz,
              acknowledged_by text,
              resolved_at timestamptz,
              resolved_by text,
              value double precision,
              labels jsonb NOT NULL DEFAULT '{}',
              sop jsonb NOT NULL DEFAULT '[]',
              CHECK ((state = 'resolved') = (resolved_at IS NOT NULL)))"""
    )
    conn.execute(
        "CREATE UNIQUE INDEX alerts_one_open ON alerts (rule_id, subject) WHERE state <> 'resolved'"
    )
    conn.execute("CREATE INDEX alerts_started ON alerts (started_at DESC)")
    conn.execute("CREATE INDEX alerts_open ON alerts (state) WHERE state <> 'resolved'")
    conn.execute(
        """CREATE TABLE alert_history (
              id bigserial PRIMARY KEY,
              alert_id bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
              at timestamptz NOT NULL,
              action text NOT NULL CHECK (action IN ('opened', 'acknowledged', 'resolved')),
              by text NOT NULL,
              value double precision,
              note text)"""
    )
    conn.execute("CREATE INDEX alert_history_alert ON alert_history (alert_id, id)")
