"""API read latency at city scale: latest values among 10,000 devices, and 24 h of
1-minute buckets for a district over 10 million readings, served from the rollups.

    .venv/bin/python -m bench.api_bench                      # the full size (~minutes)
    .venv/bin/python -m bench.api_bench --devices 1000 --readings 1000000   # quick

Method: a scratch database on the project's cluster (IOC_BENCH_ADMIN_URL, default
127.0.0.1:5433), migrated like production. Devices are spread over districts (traffic
domain); readings of ``avg_speed_kmh`` are spaced evenly over the last 24 h for every
device and loaded with COPY; ``latest`` and the per-minute and per-hour rollups are then
built from them with the same aggregates the rollup refresher writes (in key order, so
the load is quick), or refreshed where TimescaleDB keeps continuous aggregates; the
per-district minute rollup is rebuilt from the minutes where the IOC keeps it. Each
query runs warm ``--repeat`` times; the figures are the median and the 95th percentile.
The district series is run three ways in the same run: from the district rollup (what
the console reads), from the per-device minute rollup (before migration 70, and on full
TimescaleDB), and over the raw readings, the baseline both are compared with. The API
figures go through the whole FastAPI stack in-process (auth, validation, serialisation),
not HTTP sockets.
Targets: latest < 100 ms, district 24 h × 1 min < 150 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import psycopg
from fastapi.testclient import TestClient

from ioc.api.app import create_app
from ioc.config import Settings
from ioc.security.keys import create_key
from ioc.security.roles import Role
from ioc.storage import series
from ioc.storage.migrate import migrate
from ioc.storage.readings import ReadingWriter
from ioc.storage.rollups import district_rollup_kept, rebuild_districts, refresh
from ioc.types import Reading

ADMIN_URL = os.environ.get("IOC_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5433/postgres")
METRIC = "avg_speed_kmh"


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    fn()  # warm
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(0.95 * len(samples)))]


def load(url: str, devices: int, readings: int, districts: int, end: datetime) -> float:
    t = time.perf_counter()
    per_device = max(1, readings // devices)
    step = 86400 / per_device
    start = end - timedelta(days=1)
    with psycopg.connect(url) as conn:
        with conn.cursor().copy(
            "COPY devices (device_id, domain, name, district) FROM STDIN"
        ) as copy:
            for i in range(devices):
                copy.write_row((f"tc-{i:05d}", "traffic", f"counter {i}", f"d{i % districts:02d}"))
        conn.commit()
        rng = random.Random(7)
        base = start.timestamp()
        with conn.cursor().copy(
            "COPY readings (time, device_id, metric, value) FROM STDIN"
        ) as copy:
            for i in range(devices):
                dev = f"tc-{i:05d}"
                offset = rng.random() * step
                lines = [
                    f"{datetime.fromtimestamp(base + offset + k * step, UTC).isoformat()}\t{dev}"
                    f"\t{METRIC}\t{20 + (k * 7919 + i) % 50}\n"
                    for k in range(per_device)
                ]
                copy.write("".join(lines))
        conn.commit()
        print(f"  loaded {devices * per_device:,} readings in {time.perf_counter() - t:.0f} s")
        t2 = time.perf_counter()
        conn.execute("SET work_mem = '256MB'")  # sorts of the rollup build stay in memory
        conn.execute(
            """INSERT INTO latest (device_id, metric, time, value)
               SELECT DISTINCT ON (device_id, metric) device_id, metric, time, value
               FROM readings ORDER BY device_id, metric, time DESC"""
        )
        mode = conn.execute(
            "SELECT value FROM storage_settings WHERE key = 'rollup_mode'"
        ).fetchone()
        conn.commit()
        if mode and mode[0] == "continuous_aggregate":
            conn.autocommit = True
            for view in ("readings_1m", "readings_1h"):
                conn.execute(f"CALL refresh_continuous_aggregate('{view}', NULL, NULL)")
        else:
            for table, width in (("readings_1m", "1 minute"), ("readings_1h", "1 hour")):
                conn.execute(
                    f"""INSERT INTO {table} (bucket, device_id, metric, n, sum, min, max, avg)
                        SELECT time_bucket(INTERVAL '{width}', time), device_id, metric,
                               count(*), sum(value), min(value), max(value), avg(value)
                        FROM readings GROUP BY 1, 2, 3 ORDER BY 2, 3, 1"""
                )
            if district_rollup_kept(conn):
                rebuild_districts(conn)
            conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
        print(f"  latest and rollups built in {time.perf_counter() - t2:.0f} s")
    return time.perf_counter() - t


def refresh_passes(url: str, devices: int, end: datetime, rounds: int) -> list[float]:
    """A refresher pass after every device sent one reading (a 10 s tick of the city);
    ms per pass. Run with the district rollup kept, then with it switched off."""
    took = []
    with psycopg.connect(url) as conn:
        writer = ReadingWriter(True)
        for k in range(rounds):
            at = end + timedelta(seconds=10 * k + 1)
            rows = [
                (Reading(at, f"tc-{i:05d}", METRIC, float(20 + i % 50)), 0) for i in range(devices)
            ]
            writer.write(conn, rows)
            conn.commit()
            t = time.perf_counter()
            refresh(conn)
            took.append((time.perf_counter() - t) * 1000)
    return took


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--devices", type=int, default=10_000)
    p.add_argument("--readings", type=int, default=10_000_000)
    p.add_argument("--districts", type=int, default=50)
    p.add_argument("--repeat", type=int, default=30)
    args = p.parse_args()

    name = f"ioc_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(ADMIN_URL)._replace(path=f"/{name}"))
    try:
        features = migrate(url)
        print(f"database: {features.describe()}")
        print(
            f"data: {args.devices:,} devices in {args.districts} districts, "
            f"{args.readings:,} readings over 24 h"
        )
        end = datetime.now(UTC).replace(second=0, microsecond=0)
        load(url, args.devices, args.readings, args.districts, end)
        with psycopg.connect(url) as conn:
            key, _ = create_key(conn, Role.VIEWER, "bench")
            rows = conn.execute("SELECT count(*) FROM readings_1m").fetchone()
            print(f"  readings_1m rows: {rows[0]:,}" if rows else "")

        window = series.plan(end - timedelta(days=1), end, "1m", 10_000)
        raw_window = series.Window(window.start, window.end, "1m", 60, "readings")
        rng = random.Random(1)
        results: list[tuple[str, float, float, str]] = []
        with psycopg.connect(url, autocommit=True) as conn:

            def district(w: series.Window, rollup: bool = True) -> Callable[[], object]:
                return lambda: series.district_series(
                    conn,
                    "traffic",
                    f"d{rng.randrange(args.districts):02d}",
                    METRIC,
                    w,
                    district_rollup=rollup,
                )

            points = len(series.district_series(conn, "traffic", "d00", METRIC, window))
            per = args.devices // args.districts
            kept = district_rollup_kept(conn)
            results.append(
                (
                    f"district 24 h x 1 min from {'district' if kept else 'per-device'} rollup"
                    f" ({per} devices, {points} buckets)",
                    *timed(district(window), args.repeat),
                    "150",
                )
            )
            results.append(
                (
                    "district 24 h x 1 min from raw readings (baseline)",
                    *timed(district(raw_window), max(3, args.repeat // 10)),
                    "-",
                )
            )
            if kept:
                results.append(
                    (
                        "district 24 h x 1 min from per-device rollup (before migration 70)",
                        *timed(district(window, rollup=False), args.repeat),
                        "-",
                    )
                )
            results.append(
                (
                    f"all latest values of {args.devices:,} devices (one SQL query)",
                    *timed(
                        lambda: conn.execute(
                            "SELECT device_id, metric, time, value FROM latest"
                        ).fetchall(),
                        args.repeat,
                    ),
                    "100",
                )
            )

        app = create_app(
            Settings(database_url=url), accounts=None, run_migrations=False, schedule_reports=False
        )
        headers = {"Authorization": f"Bearer {key}"}
        with TestClient(app) as client:

            def latest() -> object:
                r = client.get(
                    f"/api/v1/devices/tc-{rng.randrange(args.devices):05d}/latest", headers=headers
                )
                assert r.status_code == 200, r.text
                return r

            def device_series() -> object:
                r = client.get(
                    f"/api/v1/devices/tc-{rng.randrange(args.devices):05d}/series",
                    params={
                        "metric": METRIC,
                        "start": window.start.isoformat(),
                        "end": window.end.isoformat(),
                        "bucket": "1m",
                    },
                    headers=headers,
                )
                assert r.status_code == 200 and r.json()["source"] == "readings_1m", r.text
                return r

            results.append(
                ("API GET /devices/{id}/latest (random device)", *timed(latest, args.repeat), "100")
            )
            results.append(
                (
                    "API GET /devices/{id}/series 24 h x 1 min",
                    *timed(device_series, args.repeat),
                    "150",
                )
            )

        if kept:
            rounds = max(3, args.repeat // 5)
            on = refresh_passes(url, args.devices, end, rounds)
            with psycopg.connect(url) as conn:  # the refresher as before migration 70
                conn.execute(
                    "UPDATE storage_settings SET value = 'none' WHERE key = 'district_rollup'"
                )
            off = refresh_passes(url, args.devices, end + timedelta(minutes=1), rounds)
            for label, took in (("with", on), ("without", off)):
                results.append(
                    (
                        f"refresh pass, {args.devices:,} devices x 1 reading, {label} districts",
                        statistics.median(took),
                        max(took),
                        "-",
                    )
                )

        print(f"\n{'measurement':<72} {'p50 ms':>8} {'p95 ms':>8} {'target':>7}")
        for label, p50, p95, target in results:
            print(f"{label:<72} {p50:>8.1f} {p95:>8.1f} {target:>7}")
        base = results[1][1]
        print(f"\nrollup vs raw (district series, p50): {base / results[0][1]:.1f}x faster")
        if kept:
            before = results[2][1]
            print(f"per-device rollup vs raw (district series, p50): {base / before:.1f}x faster")
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
