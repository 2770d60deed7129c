"""Where the GOC report schedule stands: the end of the last period enqueued, per center.

The scheduler runs in every ``python -m ioc alerts`` replica; the one holding the
schedule's advisory lock reads this row, enqueues each period since (bounded), and moves
it forward in the same transaction. A restart after downtime therefore catches up the
missed periods, and no period is enqueued twice (the report id is also its outbox key).
"""

from ioc.storage.db import Connection
from ioc.storage.features import Features

VERSION = 31
NAME = "GOC report schedule"


def upgrade(conn: Connection, features: Features) -> None:
    conn.execute(
        """CREATE TABLE goc_report_schedule (
              center_id text PRIMARY KEY,
              last_period_end timestamptz NOT NULL,
              updated_at timestamptz NOT NULL DEFAULT now())"""
    )
