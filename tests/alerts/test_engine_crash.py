"""The alert engine killed with SIGKILL while an alert is open: after a restart the alert
is neither opened a second time nor forgotten (its clearing still resolves it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import psycopg
import pytest

from ioc.alerts.models import Alert
from ioc.storage.registry import NewDevice
from ioc.telemetry.topics import telemetry_topic
from testkit.broker import Broker
from testkit.mqtt import Publisher
from testkit.services import wait_for
from tests.alerts.test_engine import alerts_of, make_rule, now, sample

Conn = psycopg.Connection[tuple[object, ...]]


@contextmanager
def engine_process(env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "ioc", "alerts"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)


@pytest.mark.slow
def test_kill_9_with_an_open_alert_neither_duplicates_nor_forgets(
    db: Conn,
    broker: Broker,
    database_url: str,
    register: Callable[..., None],
    unique: Callable[[str], str],
) -> None:
    fridge, probe = unique("fridge"), unique("probe")
    register(NewDevice(fridge, "health", district="D-crash"), NewDevice(probe, "health"))
    rule = make_rule(db, unique("fridge warm"), [fridge], params={"op": ">", "value": 8})
    probe_rule = make_rule(db, unique("probe warm"), [probe], params={"op": ">", "value": 8})
    env = {
        **os.environ,
        "IOC_DATABASE_URL": database_url,
        "IOC_MQTT_URL": broker.url,
        "IOC_ALERTS_METRICS_PORT": "0",
        "IOC_ALERTS_DOMAINS": "health",
        "IOC_ALERTS_TICK_S": "0.2",
        "IOC_ALERTS_CLIENT_ID": unique("alerts-crash"),
    }
    fridge_topic, probe_topic = telemetry_topic("health", fridge), telemetry_topic("health", probe)

    with Publisher(broker.url) as pub:

        def sent(topic: str, value: float, rule_alerts: Callable[[], list[Alert]]) -> list[Alert]:
            pub.send(topic, sample("fridge_temp_c", value, now()))
            return rule_alerts()

        with engine_process(env) as first:
            [opened] = wait_for(
                lambda: sent(fridge_topic, 9.0, lambda: alerts_of(db, rule)),
                timeout=30,
                interval=0.5,
            )
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        assert first.returncode == -signal.SIGKILL
        assert opened.state == "firing"

        with engine_process(env) as second:
            # Still warm after the crash: the restored alert covers it. The probe's alert
            # opening afterwards shows the restarted engine has read that reading.
            pub.send(fridge_topic, sample("fridge_temp_c", 9.5, now()))
            wait_for(
                lambda: sent(probe_topic, 9.0, lambda: alerts_of(db, probe_rule)),
                timeout=30,
                interval=0.5,
            )
            assert [a.id for a in alerts_of(db, rule)] == [opened.id]
            # ...and the clearing still resolves the alert opened before the crash.
            wait_for(
                lambda: (
                    [a.state for a in sent(fridge_topic, 6.0, lambda: alerts_of(db, rule))]
                    == ["resolved"]
                ),
                timeout=30,
                interval=0.5,
            )
            assert second.poll() is None
    [alert] = alerts_of(db, rule)
    assert alert.id == opened.id
    assert [h.action for h in alert.history] == ["opened", "resolved"]
