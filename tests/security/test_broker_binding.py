"""A compromised device against the real secured broker (Mosquitto 2.1, dynamic
security, the shipped configuration): it cannot connect with another device's or a
service's client id, cannot publish outside its own two topics or beyond the size
limit, a future-dated status does not pin it online, decommissioning clears its
retained status, and ingest loses nothing while it tries all of this in a loop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ioc.broker_admin.accounts import DynsecAccounts, new_password
from ioc.broker_admin.dynsec import DynsecClient
from ioc.config import parse_mqtt_url
from ioc.errors import FutureTimestamp
from ioc.security import enrolment
from ioc.security.audit import Actor
from ioc.storage.registry import NewDevice
from ioc.telemetry.decoder import DeviceRecord, decode_status
from ioc.telemetry.payloads import format_timestamp
from ioc.telemetry.topics import status_topic, telemetry_topic
from testkit.broker import Broker, dynsec_auth
from testkit.services import running_ingest, wait_for

ADMIN_PASSWORD = "binding-admin-test-pw"
ADMIN = Actor("key:binding", "admin", "127.0.0.1")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
#: PUBACK reasons of an accepted publish (0x10: accepted, nobody subscribed).
ALLOWED = ("Success", "No matching subscribers")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    """One per test: Mosquitto keeps routing a shared group's share to a member whose
    persistent session is offline, so an earlier test's ingest would swallow messages."""
    state = tmp_path / "broker"
    with Broker(state, auth=dynsec_auth(state, "admin", ADMIN_PASSWORD)) as b:
        yield b


@pytest.fixture
def accounts(broker: Broker) -> DynsecAccounts:
    admin = parse_mqtt_url(f"mqtt://admin:{ADMIN_PASSWORD}@127.0.0.1:{broker.port}")
    a = DynsecAccounts(DynsecClient(admin))
    a.grant_status_clearing()  # what `ioc broker bootstrap` does
    return a


