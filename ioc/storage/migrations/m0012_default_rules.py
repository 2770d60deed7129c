"""The default alert rules of each domain, as they were when this migration was written.

Frozen history: the rows come from ``m0012_default_rules.json`` beside this module (data
this migration owns), never from the live rule models, so a later change to the models
cannot change what an old migration does. Runs once; afterwards the rules are the
operators' to edit through the API. Names that exist are skipped.
"""

import json
from importlib import resources

from psycopg.types.json import Jsonb

from ioc.storage.db import Connection
from ioc.storage.features import Features

VERSION = 12
NAME = "default alert rules"

DATA = "m0012_default_rules.json"
_JSON_COLUMNS = ("scope", "params", "labels", "sop")
_COLUMNS = (
    "name",
    "kind",
    "domain",
    "metric",
    "severity",
    "scope",
    "params",
    "enabled",
    "labels",
    "description",
    "sop",
)


def rules() -> list[dict[str, object]]:
    text = resources.files(__package__).joinpath(DATA).read_text("utf-8")
    loaded: list[dict[str, object]] = json.loads(text)["rules"]
    return loaded


def upgrade(conn: Connection, features: Features) -> None:
    placeholders = ", ".join(["%s"] * len(_COLUMNS))
    for rule in rules():
        conn.execute(
            f"INSERT INTO alert_rules ({', '.join(_COLUMNS)}) VALUES ({placeholders})"
            " ON CONFLICT (name) DO NOTHING",
            [Jsonb(rule[c]) if c in _JSON_COLUMNS else rule[c] for c in _COLUMNS],
        )
