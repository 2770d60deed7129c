"""The default alert rules of each domain (``ioc/alerts/defaults.toml``).

Runs once; afterwards the rules are the operators' to edit through the API.
"""

from ioc.alerts.defaults import default_rules
from ioc.alerts.rules import insert_rules
from ioc.storage.db import Connection
from ioc.storage.features import Features

VERSION = 12
NAME = "default alert rules"


def upgrade(conn: Connection, features: Features) -> None:
    insert_rules(conn, default_rules())
