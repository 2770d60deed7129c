"""``--provision`` end to end: the real API registers the fleet and creates each device's
broker account; each device connects with its own credentials, its data is stored, and
the broker's ACL refuses a device publishing on another device's topic."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from fastapi.testclient import TestClient

from devices.simulator import FaultKind, FaultPlan, Fleet, Message, Simulator
from devices.simulator.provision import provision
from devices.simulator.run import run
from devices.simulator.sinks import PerDevice
from ioc.api.app import create_app
from ioc.broker_admin.accounts import DynsecAccounts
from ioc.broker_admin.dynsec import DynsecClient
from ioc.config import Settings, parse_mqtt_url
from ioc.security.keys import create_key
from ioc.security.roles import Role
from ioc.telemetry.catalog import CATALOG
from testkit.services import running_ingest, wait_for
from tests.api.conftest import admin_url, dynsec_broker


class Recording(PerDevice):
    sent: list[Message]

    def send(self, messages: Sequence[Message]) -> None:
        self.__dict__.setdefault("sent", []).extend(messages)
        super().send(messages)


def test_provisioned_fleet_publishes_as_itself_and_only_as_itself(
    database_url: str, tmp_path: Path, unique: Callable[[str], str]
) -> None:
    prefix = unique("prov")
    fleet = Fleet.build(2, seed=5, prefix=prefix, districts=["central"])
    with dynsec_broker(tmp_path / "broker") as broker:
        accounts = DynsecAccounts(DynsecClient(parse_mqtt_url(admin_url(broker))))
        accounts.ensure_service("ingest", "ingest-pw")
        settings = Settings(database_url=database_url, mqtt_url=broker.url, goc_url=None)
        app = create_app(settings, accounts=accounts, run_migrations=False, schedule_reports=False)
        with psycopg.connect(database_url) as conn:
            key, _ = create_key(conn, Role.ADMIN, "simulator test")
        with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as api:
            done = provision(api, fleet.devices)
        users = done.users()
        assert set(users) == {d.device_id for d in fleet.devices}

        steps, interval = 6, 30
        start = datetime.now(UTC) - timedelta(seconds=interval * (steps + 2))
        plan = FaultPlan({FaultKind.WRONG_TOPIC: 0.25}, fleet, seed=5)
        sim = Simulator(fleet, start=start, interval_s=interval, seed=5, faults=plan)
        endpoint = parse_mqtt_url(broker.url)
        sink = Recording(endpoint, {d.device_id: d.domain for d in fleet.devices}, users)
        ingest_url = f"mqtt://ingest:ingest-pw@127.0.0.1:{broker.port}"
        with running_ingest(
            database_url, ingest_url, ingest_group="ingest", ingest_client_id="ingest"
        ):
            run(sim, sink, steps, realtime=False)
            impostors = [m for m in sink.sent if m.fault is FaultKind.WRONG_TOPIC]
            assert impostors
            honest = sum(
                len(CATALOG[m.topic.split("/")[2]])
                for m in sink.sent
                if m.kind == "telemetry" and m.fault is None
            )

            def stored() -> int:
                with psycopg.connect(database_url) as conn:
                    row = conn.execute(
                        "SELECT count(*) FROM readings WHERE device_id LIKE %s", (f"{prefix}-%",)
                    ).fetchone()
                return int(row[0]) if row else -1

            wait_for(lambda: stored() == honest, timeout=30)
        # The broker refused every publish on another device's topic (PUBACK "not
        # authorized"), so none of them reached ingest, not even as a dead letter.
        assert sink.stats.errors == len(impostors)
        with psycopg.connect(database_url) as conn:
            letters = conn.execute(
                "SELECT count(*) FROM dead_letters WHERE detail LIKE %s", (f"%{prefix}-%",)
            ).fetchone()
        assert letters == (0,)
