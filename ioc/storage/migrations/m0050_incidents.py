"""Incidents: correlated alerts as one problem, with their procedure steps, history and
escalations, and the correlation policies and procedures they follow.

The database keeps the guarantees that must hold with two engine replicas:

- one open (or acknowledged) incident per correlation key: a partial unique index;
- every alert in exactly one incident: ``incident_alerts`` is keyed by the alert;
- each escalation tier once per incident: ``incident_escalations`` is keyed by both.

``incident_alerts`` keeps each alert as its incident last saw it (state, severity,
times): correlation compares a transition with that, not with the ``alerts`` row, which
the same transaction has already changed. Policies and procedures are stored as the
JSON bodies an admin edits (validated by the application), tried in ``position`` order.
"""

from ioc.storage.db import Connection
from ioc.storage.features import Features

VERSION = 50
NAME = "incidents"

_SEVERITY = "CHECK ({} IN ('info', 'minor', 'major', 'critical'))"


def upgrade(conn: Connection, features: Features) -> None:
    conn.execute(
        f"""CREATE TABLE incidents (
              id bigserial PRIMARY KEY,
              key text NOT NULL,
              policy text NOT NULL,
              title text NOT NULL,
              state text NOT NULL
                CHECK (state IN ('open', 'acknowledged', 'resolved', 'closed')),
              severity text NOT NULL {_SEVERITY.format("severity")},
              opened_at timestamptz NOT NULL,
              since timestamptz NOT NULL,
              window_s double precision NOT NULL,
              districts text[] NOT NULL DEFAULT '{{}}',
              domains text[] NOT NULL DEFAULT '{{}}',
              device_count integer NOT NULL DEFAULT 0,
              alert_count integer NOT NULL DEFAULT 0,
              acknowledged_at timestamptz,
              acknowledged_by text,
              resolved_at timestamptz,
              resolved_by text,
              closed_at timestamptz,
              closed_by text,
              summary text,
              procedure text,
              updated_at timestamptz NOT NULL DEFAULT now())"""
    )
    conn.execute(
        "CREATE UNIQUE INDEX incidents_one_open ON incidents (key)"
        " WHERE state IN ('open', 'acknowledged')"
    )
    conn.execute("CREATE INDEX incidents_key ON incidents (key, id DESC)")
    conn.execute("CREATE INDEX incidents_opened ON incidents (opened_at DESC, id DESC)")
    conn.execute(
        "CREATE INDEX incidents_live ON incidents (state, severity)"
        " WHERE state IN ('open', 'acknowledged')"
    )
    conn.execute(
        f"""CREATE TABLE incident_alerts (
              alert_id bigint PRIMARY KEY,
              incident_id bigint NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
              rule_id bigint NOT NULL,
              rule_name text NOT NULL,
              subject text NOT NULL,
              device_id text,
              domain text NOT NULL,
              district text,
              severity text NOT NULL {_SEVERITY.format("severity")},
              state text NOT NULL CHECK (state IN ('firing', 'acknowledged', 'resolved')),
              since timestamptz NOT NULL,
              at timestamptz NOT NULL,
              value double precision)"""
    )
    conn.execute("CREATE INDEX incident_alerts_incident ON incident_alerts (incident_id)")
    conn.execute(
        """CREATE TABLE incident_history (
              id bigserial PRIMARY KEY,
              incident_id bigint NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
              at timestamptz NOT NULL,
              action text NOT NULL,
              by text NOT NULL,
              note text NOT NULL DEFAULT '')"""
    )
    conn.execute("CREATE INDEX incident_history_incident ON incident_history (incident_id, id)")
    conn.execute(
        """CREATE TABLE incident_steps (
              incident_id bigint NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
              n integer NOT NULL CHECK (n >= 1),
              text text NOT NULL,
              role text,
              target_min double precision,
              done_at timestamptz,
              done_by text,
              note text,
              PRIMARY KEY (incident_id, n))"""
    )
    conn.execute(
        """CREATE TABLE incident_escalations (
              incident_id bigint NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
              tier text NOT NULL,
              at timestamptz NOT NULL,
              PRIMARY KEY (incident_id, tier))"""
    )
    conn.execute(
        """CREATE TABLE incident_policies (
              name text PRIMARY KEY,
              position integer NOT NULL,
              body jsonb NOT NULL,
              updated_at timestamptz NOT NULL DEFAULT now())"""
    )
    conn.execute(
        """CREATE TABLE incident_procedures (
              name text PRIMARY KEY,
              body jsonb NOT NULL,
              updated_at timestamptz NOT NULL DEFAULT now())"""
    )