@dataclass
class Client:
    """An MQTT v5 connection that records its CONNACK, PUBACKs and what it receives."""

    broker: Broker
    username: str
    password: str
    client_id: str
    acks: dict[int, str] = field(default_factory=dict)
    received: list[mqtt.MQTTMessage] = field(default_factory=list)
    connack: str | None = None
    changed: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5)
        c.username_pw_set(self.username, self.password)
        c.on_connect = self._on_connect
        c.on_publish = self._on_publish
        c.on_message = self._on_message
        self.c = c
        c.connect("127.0.0.1", self.broker.port, keepalive=10)
        c.loop_start()
        with self.changed:
            assert self.changed.wait_for(lambda: self.connack is not None, timeout=5)

    def _on_connect(self, _c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        with self.changed:
            self.connack = str(rc)
            self.changed.notify_all()

    def _on_publish(self, _c: Any, _u: Any, mid: int, rc: Any, _p: Any) -> None:
        with self.changed:
            self.acks[mid] = str(rc)
            self.changed.notify_all()

    def _on_message(self, _c: Any, _u: Any, msg: mqtt.MQTTMessage) -> None:
        with self.changed:
            self.received.append(msg)
            self.changed.notify_all()

    @property
    def accepted(self) -> bool:
        return self.connack == "Success"

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> str:
        """QoS 1; the PUBACK's reason ("Success", "Not authorized", …) or "dropped"
        when the broker closed the connection instead."""
        info = self.c.publish(topic, payload, qos=1, retain=retain)
        with self.changed:
            self.changed.wait_for(
                lambda: info.mid in self.acks or not self.c.is_connected(), timeout=5
            )
            return self.acks.get(info.mid, "dropped")

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def device(accounts: DynsecAccounts, device_id: str, domain: str) -> str:
    password = new_password()
    accounts.create_device(device_id, password, domain)
    return password


def reading(value: float, at: datetime | None = None, seq: int | None = None) -> bytes:
    body: dict[str, Any] = {
        "ts": format_timestamp(at or datetime.now(UTC)),
        "readings": {"voltage_v": value},
    }
    if seq is not None:
        body["seq"] = seq
    return json.dumps(body).encode()


def test_a_future_status_is_refused_by_the_decoder() -> None:
    devices = {"m-1": DeviceRecord("m-1", "energy")}.get
    topic = status_topic("energy", "m-1")
    with pytest.raises(FutureTimestamp, match="ahead of the center's clock"):
        decode_status(topic, b'{"state": "online", "ts": "2199-01-01T00:00:00Z"}', NOW, devices)
    skewed = format_timestamp(NOW + timedelta(minutes=4))  # within the contract's tolerance
    update = decode_status(
        topic, json.dumps({"state": "online", "ts": skewed}).encode(), NOW, devices
    )
    assert update.online and update.ts == NOW + timedelta(minutes=4)


def test_an_account_connects_only_with_its_own_client_id(
    broker: Broker, accounts: DynsecAccounts, unique: Callable[[str], str]
) -> None:
    me, victim = unique("bind-me"), unique("bind-victim")
    mine, theirs = device(accounts, me, "energy"), device(accounts, victim, "energy")
    service = unique("ingest")
    accounts.ensure_service("ingest", new_password(), account=service)
    honest = Client(broker, victim, theirs, victim)
    try:
        assert honest.accepted
        for stolen in (victim, service, "ioc-ingest-host", "alerts-1", ""):
            attempt = Client(broker, me, mine, stolen)
            attempt.close()
            assert not attempt.accepted, f"{me} connected as client id {stolen!r}"
        assert honest.c.is_connected(), "the victim's session was taken over"
        own = Client(broker, me, mine, me)
        own.close()
        assert own.accepted
    finally:
        honest.close()


def test_a_device_publishes_only_its_own_two_topics_within_the_size(
    broker: Broker, accounts: DynsecAccounts, unique: Callable[[str], str]
) -> None:
    me, other = unique("pub-me"), unique("pub-other")
    client = Client(broker, me, device(accounts, me, "energy"), me)
    try:
        assert client.publish(telemetry_topic("energy", me), reading(230)) in ALLOWED
        assert client.publish(status_topic("energy", me), b'{"state": "online"}', True) in ALLOWED
        for topic in (
            telemetry_topic("traffic", me),  # another domain
            status_topic("health", me),
            f"ioc/v1/energy/{me}/telemetry/deeper",  # another depth
            f"ioc/v1/energy/{me}/metrics",
            telemetry_topic("energy", other),  # another device
            "ioc/v1/energy",
            "$CONTROL/dynamic-security/v1",
        ):
            assert client.publish(topic, reading(230)) == "Not authorized", topic
        # twice the contract's 64 KiB is the broker's limit: past it, refused outright
        assert client.publish(telemetry_topic("energy", me), b"x" * (140 * 1024)) not in ALLOWED
    finally:
        client.close()


def test_a_future_status_does_not_pin_a_device_online(
    broker: Broker,
    accounts: DynsecAccounts,
    database_url: str,
    register: Callable[..., None],
    unique: Callable[[str], str],
) -> None:
    me = unique("future")
    register(NewDevice(me, "energy"))
    client = Client(broker, me, device(accounts, me, "energy"), me)
    ingest = unique("ingest")
    password = new_password()
    accounts.ensure_service("ingest", password, account=ingest)
    url = f"mqtt://{ingest}:{password}@127.0.0.1:{broker.port}"
    topic = status_topic("energy", me)

    def state() -> tuple[object, ...] | None:
        with psycopg.connect(database_url) as conn:
            return conn.execute(
                "SELECT online, status_at FROM devices WHERE device_id = %s", (me,)
            ).fetchone()

    def dead_letter() -> object:
        with psycopg.connect(database_url) as conn:
            return conn.execute(
                "SELECT reason FROM dead_letters WHERE device_id = %s", (me,)
            ).fetchone()

    try:
        with running_ingest(database_url, url, ingest_client_id=ingest, ingest_group="ingest"):
            pinned = json.dumps({"state": "online", "ts": "2199-01-01T00:00:00Z"}).encode()
            assert client.publish(topic, pinned, retain=True) in ALLOWED
            assert wait_for(dead_letter) == ("future_timestamp",)
            now = format_timestamp(datetime.now(UTC))
            offline = json.dumps({"state": "offline", "ts": now}).encode()
            assert client.publish(topic, offline, retain=True) in ALLOWED
            row = wait_for(lambda: (s := state()) is not None and s[1] is not None and s)
            assert row[0] is False and row[1].year < 2199
    finally:
        client.close()


def test_decommission_clears_the_retained_status(
    broker: Broker,
    accounts: DynsecAccounts,
    db: psycopg.Connection[tuple[object, ...]],
    unique: Callable[[str], str],
) -> None:
    me = unique("gone")
    enrolled = enrolment.register(db, ADMIN, NewDevice(me, "agriculture"), accounts)
    assert enrolled.password is not None
    client = Client(broker, me, enrolled.password, me)
    topic = status_topic("agriculture", me)
    assert client.publish(topic, b'{"state": "online"}', retain=True) in ALLOWED

    def retained() -> list[bytes]:
        watcher = Client(broker, "admin", ADMIN_PASSWORD, unique("watch"))
        try:
            watcher.c.subscribe(topic, qos=1)
            time.sleep(0.3)  # retained messages arrive right after the SUBACK, or not at all
            return [m.payload for m in watcher.received if m.retain]
        finally:
            watcher.close()

    assert retained() == [b'{"state": "online"}']
    enrolment.decommission(db, ADMIN, me, accounts)
    client.close()
    assert retained() == []


def test_ingest_loses_nothing_while_a_device_attacks(
    broker: Broker,
    accounts: DynsecAccounts,
    database_url: str,
    register: Callable[..., None],
    unique: Callable[[str], str],
    tmp_path: Path,
) -> None:
    """An honest device sends 150 readings while an attacker, with its own valid
    account, loops (at most 300 rounds or 20 s) through every trick above."""
    honest, attacker = unique("honest"), unique("attacker")
    register(NewDevice(honest, "energy"), NewDevice(attacker, "energy"))
    honest_pw, attacker_pw = (
        device(accounts, honest, "energy"),
        device(accounts, attacker, "energy"),
    )
    ingest, ingest_pw = unique("ingest"), new_password()
    accounts.ensure_service("ingest", ingest_pw, account=ingest)
    url = f"mqtt://{ingest}:{ingest_pw}@127.0.0.1:{broker.port}"
    stop = threading.Event()
    tries = {"connected_as_other": 0, "rounds": 0, "accepted_abuse": 0}

    def attack() -> None:
        deadline = time.monotonic() + 20
        while not stop.is_set() and tries["rounds"] < 300 and time.monotonic() < deadline:
            tries["rounds"] += 1
            for stolen in (ingest, honest):
                c = Client(broker, attacker, attacker_pw, stolen)
                c.close()
                tries["connected_as_other"] += c.accepted
            own = Client(broker, attacker, attacker_pw, attacker)
            try:
                for topic, retain in (
                    (telemetry_topic("energy", honest), False),
                    (telemetry_topic("traffic", attacker), False),
                    (f"ioc/v1/energy/{attacker}/telemetry/x", True),
                ):
                    tries["accepted_abuse"] += own.publish(topic, reading(1), retain) in ALLOWED
                own.publish(telemetry_topic("energy", attacker), b"x" * (140 * 1024))
            finally:
                own.close()

    start = datetime.now(UTC) - timedelta(minutes=3)
    with running_ingest(database_url, url, ingest_client_id=ingest, ingest_group="ingest"):
        attacker_thread = threading.Thread(target=attack)
        attacker_thread.start()
        sender = Client(broker, honest, honest_pw, honest)
        try:
            topic = telemetry_topic("energy", honest)
            for i in range(150):
                at = start + timedelta(seconds=i)
                assert sender.publish(topic, reading(200 + i % 50, at, i)) in ALLOWED
        finally:
            sender.close()
            stop.set()
            attacker_thread.join(timeout=30)

        def stored() -> int:
            with psycopg.connect(database_url) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM readings WHERE device_id = %s", (honest,)
                ).fetchone()
            return int(row[0]) if row else 0

        wait_for(lambda: stored() == 150, timeout=30)
    assert stored() == 150
    assert tries["rounds"] >= 1
    assert tries["connected_as_other"] == 0 and tries["accepted_abuse"] == 0


def test_bootstrap_makes_one_bound_account_per_replica_connection(
    broker: Broker, accounts: DynsecAccounts, unique: Callable[[str], str]
) -> None:
    """``ioc broker bootstrap --service ingest=<name>:2`` prints two accounts, each of
    which connects with its own name as client id and with nothing else."""
    name = unique("ingest")
    done = subprocess.run(
        [sys.executable, "-m", "ioc", "broker", "bootstrap", "--service", f"ingest={name}:2"],
        env={
            **os.environ,
            "IOC_BROKER_ADMIN_URL": f"mqtt://admin:{ADMIN_PASSWORD}@127.0.0.1:{broker.port}",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    urls = dict(line.split("\t") for line in done.stdout.splitlines())
    assert set(urls) == {f"{name}-0", f"{name}-1"}
    for account, url in urls.items():
        endpoint = parse_mqtt_url(url)
        assert endpoint.username == account and endpoint.password
        good = Client(broker, account, endpoint.password, account)
        good.close()
        bad = Client(broker, account, endpoint.password, f"{name}-other")
        bad.close()
        assert good.accepted and not bad.accepted
