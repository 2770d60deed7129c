"""Person accounts, server-side sign-in sessions, security events, and the audit log's
display name of who acted (a person's name or an API key's name)."""

from ioc.storage.db import Connection
from ioc.storage.features import Features

VERSION = 60
NAME = "people, sessions, security events"


def upgrade(conn: Connection, features: Features) -> None:
    conn.execute(
        """CREATE TABLE users (
              id bigserial PRIMARY KEY,
              login text NOT NULL,
              name text NOT NULL DEFAULT '',
              role text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin', 'goc')),
              district text,
              password_hash text NOT NULL,
              created_at timestamptz NOT NULL DEFAULT now(),
              password_changed_at timestamptz NOT NULL DEFAULT now(),
              disabled_at timestamptz,
              CHECK (district IS NULL OR role IN ('viewer', 'operator')))"""
    )
    conn.execute("CREATE UNIQUE INDEX users_login ON users (lower(login))")
    conn.execute(
        """CREATE TABLE sessions (
              token_hash text PRIMARY KEY,
              user_id bigint REFERENCES users (id),
              key_id bigint REFERENCES api_keys (id),
              created_at timestamptz NOT NULL DEFAULT now(),
              expires_at timestamptz NOT NULL,
              revoked_at timestamptz,
              remote text,
              CHECK ((user_id IS NULL) <> (key_id IS NULL)))"""
    )
    conn.execute("CREATE INDEX sessions_user ON sessions (user_id) WHERE revoked_at IS NULL")
    conn.execute("CREATE INDEX sessions_expiry ON sessions (expires_at)")
    conn.execute(
        """CREATE TABLE security_events (
              id bigserial PRIMARY KEY,
              time timestamptz NOT NULL DEFAULT now(),
              event text NOT NULL,
              client text,
              actor text,
              path text NOT NULL DEFAULT '',
              detail jsonb NOT NULL DEFAULT '{}'::jsonb)"""
    )
    conn.execute("CREATE INDEX security_events_time ON security_events (time)")
    conn.execute("ALTER TABLE audit_log ADD COLUMN actor_name text")
