"""An API key may be limited to one district, like a person (a district's own script
or wall display)."""

from ioc.storage.db import Connection
from ioc.storage.features import Features

VERSION = 61
NAME = "API keys: optional district scope"


def upgrade(conn: Connection, features: Features) -> None:
    conn.execute("ALTER TABLE api_keys ADD COLUMN district text")
    conn.execute(
        "ALTER TABLE api_keys ADD CONSTRAINT api_keys_district_scopable"
        " CHECK (district IS NULL OR role IN ('viewer', 'operator'))"
    )
