"""The incident list while a storm happens: 1,000 alert openings in one district within
about 10 s (through the alert store, so each is correlated in its own transaction, as
the engine does it) while the API answers ``GET /api/v1/incidents``.

    .venv/bin/python -m bench.incidents_api_bench                 # 1,000 alerts, ~10 s
    .venv/bin/python -m bench.incidents_api_bench --alerts 300 --background 50

Method: a scratch database on the project's cluster (IOC_BENCH_ADMIN_URL, default
127.0.0.1:5433), migrated like production, with ``--background`` incidents in other
districts first. A writer thread opens the storm's alerts (an absence rule, so the
``district-silence`` policy takes them) at up to ``--rate`` per second; the main thread
meanwhile reads the open-incident list and the storm district's list through the whole
FastAPI stack in-process (auth, validation, serialisation), back to back. Figures:
median, 95th percentile and worst list latency during the storm; the storm's
openings per second; and that the storm made one incident.
Target: list p95 < 100 ms during the storm; one incident.
"""

from __future__ import annotations

import argparse
import os
import statistics
import threading
import time
from datetime import UTC, datetime

import psycopg
from fastapi.testclient import TestClient

from ioc.alerts import store
from ioc.alerts.models import Rule, RuleSpec
from ioc.api.app import create_app
from ioc.config import Settings
from ioc.security.keys import create_key
from ioc.security.roles import Role
from testkit.database import scratch_database

ADMIN_URL = os.environ.get("IOC_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5433/postgres")
STORM = "storm"


def silent_rule(conn: psycopg.Connection[tuple[object, ...]]) -> Rule:
    return store.create_rule(
        conn,
        RuleSpec.model_validate(
            {
                "name": "bench: meter silent",
                "kind": "absence",
                "domain": "energy",
                "severity": "major",
                "params": {"after_s": 300},
                "enabled": False,
            }
        ),
    )


def storm(url: str, rule: Rule, alerts: int, rate: float, took: list[float]) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        start = time.perf_counter()
        for i in range(alerts):
            due = start + i / rate
            if (wait := due - time.perf_counter()) > 0:
                time.sleep(wait)
            store.open_alert(conn, rule, f"m{i:05d}", f"m{i:05d}", STORM, datetime.now(UTC), None)
        took.append(time.perf_counter() - start)


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0, help="storm openings per second")
    parser.add_argument("--background", type=int, default=200, help="incidents elsewhere")
    args = parser.parse_args()
    with scratch_database(ADMIN_URL) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            rule = silent_rule(conn)
            for i in range(args.background):
                store.open_alert(
                    conn, rule, f"bg{i:05d}", f"bg{i:05d}", f"d{i:04d}", datetime.now(UTC), None
                )
            key, _ = create_key(conn, Role.VIEWER, "bench")
        app = create_app(
            Settings(database_url=url), accounts=None, run_migrations=False, schedule_reports=False
        )
        headers = {"Authorization": f"Bearer {key}"}
        took: list[float] = []
        writer = threading.Thread(target=storm, args=(url, rule, args.alerts, args.rate, took))
        samples: dict[str, list[float]] = {"open": [], "district": []}
        paths = {
            "open": "/api/v1/incidents?state=open",
            "district": f"/api/v1/incidents?district={STORM}",
        }
        with TestClient(app) as client:
            client.get(paths["open"], headers=headers)  # warm
            writer.start()
            while writer.is_alive():
                for name, path in paths.items():
                    t = time.perf_counter()
                    r = client.get(path, headers=headers)
                    samples[name].append((time.perf_counter() - t) * 1000)
                    assert r.status_code == 200, r.text
            writer.join()
            final = client.get(paths["district"], headers=headers).json()
        print(f"storm: {args.alerts} openings in {took[0]:.1f}s ({args.alerts / took[0]:.0f}/s)")
        print(
            f"incidents in the storm district: {final['total']}"
            f" (alerts in it: {len(final['items'][0]['alert_ids'])})"
        )
        for name, s in samples.items():
            print(
                f"GET {paths[name]}: n={len(s)} median {statistics.median(s):.1f} ms,"
                f" p95 {pct(s, 0.95):.1f} ms, max {max(s):.1f} ms"
            )
        ok = final["total"] == 1 and all(pct(s, 0.95) < 100 for s in samples.values())
        print("target (one incident, list p95 < 100 ms):", "met" if ok else "MISSED")


if __name__ == "__main__":
    main()
