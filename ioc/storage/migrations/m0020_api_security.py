"""API keys (hashed), the audit log, and device broker credentials (hashed)."""

from ioc.storage.db import Connection
from ioc.storage.features import Features

VERSION = 20
NAME = "api keys, audit log, device credentials"


def upgrade(conn: Connection, features: Features) -> None:
    conn.execute(
        """CREATE TABLE api_keys (
              id bigserial PRIMARY KEY,
              prefix text NOT NULL,
              key_hash text NOT NULL UNIQUE,
              role text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin', 'goc')),
              name text NOT NULL DEFAULT '',
              created_at timestamptz NOT NULL DEFAULT now(),
              revoked_at timestamptz,
              last_used_at timestamptz)"""
    )
    conn.execute(
        """CREATE TABLE audit_log (
              id bigserial PRIMARY KEY,
              time timestamptz NOT NULL DEFAULT now(),
              actor text NOT NULL,
              role text,
              action text NOT NULL,
              target text NOT NULL DEFAULT '',
              remote text,
              detail jsonb NOT NULL DEFAULT '{}'::jsonb)"""
    )
    conn.execute("CREATE INDEX audit_log_time ON audit_log (time)")
    conn.execute("CREATE INDEX audit_log_target ON audit_log (target, time)")
    conn.execute(
        """CREATE TABLE device_credentials (
              device_id text PRIMARY KEY REFERENCES devices (device_id),
              username text NOT NULL,
              password_hash text NOT NULL,
              created_at timestamptz NOT NULL DEFAULT now(),
              revoked_at timestamptz)"""
    )
