"""Route the GOC indicator report (kind ``goc.report``) to the outbox target "goc"."""

from ioc.storage.db import Connection
from ioc.storage.features import Features

VERSION = 21
NAME = "GOC report route"


def upgrade(conn: Connection, features: Features) -> None:
    conn.execute(
        """UPDATE outbox_routes SET kinds = array_append(kinds, 'goc.report')
           WHERE target = 'goc' AND NOT ('goc.report' = ANY (kinds))"""
    )
