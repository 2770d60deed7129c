"""Dashboard query benchmark: what reading the rollups saves a long-range panel.

    .venv/bin/python -m bench.dashboard_bench              # 60 devices, 2 days, every 10 s
    .venv/bin/python -m bench.dashboard_bench --devices 300 --days 7 --every-s 5

A scratch database (migrated, on the cluster deploy/local/infra.sh starts) gets
``--devices`` energy devices over six districts, one ``load_pct`` reading per device
every ``--every-s`` seconds for ``--days`` days, inserted with SQL (this measures
queries, not ingest), and the per-minute and per-hour rollups built from those rows as
ingest keeps them.

It then times the domain dashboard's trend panel (:func:`dashboards.queries.series`,
Grafana's macros expanded as Grafana does) as Grafana would run it:
  - the whole range at a 1 h interval (the query reads ``readings_1h``);
  - the last 24 h at a 2 min interval (the query reads ``readings_1m``);
and, as the baseline in the same run, the same bucketing computed from the raw readings
(the query a dashboard without rollups would run). Each query runs ``--repeat`` times
after one warm-up; the median is reported, with rows returned and the ratio.
It also times every query of the control-room wall once (warm), the panel load of the
screen that refreshes every 10 s.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

import psycopg

from dashboards.model import ALL as ALL_VALUE
from dashboards.queries import series
from dashboards.wall import build as build_wall
from testkit.dashboard_walk import queries
from testkit.database import scratch_database
from testkit.grafana_sql import ALL, Context, expand

RAW_BASELINE = """
SELECT time_bucket({bucket}, r.time) AS time, d.district AS metric, avg(r.value) AS value
FROM readings r JOIN devices d USING (device_id)
WHERE r.metric = 'load_pct' AND r.time BETWEEN '{start}' AND '{end}' AND d.domain = 'energy'
GROUP BY 1, 2 ORDER BY 1, 2"""


def load(
    conn: psycopg.Connection[tuple[object, ...]],
    devices: int,
    days: int,
    every_s: int,
    end: datetime,
) -> int:
    conn.execute(
        """INSERT INTO devices (device_id, domain, name, district, lat, lon)
           SELECT 'bench-' || i, 'energy', 'feeder ' || i, 'district-' || (i %% 6), 10.7, 106.6
           FROM generate_series(1, %s) i""",
        (devices,),
    )
    conn.execute(
        """INSERT INTO readings (time, device_id, metric, value)
           SELECT t, 'bench-' || i, 'load_pct', 40 + 30 * sin(extract(epoch FROM t) / 3600 + i)
           FROM generate_series(1, %s) i,
                generate_series(%s::timestamptz - %s * INTERVAL '1 day', %s,
                                %s * INTERVAL '1 second') t""",
        (devices, end, days, end, every_s),
    )
    for table, width in (("readings_1m", "1 minute"), ("readings_1h", "1 hour")):
        conn.execute(
            f"""INSERT INTO {table} (bucket, device_id, metric, n, sum, min, max, avg)
                SELECT time_bucket(INTERVAL '{width}', time), device_id, metric, count(*),
                       sum(value), min(value), max(value), avg(value)
                FROM readings GROUP BY 1, 2, 3"""
        )
    conn.execute(
        "INSERT INTO latest SELECT DISTINCT ON (device_id, metric) device_id, metric, time, value"
        " FROM readings ORDER BY device_id, metric, time DESC"
    )
    conn.execute("ANALYZE")
    row = conn.execute("SELECT count(*) FROM readings").fetchone()
    return int(row[0]) if row else 0  # type: ignore[call-overload]


def timed(conn: psycopg.Connection[tuple[object, ...]], sql: str, repeat: int) -> tuple[float, int]:
    rows = len(conn.execute(sql).fetchall())  # type: ignore[call-overload]  # warm-up
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        conn.execute(sql).fetchall()  # type: ignore[call-overload]
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples), rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=60)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--every-s", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    end = datetime.now(UTC).replace(second=0, microsecond=0)
    variables = {"district": ALL, "device": ALL}
    alls = {"district": ALL_VALUE, "device": ALL_VALUE}
    with scratch_database() as url, psycopg.connect(url, autocommit=True) as conn:
        t0 = time.perf_counter()
        n = load(conn, args.devices, args.days, args.every_s, end)
        print(
            f"data: {n:,} raw readings ({args.devices} devices x {args.days} days, "
            f"every {args.every_s} s), loaded with rollups in {time.perf_counter() - t0:.1f} s"
        )
        cases = [
            (f"{args.days} d at 1 h", end - timedelta(days=args.days), 3_600_000, "1 hour"),
            ("24 h at 2 min", end - timedelta(hours=24), 120_000, "2 minutes"),
        ]
        header = f"{'panel range':<16}{'rollup':>12}{'raw':>12}{'ratio':>8}{'rows':>7}"
        print(f"\n{header}  (median of {args.repeat} runs)")
        for label, start, interval_ms, bucket in cases:
            ctx = Context(start, end, interval_ms, variables, alls)
            rolled, rows = timed(conn, expand(series("load_pct", "energy"), ctx), args.repeat)
            raw_sql = RAW_BASELINE.format(
                bucket=f"INTERVAL '{bucket}'", start=start.isoformat(), end=end.isoformat()
            )
            raw, raw_rows = timed(conn, raw_sql, args.repeat)
            assert rows == raw_rows, (rows, raw_rows)
            ms = f"{rolled * 1000:>10.1f}ms{raw * 1000:>10.1f}ms"
            print(f"{label:<16}{ms}{raw / rolled:>7.1f}x{rows:>7}")

        ctx = Context(end - timedelta(hours=1), end, 5000, variables, alls)
        total = 0.0
        for q in queries(build_wall()):
            seconds, _ = timed(conn, expand(q.sql, ctx), 1)
            total += seconds
        print(
            f"\ncontrol-room wall: all {len(list(queries(build_wall())))} queries, last 1 h: "
            f"{total * 1000:.1f} ms in sequence (warm, one run each)"
        )


if __name__ == "__main__":
    main()
