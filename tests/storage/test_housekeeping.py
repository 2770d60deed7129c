from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg

from ioc.config import Settings
from ioc.storage.housekeeping import Housekeeping
from ioc.storage.readings import ReadingWriter
from ioc.storage.registry import NewDevice, register_devices
from ioc.types import Reading


def test_one_round_refreshes_rollups_and_enforces_retention(fresh_database_url: str) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(fresh_database_url) as conn:
        register_devices(conn, [NewDevice("h-1", "health")])
        ReadingWriter(ReadingWriter.rollups_maintained(conn)).write(
            conn,
            [(Reading(now - timedelta(days=d), "h-1", "pm25_ugm3", 10.0 + d), 0) for d in (0, 45)],
        )
    settings = Settings(database_url=fresh_database_url, retention_raw_days=30)
    upkeep = Housekeeping(settings, retention_first_after_s=0)
    upkeep.run_once()
    with psycopg.connect(fresh_database_url) as conn:
        raw = conn.execute("SELECT value FROM readings").fetchall()
        minutes = conn.execute("SELECT sum(n) FROM readings_1m").fetchone()
        pending = conn.execute("SELECT count(*) FROM rollup_invalidations").fetchone()
    upkeep.stop_connection()
    assert raw == [(10.0,)]  # the 45-day-old reading is past raw retention
    assert minutes == (2,)  # both were rolled up before the old one was dropped
    assert pending == (0,)
