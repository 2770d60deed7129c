"""The default correlation policies and procedures, and the outbox routes of incidents.

Frozen history: the rows come from ``m0051_default_incident_policies.json`` beside this
module (data this migration owns, a copy of ``ioc/incidents/*.toml`` as they were when it
was written), never from the live models. Names that exist are skipped.

Routes: the GOC hears critical incidents escalated and closed (a critical alert's own
push already names its incident, so the GOC learns of a critical incident at once).
The escalation webhook's route is declared by the service that drains it, only when
one is configured: a route without a drainer would only pile up rows.
"""

import json
from importlib import resources

from psycopg.types.json import Jsonb

from ioc.storage.db import Connection
from ioc.storage.features import Features

VERSION = 51
NAME = "default incident policies and procedures"

DATA = "m0051_default_incident_policies.json"
GOC_KINDS = ("incident.escalated", "incident.closed")


def data() -> dict[str, list[dict[str, object]]]:
    loaded: dict[str, list[dict[str, object]]] = json.loads(
        resources.files(__package__).joinpath(DATA).read_text("utf-8")
    )
    return loaded


def upgrade(conn: Connection, features: Features) -> None:
    shipped = data()
    for position, policy in enumerate(shipped["policies"]):
        conn.execute(
            "INSERT INTO incident_policies (name, position, body) VALUES (%s, %s, %s)"
            " ON CONFLICT (name) DO NOTHING",
            (policy["name"], position, Jsonb(policy)),
        )
    for procedure in shipped["procedures"]:
        conn.execute(
            "INSERT INTO incident_procedures (name, body) VALUES (%s, %s)"
            " ON CONFLICT (name) DO NOTHING",
            (procedure["name"], Jsonb(procedure)),
        )
    conn.execute(
        "UPDATE outbox_routes SET kinds = kinds || %s::text[]"
        " WHERE target = 'goc' AND NOT kinds && %s::text[]",
        (list(GOC_KINDS), list(GOC_KINDS)),
    )
