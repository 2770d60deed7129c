"""The alert engine against the real broker and database: readings published over MQTT
open exactly the expected alerts, once, through duplicates, two replicas and restarts;
absence fires on silence and on a last will; group rules watch a district."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from ioc.alerts import store
from ioc.alerts.models import Alert, AlertFilters, Rule, RuleSpec
from ioc.storage.registry import NewDevice
from ioc.telemetry.payloads import format_timestamp
from ioc.telemetry.topics import status_topic, telemetry_topic
from testkit.broker import Broker
from testkit.mqtt import Publisher
from testkit.services import wait_for
from tests.alerts.conftest import running_engine

Conn = psycopg.Connection[tuple[object, ...]]


def now() -> datetime:
    return datetime.now(UTC)


def sample(metric: str, value: float, at: datetime) -> dict[str, Any]:
    return {"ts": format_timestamp(at), "readings": {metric: value}}


def make_rule(db: Conn, name: str, devices: list[str], **over: Any) -> Rule:
    data: dict[str, Any] = {
        "name": name,
        "kind": "threshold",
        "domain": "health",
        "metric": "fridge_temp_c",
        "severity": "critical",
        "scope": {"devices": devices},
        "params": {"op": ">", "value": 8, "clear": 7.5, "for_s": 300},
    }
    return store.create_rule(db, RuleSpec.model_validate({**data, **over}))


def alerts_of(db: Conn, rule: Rule) -> list[Alert]:
    return store.list_alerts(db, AlertFilters(rule_id=rule.id))


@pytest.fixture
def fridge(register: Callable[..., None], unique: Callable[[str], str]) -> str:
    device = unique("fridge")
    register(NewDevice(device, "health", district="D-north"))
    return device


def test_threshold_fires_once_and_clears_with_hysteresis(
    db: Conn, broker: Broker, database_url: str, fridge: str, unique: Callable[[str], str]
) -> None:
    rule = make_rule(
        db,
        unique("fridge warm"),
        [fridge],
        params={"op": ">", "value": 8, "clear": 7.5, "for_s": 2},
    )
    topic = telemetry_topic("health", fridge)
    with running_engine(database_url, broker.url) as engine, Publisher(broker.url) as pub:
        # a backlog (store-and-forward) whose excursion was too short: never fires
        t0 = now() - timedelta(minutes=10)
        pub.send(
            topic,
            {
                "batch": [
                    sample("fridge_temp_c", v, t0 + timedelta(seconds=i))
                    for i, v in enumerate((9.0, 9.5, 7.0))
                ]
            },
        )
        started = time.monotonic()
        first = sample("fridge_temp_c", 9.1, now())
        pub.send(topic, first)
        engine.wait_idle()
        assert alerts_of(db, rule) == []  # pending: for_s is 2 s
        pub.send(topic, first)  # the same reading again
        pub.send(topic, sample("fridge_temp_c", 9.4, now()))
        [alert] = wait_for(lambda: alerts_of(db, rule))
        assert time.monotonic() - started >= 2
        assert (alert.state, alert.value, alert.device_id, alert.district) == (
            "firing",
            9.4,
            fridge,
            "D-north",
        )
        # inside the hysteresis band (7.5 .. 8): stays open, no second alert
        for v in (7.8, 8.4, 7.9, 8.1):
            pub.send(topic, sample("fridge_temp_c", v, now()))
        engine.wait_idle()
        time.sleep(0.3)  # let one more tick pass: nothing may change
        [still] = alerts_of(db, rule)
        assert still.state == "firing" and still.id == alert.id
        clear_at = now()
        pub.send(topic, sample("fridge_temp_c", 7.2, clear_at))
        wait_for(lambda: alerts_of(db, rule)[0].state == "resolved")
    [done] = alerts_of(db, rule)
    assert [(h.action, h.by, h.value) for h in done.history] == [
        ("opened", "engine", 9.4),
        ("resolved", "engine", 7.2),
    ]
    assert done.resolved_at is not None
    assert abs((done.resolved_at - clear_at).total_seconds()) < 0.002


def test_two_replicas_open_one_alert(
    db: Conn, broker: Broker, database_url: str, fridge: str, unique: Callable[[str], str]
) -> None:
    rule = make_rule(db, unique("fridge warm"), [fridge], params={"op": ">", "value": 8})
    topic = telemetry_topic("health", fridge)
    with (
        running_engine(database_url, broker.url) as a,
        running_engine(database_url, broker.url) as b,
        Publisher(broker.url) as pub,
    ):
        for i in range(5):
            pub.send(topic, sample("fridge_temp_c", 9.0 + i / 10, now()))
        wait_for(lambda: alerts_of(db, rule))
        pub.send(topic, sample("fridge_temp_c", 5.0, now()))
        wait_for(lambda: alerts_of(db, rule)[0].state == "resolved")
        a.wait_idle()
        b.wait_idle()
        opened = [
            e.metrics.value("ioc_alerts_transitions_total", action="opened", outcome="written")
            for e in (a, b)
        ]
        already = [
            e.metrics.value("ioc_alerts_transitions_total", action="opened", outcome="already")
            for e in (a, b)
        ]
    assert len(alerts_of(db, rule)) == 1
    # both replicas saw the problem; the database let one of them record it
    assert sum(opened) == 1 and sum(already) >= 1
    [alert] = alerts_of(db, rule)
    assert [h.action for h in alert.history] == ["opened", "resolved"]
    kinds = db.execute(
        "SELECT kind FROM events WHERE (payload->>'id')::bigint = %s ORDER BY id", (alert.id,)
    ).fetchall()
    assert kinds == [("alert.opened",), ("alert.resolved",)]


def test_restart_neither_duplicates_nor_forgets(
    db: Conn, broker: Broker, database_url: str, fridge: str, unique: Callable[[str], str]
) -> None:
    rule = make_rule(db, unique("fridge warm"), [fridge], params={"op": ">", "value": 8})
    topic = telemetry_topic("health", fridge)
    with running_engine(database_url, broker.url), Publisher(broker.url) as pub:
        pub.send(topic, sample("fridge_temp_c", 9.0, now()))
        [first] = wait_for(lambda: alerts_of(db, rule))
    with running_engine(database_url, broker.url) as engine, Publisher(broker.url) as pub:
        assert engine.book.states[(rule.id, fridge)].phase == "firing"
        pub.send(topic, sample("fridge_temp_c", 9.5, now()))
        engine.wait_idle()
        time.sleep(0.3)
        assert [a.id for a in alerts_of(db, rule)] == [first.id]
        pub.send(topic, sample("fridge_temp_c", 6.0, now()))
        wait_for(lambda: alerts_of(db, rule)[0].state == "resolved")
    assert len(alerts_of(db, rule)) == 1


def test_what_happened_while_down_is_caught_at_start(
    db: Conn, broker: Broker, database_url: str, fridge: str, unique: Callable[[str], str]
) -> None:
    rule = make_rule(db, unique("fridge warm"), [fridge], params={"op": ">", "value": 8})
    # ingest stored a warm reading while no engine ran
    db.execute(
        "INSERT INTO latest (device_id, metric, time, value) VALUES (%s, %s, %s, %s)",
        (fridge, "fridge_temp_c", now() - timedelta(seconds=30), 9.9),
    )
    with running_engine(database_url, broker.url):
        [alert] = wait_for(lambda: alerts_of(db, rule))
    assert alert.value == 9.9


def test_absence_on_silence_and_on_last_will(
    db: Conn, broker: Broker, database_url: str, register: Callable[..., None], unique: Any
) -> None:
    quiet, dropped = unique("quiet"), unique("dropped")
    register(NewDevice(quiet, "health", district="D1"), NewDevice(dropped, "health"))
    rule = make_rule(
        db,
        unique("silent"),
        [quiet, dropped],
        kind="absence",
        metric=None,
        params={"after_s": 2},
    )
    with running_engine(database_url, broker.url), Publisher(broker.url) as pub:
        pub.send(telemetry_topic("health", quiet), sample("fridge_temp_c", 5.0, now()))
        # a device connects with its last will, then drops off without a word
        will = Publisher(
            broker.url,
            client_id=dropped,
            topic=status_topic("health", dropped),
            payload='{"state": "offline"}',
            qos=1,
            retain=True,
        )
        will.send(status_topic("health", dropped), {"state": "online"}, retain=True)
        # MQTT v5 reason code 4, "disconnect with will message": the broker publishes the
        # will exactly as if the connection had dropped
        will.client.disconnect(reasoncode=ReasonCode(PacketTypes.DISCONNECT, identifier=4))
        will.client.loop_stop()
        by_subject = wait_for(
            lambda: (
                {a.subject: a for a in alerts_of(db, rule)}
                if len(alerts_of(db, rule)) == 2
                else None
            ),
            timeout=20,
        )
        assert by_subject[dropped].value is None  # offline: fired by the status
        assert by_subject[dropped].history[0].note is None
        assert by_subject[quiet].value is not None and by_subject[quiet].value >= 2
        # both come back
        pub.send(telemetry_topic("health", quiet), sample("fridge_temp_c", 5.0, now()))
        pub.send(status_topic("health", dropped), {"state": "online"}, retain=True)
        wait_for(lambda: all(a.state == "resolved" for a in alerts_of(db, rule)))
    assert len(alerts_of(db, rule)) == 2


def test_retained_offline_status_fires_at_start(
    db: Conn, broker: Broker, database_url: str, register: Callable[..., None], unique: Any
) -> None:
    device = unique("gone")
    register(NewDevice(device, "energy"))
    rule = make_rule(
        db,
        unique("meter silent"),
        [device],
        kind="absence",
        domain="energy",
        metric=None,
        params={"after_s": 3600},
    )
    with Publisher(broker.url) as pub:
        pub.send(status_topic("energy", device), {"state": "offline"}, retain=True)
    with running_engine(database_url, broker.url):
        [alert] = wait_for(lambda: alerts_of(db, rule))
    assert alert.device_id == device


def test_group_rule_over_a_district(
    db: Conn, broker: Broker, database_url: str, register: Callable[..., None], unique: Any
) -> None:
    district = unique("D")
    counters = [unique(f"junction{i}") for i in range(3)]
    register(*(NewDevice(c, "traffic", district=district) for c in counters))
    rule = make_rule(
        db,
        unique("district jam"),
        [],
        kind="group",
        domain="traffic",
        metric="avg_speed_kmh",
        scope={"districts": [district]},
        params={"by": "district", "op": "<", "value": 15, "clear": 20, "window_s": 120},
    )
    with running_engine(database_url, broker.url), Publisher(broker.url) as pub:
        for c, speed in zip(counters, (8.0, 12.0, 16.0), strict=True):
            pub.send(telemetry_topic("traffic", c), sample("avg_speed_kmh", speed, now()))
        [alert] = wait_for(lambda: alerts_of(db, rule))
        assert (alert.subject, alert.device_id, alert.district, alert.value) == (
            f"district:{district}",
            None,
            district,
            12.0,
        )
        for c in counters:
            pub.send(telemetry_topic("traffic", c), sample("avg_speed_kmh", 35.0, now()))
        wait_for(lambda: alerts_of(db, rule)[0].state == "resolved")


def test_rejected_readings_are_dropped(
    db: Conn, broker: Broker, database_url: str, fridge: str, unique: Callable[[str], str]
) -> None:
    rule = make_rule(db, unique("fridge warm"), [fridge], params={"op": ">", "value": 8})
    topic = telemetry_topic("health", fridge)
    with running_engine(database_url, broker.url) as engine, Publisher(broker.url) as pub:
        pub.send(topic, b"{not json")
        pub.send(topic, sample("fridge_temp_c", 999.0, now()))  # out of physical range
        pub.send(telemetry_topic("health", unique("stranger")), sample("fridge_temp_c", 9, now()))
        wait_for(lambda: engine.metrics.value("ioc_alerts_rejected_total", reason="unknown_device"))
        engine.wait_idle()
        assert engine.metrics.value("ioc_alerts_rejected_total", reason="malformed_json") == 1
        assert engine.metrics.value("ioc_alerts_rejected_total", reason="out_of_range") == 1
    assert alerts_of(db, rule) == []


def test_the_cli_service_runs_and_stops_on_sigterm(
    db: Conn, broker: Broker, database_url: str, fridge: str, unique: Callable[[str], str]
) -> None:
    import os
    import signal
    import subprocess
    import sys

    rule = make_rule(db, unique("fridge warm"), [fridge], params={"op": ">", "value": 8})
    env = {
        **os.environ,
        "IOC_DATABASE_URL": database_url,
        "IOC_MQTT_URL": broker.url,
        "IOC_ALERTS_METRICS_PORT": "0",
        "IOC_ALERTS_DOMAINS": "health",
        "IOC_ALERTS_CLIENT_ID": unique("alerts-cli"),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "ioc", "alerts"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        with Publisher(broker.url) as pub:

            def published_and_opened() -> list[Alert]:
                pub.send(telemetry_topic("health", fridge), sample("fridge_temp_c", 9.0, now()))
                return alerts_of(db, rule)

            wait_for(published_and_opened, timeout=30, interval=0.5)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-2000:]
    assert '"event": "alerts service running"' in err
    assert '"event": "alert engine stopped"' in err
    assert len(alerts_of(db, rule)) == 1


def test_a_partition_evaluates_only_its_domains(
    db: Conn, broker: Broker, database_url: str, fridge: str, unique: Callable[[str], str]
) -> None:
    rule = make_rule(db, unique("fridge warm"), [fridge], params={"op": ">", "value": 8})
    topic = telemetry_topic("health", fridge)
    with running_engine(database_url, broker.url, alerts_domains="energy,traffic") as other:
        assert [t for t, _ in other.topics()] == [
            "ioc/v1/energy/+/telemetry",
            "ioc/v1/energy/+/status",
            "ioc/v1/traffic/+/telemetry",
            "ioc/v1/traffic/+/status",
        ]
        assert rule.id not in other.book.rules and fridge not in other.book.devices
        with running_engine(database_url, broker.url, alerts_domains="health") as mine:
            with Publisher(broker.url) as pub:
                pub.send(topic, sample("fridge_temp_c", 9.0, now()))
                [alert] = wait_for(lambda: alerts_of(db, rule))
            mine.wait_idle()
        assert alert.device_id == fridge
        assert other.metrics.value("ioc_alerts_messages_received_total", channel="telemetry") == 0
