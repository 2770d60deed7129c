"""Outbox rows name their subject (an alert, an incident, the report series), so that a
target receives one subject's items in the order they were written: the drainer claims a
row only when no earlier row of its subject for that target is still pending.

Existing rows are given their subject from what they carry; a row left without one
(written by an older replica during an upgrade) is delivered unordered, as before.
"""

from ioc.storage.db import Connection
from ioc.storage.features import Features

VERSION = 30
NAME = "outbox subject ordering"


def upgrade(conn: Connection, features: Features) -> None:
    conn.execute("ALTER TABLE outbox ADD COLUMN subject text")
    conn.execute(
        """UPDATE outbox SET subject = CASE
               WHEN payload ? 'id' AND kind LIKE '%.%'
                 THEN split_part(kind, '.', 1) || ':' || (payload->>'id')
               ELSE kind END"""
    )
    conn.execute(
        "CREATE INDEX outbox_subject_pending ON outbox (target, subject, id)"
        " WHERE state = 'pending'"
    )
