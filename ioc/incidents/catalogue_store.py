"""The correlation policies and procedures in the database: the one owner of
``incident_policies`` and ``incident_procedures``, read and replaced as one validated
:class:`~ioc.incidents.models.Catalogue`."""

from __future__ import annotations

from psycopg.types.json import Jsonb

from ioc.incidents.models import Catalogue
from ioc.storage.db import Connection


def load_catalogue(conn: Connection) -> Catalogue:
    """The stored policies (in order) and procedures, validated together."""
    policies = conn.execute("SELECT body FROM incident_policies ORDER BY position, name").fetchall()
    procedures = conn.execute("SELECT body FROM incident_procedures ORDER BY name").fetchall()
    return Catalogue.model_validate(
        {"policies": [r[0] for r in policies], "procedures": [r[0] for r in procedures]}
    )


def catalogue_signature(conn: Connection) -> tuple[object, ...]:
    """Changes whenever a policy or procedure does (cheap: the engine asks often)."""
    row = conn.execute(
        "SELECT (SELECT count(*) FROM incident_policies),"
        " (SELECT max(updated_at) FROM incident_policies),"
        " (SELECT count(*) FROM incident_procedures),"
        " (SELECT max(updated_at) FROM incident_procedures)"
    ).fetchone()
    return tuple(row or ())


def replace_catalogue(conn: Connection, catalogue: Catalogue) -> None:
    """Store ``catalogue`` as the whole set (an admin's edit); incidents keep theirs."""
    conn.execute("DELETE FROM incident_policies")
    conn.execute("DELETE FROM incident_procedures")
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO incident_procedures (name, body) VALUES (%s, %s)",
            [(p.name, Jsonb(p.model_dump(mode="json"))) for p in catalogue.procedures],
        )
        cur.executemany(
            "INSERT INTO incident_policies (name, position, body) VALUES (%s, %s, %s)",
            [
                (p.name, i, Jsonb(p.model_dump(mode="json")))
                for i, p in enumerate(catalogue.policies)
            ],
        )
