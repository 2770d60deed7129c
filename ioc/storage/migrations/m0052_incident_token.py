"""Incidents get a change token: a random number written with every change, so that an
engine may keep an incident it loaded and know, from one row, whether it is still what
the database holds (a counter would not do: a rolled-back change and another replica's
committed one could share a number)."""

from ioc.storage.db import Connection
from ioc.storage.features import Features

VERSION = 52
NAME = "incident change token"


def upgrade(conn: Connection, features: Features) -> None:
    conn.execute("ALTER TABLE incidents ADD COLUMN token bigint NOT NULL DEFAULT 0")
