"""A burst of city data through the real ingest: what the dashboards' queries run on.

Two districts, two devices per domain and district, three hours of readings of every
catalog metric sent as store-and-forward batches (so both rollups fill), one device
offline, one gone silent an hour ago, some bad input (dead letters), and alerts opened
and resolved through the alert store.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from ioc.alerts.models import RuleSpec
from ioc.alerts.rules import create_rule
from ioc.alerts.store import open_alert, resolve_open
from ioc.storage.registry import NewDevice, register_devices
from ioc.storage.rollups import refresh
from ioc.telemetry.catalog import CATALOG, DOMAINS
from ioc.telemetry.payloads import format_timestamp
from ioc.telemetry.topics import status_topic, telemetry_topic
from testkit.mqtt import Publisher
from testkit.services import running_ingest, wait_for

HOURS = 3
STEP = timedelta(minutes=4)


@dataclass(frozen=True)
class Burst:
    districts: tuple[str, str]
    devices: dict[str, list[NewDevice]]  # domain → devices
    offline: str
    silent: str
    alert_ids: tuple[int, ...]

    def device_in(self, domain: str, district: str) -> str:
        return next(d.device_id for d in self.devices[domain] if d.district == district)


def _value(domain: str, metric: str, i: int) -> float:
    m = CATALOG[domain][metric]
    span = m.typical_max - m.typical_min
    return round(m.typical_min + span * (0.3 + 0.4 * ((i * 7) % 10) / 10), 3)


def send(database_url: str, mqtt_url: str) -> Burst:
    token = uuid.uuid4().hex[:6]
    districts = (f"North-{token}", f"South-{token}")
    devices = {
        domain: [
            NewDevice(
                f"{domain[:3]}-{k}-{j}-{token}",
                domain,
                name=f"{domain} {k}{j}",
                district=district,
                lat=10.76 + 0.01 * k + 0.003 * j,
                lon=106.66 + 0.01 * DOMAINS.index(domain),
            )
            for k, district in enumerate(districts)
            for j in range(2)
        ]
        for domain in DOMAINS
    }
    every = [d for ds in devices.values() for d in ds]
    offline, silent = devices["energy"][0].device_id, devices["health"][3].device_id
    with psycopg.connect(database_url) as conn:
        register_devices(conn, every)

    now = datetime.now(UTC).replace(microsecond=0)
    times = [
        now - timedelta(seconds=30) - STEP * i for i in range(int(HOURS * 3600 / STEP.seconds))
    ]
    expected = 0
    with running_ingest(database_url, mqtt_url), Publisher(mqtt_url) as pub:
        for d in every:
            mine = [t for t in times if d.device_id != silent or t < now - timedelta(hours=1)]
            batch: list[dict[str, Any]] = [
                {
                    "ts": format_timestamp(t),
                    "readings": {m: _value(d.domain, m, i) for m in CATALOG[d.domain]},
                }
                for i, t in enumerate(mine)
            ]
            pub.send(telemetry_topic(d.domain, d.device_id), {"batch": batch})
            expected += len(mine) * len(CATALOG[d.domain])
            state = "offline" if d.device_id == offline else "online"
            pub.send(
                status_topic(d.domain, d.device_id),
                {"state": state, "ts": format_timestamp(now)},
                retain=False,
            )
        bad = devices["traffic"][0]
        pub.send(telemetry_topic("traffic", bad.device_id), b"{not json")
        pub.send(
            telemetry_topic("traffic", bad.device_id),
            {"ts": format_timestamp(now), "readings": {"avg_speed_kmh": 9999}},
        )
        ids = [d.device_id for d in every]

        def stored() -> bool:
            with psycopg.connect(database_url) as conn:
                row = conn.execute(
                    "SELECT (SELECT count(*) FROM readings WHERE device_id = ANY(%s)),"
                    " (SELECT count(*) FROM dead_letters WHERE device_id = %s),"
                    " (SELECT count(*) FROM device_events WHERE device_id = ANY(%s))",
                    (ids, bad.device_id, ids),
                ).fetchone()
            assert row is not None
            return row[0] == expected and row[1] >= 2 and row[2] == len(ids)

        wait_for(stored, timeout=60, interval=0.2)

    # Where the database does not keep the rollups itself, ingest's refresher does, on its
    # own schedule; bring them up to date now (idempotent; None while another holds it).
    with psycopg.connect(database_url, autocommit=True) as conn:
        wait_for(lambda: refresh(conn) is not None, timeout=30, interval=0.2)

    alert_ids = []
    with psycopg.connect(database_url) as conn:
        for domain in DOMAINS:
            metric = next(iter(CATALOG[domain]))
            rule = create_rule(
                conn,
                RuleSpec.model_validate(
                    {
                        "name": f"Dashboard test: {domain} {token}",
                        "kind": "threshold",
                        "domain": domain,
                        "metric": metric,
                        "severity": "critical" if domain == "energy" else "major",
                        "params": {"op": ">", "value": CATALOG[domain][metric].typical_max},
                    }
                ),
            )
            conn.commit()
            opened_at = now - timedelta(minutes=20)
            for d in devices[domain][:3]:
                alert = open_alert(conn, rule, d.device_id, d.device_id, d.district, opened_at, 1.0)
                assert alert is not None
                alert_ids.append(alert.id)
            resolved = devices[domain][2]
            resolve_open(conn, rule.id, resolved.device_id, now - timedelta(minutes=5), 0.0)
    return Burst(districts, devices, offline, silent, tuple(alert_ids))
