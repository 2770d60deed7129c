"""The per-district minute rollup equals the raw computation, through ingest's writes,
refreshes, decommissions and moves, and a refresh rewrites only what changed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from ioc.config import Settings
from ioc.storage import series
from ioc.storage.maintenance import enforce_retention
from ioc.storage.migrate import discover, migrate
from ioc.storage.readings import ReadingWriter
from ioc.storage.registry import NewDevice, decommission, register_devices
from ioc.storage.rollups import district_rollup_kept, refresh
from ioc.types import Reading
from testkit.database import scratch_database

METRIC = "avg_speed_kmh"
T0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
END = T0 + timedelta(hours=1)

Conn = psycopg.Connection[tuple[Any, ...]]


def write(conn: Conn, devices: list[str], start: datetime, minutes: int, seed: int = 0) -> None:
    """Readings every 20 s with fractional, device-dependent values, as ingest stores them."""
    rows = [
        (
            Reading(
                start + timedelta(seconds=20 * k), d, METRIC, (k * 37 + i * 11 + seed) % 97 / 3
            ),
            0,
        )
        for i, d in enumerate(devices)
        for k in range(minutes * 3)
    ]
    ReadingWriter(True).write(conn, rows)
    conn.commit()


def window(bucket: str, source: str | None = None) -> series.Window:
    w = series.plan(T0, END, bucket, 10_000)
    return w if source is None else series.Window(w.start, w.end, w.bucket, w.bucket_s, source)


def assert_same(conn: Conn, district: str, bucket: str = "1m") -> list[dict[str, Any]]:
    """District rollup, per-device rollup and raw readings give the same series."""
    got = series.district_series(conn, "traffic", district, METRIC, window(bucket))
    per_device = series.district_series(
        conn, "traffic", district, METRIC, window(bucket), district_rollup=False
    )
    raw = series.district_series(conn, "traffic", district, METRIC, window(bucket, "readings"))
    for other in (per_device, raw):
        assert [(p["t"], p["n"], p["min"], p["max"]) for p in got] == [
            (p["t"], p["n"], p["min"], p["max"]) for p in other
        ]
        assert all(abs(a["avg"] - b["avg"]) < 1e-9 for a, b in zip(got, other, strict=True))
    return got


def district_rows(conn: Conn, district: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT bucket, n, xmin::text FROM readings_district_1m WHERE district = %s ORDER BY 1",
        (district,),
    ).fetchall()


@pytest.fixture
def conn(database_url: str) -> Any:
    with psycopg.connect(database_url) as c:
        yield c


def test_refresh_keeps_the_district_rollup_equal_to_raw(
    conn: Conn, unique: Callable[[str], str]
) -> None:
    north, south = unique("north"), unique("south")
    a = [unique(f"a{i}") for i in range(3)]
    b = [unique("b0")]
    register_devices(conn, [NewDevice(d, "traffic", district=north) for d in a])
    register_devices(conn, [NewDevice(d, "traffic", district=south) for d in b])
    register_devices(conn, [NewDevice(unique("e0"), "energy", district=north)])
    conn.commit()
    assert district_rollup_kept(conn)
    write(conn, a + b, T0, 30)
    refresh(conn)
    got = assert_same(conn, north)
    assert len(got) == 30 and sum(p["n"] for p in got) == 3 * 30 * 3
    assert_same(conn, north, "5m")
    assert_same(conn, south)
    assert conn.execute(
        "SELECT count(*) FROM readings_district_1m WHERE district = %s AND domain = 'traffic'",
        (north,),
    ).fetchone() == (30,)

    # Late data for one device of north: only north's minutes it covers are rewritten.
    before_south, before_north = district_rows(conn, south), district_rows(conn, north)
    write(conn, a[:1], T0 + timedelta(minutes=40), 2, seed=5)
    refresh(conn)
    after_north = district_rows(conn, north)
    assert district_rows(conn, south) == before_south
    assert after_north[:30] == before_north  # the minutes already there are untouched
    assert [n for _, n, _ in after_north[30:]] == [3, 3]
    assert_same(conn, north)


def test_decommissioned_and_moved_devices_leave_their_district(
    conn: Conn, unique: Callable[[str], str]
) -> None:
    east, west = unique("east"), unique("west")
    devices = [unique(f"m{i}") for i in range(4)]
    register_devices(conn, [NewDevice(d, "traffic", district=east) for d in devices])
    conn.commit()
    write(conn, devices, T0, 20)
    refresh(conn)
    assert sum(p["n"] for p in assert_same(conn, east)) == 4 * 20 * 3

    # Readings and a decommission between two refreshes: the new readings never counted.
    write(conn, devices[:1], T0 + timedelta(seconds=10), 5, seed=9)  # minutes counted already
    decommission(conn, devices[0])
    conn.commit()
    refresh(conn)
    assert sum(p["n"] for p in assert_same(conn, east)) == 3 * 20 * 3

    # A device moved to another district (no API does this; the rollup follows anyway).
    conn.execute("UPDATE devices SET district = %s WHERE device_id = %s", (west, devices[1]))
    conn.commit()
    refresh(conn)
    assert sum(p["n"] for p in assert_same(conn, east)) == 2 * 20 * 3
    assert sum(p["n"] for p in assert_same(conn, west)) == 20 * 3

    # The last devices go: the district's minutes are gone, not zero.
    for d in devices[2:]:
        decommission(conn, d)
    conn.commit()
    refresh(conn)
    assert assert_same(conn, east) == []
    assert district_rows(conn, east) == []


def test_migration_fills_the_rollup_from_existing_minutes() -> None:
    before = [m for m in discover() if m.version < 70]
    with scratch_database(migrated=False) as url:
        migrate(url, before)
        with psycopg.connect(url) as c:
            register_devices(c, [NewDevice(f"old-{i}", "traffic", district="old") for i in (0, 1)])
            c.commit()
            write(c, ["old-0", "old-1"], T0, 10)
            write(c, ["old-0"], T0 - timedelta(days=10), 1)  # past the retention below
            refresh(c)
        migrate(url)
        with psycopg.connect(url) as c:
            assert district_rollup_kept(c)
            assert sum(p["n"] for p in assert_same(c, "old")) == 2 * 10 * 3
            members = c.execute("SELECT count(*) FROM readings_district_members").fetchone()
            assert members == (2,)
            assert len(district_rows(c, "old")) == 11
            enforce_retention(c, Settings(database_url=url, retention_1m_days=2))
            c.commit()
            assert len(district_rows(c, "old")) == 10
