"""Retention, where the database does not enforce it itself.

With TimescaleDB's policy scheduler (full edition) retention policies are installed and
the database runs them. Otherwise (Apache edition, plain PostgreSQL) ingest's
housekeeping thread (:mod:`ioc.storage.housekeeping`) calls :meth:`Maintenance.maybe_run`;
a cluster-wide advisory lock makes sure only one replica does the work: ``drop_chunks``
on hypertables, ``DELETE`` on plain tables.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ioc.config import Settings
from ioc.errors import Unavailable
from ioc.storage.db import Connection, translated
from ioc.storage.features import detect

log = logging.getLogger("ioc.maintenance")

_LOCK_KEY = 0x10C_4E7E  # "IOC retention"
_DEAD_LETTER_DAYS = 30
_EVENT_DAYS = 30


def retention_days(settings: Settings) -> dict[str, tuple[str, int]]:
    """Table → (time column, days kept)."""
    return {
        "readings": ("time", settings.retention_raw_days),
        "readings_1m": ("bucket", settings.retention_1m_days),
        "readings_1h": ("bucket", settings.retention_1h_days),
        "readings_district_1m": ("bucket", settings.retention_1m_days),
        "dead_letters": ("received_at", _DEAD_LETTER_DAYS),
        "device_events": ("time", settings.retention_raw_days),
        "events": ("time", _EVENT_DAYS),
    }


def _hypertables(conn: Connection) -> set[str]:
    rows = conn.execute("SELECT hypertable_name FROM timescaledb_information.hypertables")
    return {str(r[0]) for r in rows.fetchall()}


def _absent(conn: Connection, tables: list[str]) -> set[str]:
    """Tables this schema does not have (the district rollup under full TimescaleDB)."""
    rows = conn.execute(
        "SELECT t FROM unnest(%s::text[]) AS t WHERE to_regclass(t) IS NULL", (tables,)
    )
    return {str(r[0]) for r in rows.fetchall()}


def enforce_retention(conn: Connection, settings: Settings) -> dict[str, int]:
    """Drop data older than its retention; return rows/chunks removed per table."""
    features = detect(conn)
    hypertables = _hypertables(conn) if features.timescaledb else set()
    removed: dict[str, int] = {}
    tables = retention_days(settings)
    absent = _absent(conn, list(tables))
    for table, (column, days) in tables.items():
        if table in absent:
            continue
        if table in hypertables and not (features.policies and table.startswith("readings")):
            rows = conn.execute(
                "SELECT count(*) FROM drop_chunks(%s::regclass,"
                " older_than => %s * INTERVAL '1 day')",
                (table, days),
            ).fetchone()
        elif table not in hypertables:
            cur = conn.execute(
                f"DELETE FROM {table} WHERE {column} < now() - %s * INTERVAL '1 day'", (days,)
            )
            rows = (cur.rowcount,)
        else:
            continue
        removed[table] = int(rows[0]) if rows else 0
    return removed


def ensure_policies(conn: Connection, settings: Settings) -> None:
    """With the policy scheduler, let the database keep the retention we are configured for."""
    for table in ("readings", "readings_1m", "readings_1h"):
        _, days = retention_days(settings)[table]
        conn.execute("SELECT remove_retention_policy(%s, if_exists => true)", (table,))
        conn.execute("SELECT add_retention_policy(%s, %s * INTERVAL '1 day')", (table, days))


class Maintenance:
    """Runs retention at most every ``interval_s`` from a service's idle loop."""

    def __init__(
        self, settings: Settings, interval_s: float = 3600.0, first_after_s: float = 60.0
    ) -> None:
        self.settings = settings
        self.interval_s = interval_s
        self._next = time.monotonic() + first_after_s
        self._policies_set = False

    def maybe_run(self, connection: Callable[[], Connection | None]) -> None:
        if time.monotonic() < self._next:
            return
        self._next = time.monotonic() + self.interval_s
        conn = connection()
        if conn is None:
            return
        try:
            with translated(), conn.transaction():
                got = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (_LOCK_KEY,)).fetchone()
                if not got or not got[0]:
                    return
                if not self._policies_set and detect(conn).policies:
                    ensure_policies(conn, self.settings)
                    self._policies_set = True
                removed = enforce_retention(conn, self.settings)
            log.info("retention enforced", extra={"removed": removed})
        except Unavailable as exc:
            log.warning("retention skipped: database unavailable", extra={"error": str(exc)})
