"""How much the alert engine logs through a long database outage (issue 15: 110,920
"reload failed" lines, 32 MB, in five minutes), and that it loses no alert.

    .venv/bin/python -m bench.engine_outage                 # 5-minute outage
    .venv/bin/python -m bench.engine_outage --outage-s 60

Method: a throwaway PostgreSQL cluster and a private Mosquitto (testkit); one engine with
the shipped settings except a 0.2 s tick and reload (25x the default reload rate, so a
loop that logs per attempt would show it); a device publishing 10 readings/s. The
cluster is stopped for ``--outage-s`` seconds while readings keep coming (one crosses a
rule's level); then started again. Printed: log lines (all levels) and warnings during
the outage, the same lines per minute, retries counted in /metrics, and whether the
alert opened during the outage is in the database after it.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from ioc.alerts import store
from ioc.alerts.engine import AlertEngine
from ioc.alerts.models import AlertFilters, RuleSpec
from ioc.config import Settings
from ioc.storage.migrate import migrate
from ioc.storage.registry import NewDevice, register_devices
from ioc.telemetry.payloads import format_timestamp
from ioc.telemetry.topics import telemetry_topic
from testkit.broker import Broker
from testkit.mqtt import Publisher
from testkit.postgres import TempCluster
from testkit.services import wait_for


class Count(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage-s", type=float, default=300.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ioc-outage-"))
    cluster = TempCluster(Path(tempfile.mkdtemp(prefix="ioc-outage-pg-"))).init()
    counter = Count()
    logging.getLogger().addHandler(counter)
    logging.getLogger().setLevel(logging.INFO)
    try:
        with Broker(work / "broker") as broker:
            migrate(cluster.url)
            with psycopg.connect(cluster.url) as conn:
                register_devices(conn, [NewDevice("fr-1", "health", district="north")])
                rule = store.create_rule(
                    conn,
                    RuleSpec.model_validate(
                        {
                            "name": "warm",
                            "kind": "threshold",
                            "domain": "health",
                            "metric": "fridge_temp_c",
                            "severity": "critical",
                            "scope": {"devices": ["fr-1"]},
                            "params": {"op": ">", "value": 8, "clear": 7.5},
                        }
                    ),
                )
            settings = Settings(
                database_url=cluster.url,
                mqtt_url=broker.url,
                alerts_metrics_port=0,
                alerts_client_id="alerts-outage-bench",
                alerts_tick_s=0.2,
                alerts_reload_s=0.2,
            )
            engine = AlertEngine(settings)
            engine.start()
            topic = telemetry_topic("health", "fr-1")
            with Publisher(broker.url) as pub:
                wait_for(lambda: engine.metrics.value("ioc_alerts_broker_connected") == 1)
                counter.records.clear()
                cluster.stop()
                started = time.monotonic()
                ends = started + args.outage_s
                while time.monotonic() < ends:
                    late = time.monotonic() > ends - min(10.0, args.outage_s / 2)
                    pub.send(
                        topic,
                        {
                            "ts": format_timestamp(datetime.now(UTC)),
                            "readings": {"fridge_temp_c": 9.5 if late else 5.0},
                        },
                    )
                    time.sleep(0.1)
                during = list(counter.records)
                cluster.start()
                with psycopg.connect(cluster.url) as conn:
                    opened = wait_for(
                        lambda: store.list_alerts(conn, AlertFilters(rule_id=rule.id)),
                        timeout=60,
                    )
            retries = engine.metrics.value(
                "ioc_worker_retries_total", worker="alerts-evaluator", dependency="database"
            )
            engine.stop()
    finally:
        cluster.destroy()
    minutes = args.outage_s / 60
    warnings = [r for r in during if r.levelno >= logging.WARNING]
    print(f"outage: {args.outage_s:.0f} s with readings at 10/s, tick and reload every 0.2 s")
    print(f"log lines during the outage: {len(during)} ({len(during) / minutes:.1f}/min)")
    print(f"warnings and above: {len(warnings)} ({len(warnings) / minutes:.1f}/min)")
    print(f"database retries counted in /metrics: {retries:.0f}")
    print(f"alert opened during the outage stored afterwards: {bool(opened)}")
    for r in during[:10]:
        print(f"  {r.levelname} {r.name}: {r.getMessage()}")


if __name__ == "__main__":
    main()
