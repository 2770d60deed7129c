"""What the migrations seed and what the engine adopts at start."""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from ioc.alerts import store
from ioc.incidents import catalogue_store
from ioc.incidents import store as incidents
from ioc.incidents.defaults import default_catalogue
from tests.incidents.support import absence_rule, open_alert

Conn = psycopg.Connection[tuple[object, ...]]


def test_the_migration_seeds_the_shipped_policies_and_procedures(fresh_database_url: str) -> None:
    with psycopg.connect(fresh_database_url) as conn:
        stored = catalogue_store.load_catalogue(conn)
    shipped = default_catalogue()
    assert stored.policies == shipped.policies  # in the order they are tried
    assert sorted(stored.procedures, key=str) == sorted(shipped.procedures, key=str)


def test_open_alerts_no_incident_holds_are_adopted(db: Conn, unique: Callable[[str], str]) -> None:
    rule = absence_rule(db, unique("silent"))
    alert = open_alert(db, rule, unique("dev"), unique("D"))
    # as if it had opened before incidents existed
    db.execute("DELETE FROM incidents WHERE id = %s", (incidents.holder(db, alert.id),))
    assert incidents.holder(db, alert.id) is None
    assert store.adopt_orphans(db) >= 1
    held = incidents.holder(db, alert.id)
    assert held is not None
    assert incidents.load(db, held).alert_ids == (alert.id,)
    assert store.adopt_orphans(db) == 0  # idempotent
