"""Device credentials on a secured Mosquitto (dynamic-security plugin), through the API:
a registered device can publish its own two topics only, and connect only with its own
id as client id; decommissioned, it is cut off at once and cannot log in again.
Services get their own accounts, bound to their client ids."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from ioc.broker_admin.accounts import DynsecAccounts, new_password
from ioc.errors import Conflict
from ioc.security.roles import Role
from testkit.broker import Broker

Auth = Callable[[Role], dict[str, str]]


class Device:
    """An MQTT v5 client that records connect results, PUBACK reason codes, disconnects."""

    def __init__(
        self, broker: Broker, username: str, password: str, client_id: str | None = None
    ) -> None:
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.connect_rc: Any = None
        self.acks: dict[int, Any] = {}
        self.acked = threading.Condition()
        self.c = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=username if client_id is None else client_id,  # accounts are bound
            protocol=mqtt.MQTTv5,
        )
        self.c.username_pw_set(username, password)
        self.c.on_connect = self._on_connect
        self.c.on_publish = self._on_publish
        self.c.on_disconnect = lambda *a: self.disconnected.set()
        self.subacks: dict[int, list[Any]] = {}
        self.c.on_subscribe = self._on_subscribe
        self.c.connect("127.0.0.1", broker.port)
        self.c.loop_start()

    def _on_connect(self, _c: Any, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
        self.connect_rc = rc
        self.connected.set()

    def _on_publish(self, _c: Any, _u: Any, mid: int, rc: Any, _p: Any) -> None:
        with self.acked:
            self.acks[mid] = rc
            self.acked.notify_all()

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, rcs: list[Any], _p: Any) -> None:
        with self.acked:
            self.subacks[mid] = rcs
            self.acked.notify_all()

    def subscribe(self, topic: str) -> bool:
        """True when the broker granted the subscription."""
        _, mid = self.c.subscribe(topic, qos=1)
        with self.acked:
            assert self.acked.wait_for(lambda: mid in self.subacks, timeout=5), "no SUBACK"
            return not any(rc.is_failure for rc in self.subacks[mid])

    def publish(self, topic: str, payload: bytes = b'{"readings": {}}') -> str:
        """Publish QoS 1 and return the broker's PUBACK reason."""
        mid = self.c.publish(topic, payload, qos=1).mid
        with self.acked:
            assert self.acked.wait_for(lambda: mid in self.acks, timeout=5), "no PUBACK"
            return str(self.acks[mid])

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def connect(broker: Broker, username: str, password: str, client_id: str | None = None) -> Device:
    d = Device(broker, username, password, client_id)
    assert d.connected.wait(5)
    return d


def test_registered_device_publishes_only_as_itself(
    secured_client: TestClient,
    secured_broker: Broker,
    auth: Auth,
    unique: Callable[[str], str],
) -> None:
    me, other = unique("dyn-a"), unique("dyn-b")
    creds = {}
    for dev in (me, other):
        r = secured_client.post(
            "/api/v1/devices", json={"device_id": dev, "domain": "energy"}, headers=auth(Role.ADMIN)
        )
        assert r.status_code == 201, r.text
        creds[dev] = r.json()["credentials"]
        assert creds[dev]["username"] == dev and len(creds[dev]["password"]) >= 24
        domain = creds[dev]["publish_topics"].split("/")[2]
        assert creds[dev]["publish_topics"] == f"ioc/v1/{domain}/{dev}/+"
        assert creds[dev]["topics"] == [
            f"ioc/v1/{domain}/{dev}/telemetry",
            f"ioc/v1/{domain}/{dev}/status",
        ]

    device = connect(secured_broker, me, creds[me]["password"])
    try:
        assert not device.connect_rc.is_failure
        assert device.publish(f"ioc/v1/energy/{me}/telemetry") != "Not authorized"
        assert device.publish(f"ioc/v1/energy/{me}/status") != "Not authorized"
        # Another domain, another depth, another device's topic, or anything outside the
        # scheme: refused by the broker.
        assert device.publish(f"ioc/v1/traffic/{me}/telemetry") == "Not authorized"
        assert device.publish(f"ioc/v1/energy/{me}/telemetry/x") == "Not authorized"
        assert device.publish(f"ioc/v1/energy/{other}/telemetry") == "Not authorized"
        assert device.publish("ioc/v1/energy/+/telemetry".replace("+", "x")) == "Not authorized"
        assert device.publish("$CONTROL/dynamic-security/v1") == "Not authorized"

        gone = secured_client.delete(f"/api/v1/devices/{me}", headers=auth(Role.ADMIN))
        assert gone.status_code == 200
        assert device.disconnected.wait(5), "a decommissioned device keeps its session"
    finally:
        device.close()

    # its own credentials with another client id (another device's): refused
    impostor = Device(secured_broker, other, creds[other]["password"], client_id=me)
    try:
        assert impostor.connected.wait(5) and impostor.connect_rc.is_failure
    finally:
        impostor.close()

    again = Device(secured_broker, me, creds[me]["password"])
    try:
        assert again.connected.wait(5)
        assert again.connect_rc.is_failure  # Not authorized: its credentials are gone
    finally:
        again.close()

    wrong = Device(secured_broker, other, "not-the-password")
    try:
        assert wrong.connected.wait(5) and wrong.connect_rc.is_failure
    finally:
        wrong.close()


def test_password_is_not_stored(
    secured_client: TestClient, auth: Auth, database_url: str, unique: Callable[[str], str]
) -> None:
    import psycopg

    dev = unique("dyn-h")
    r = secured_client.post(
        "/api/v1/devices", json={"device_id": dev, "domain": "health"}, headers=auth(Role.ADMIN)
    )
    password = r.json()["credentials"]["password"]
    with psycopg.connect(database_url) as conn:
        stored = conn.execute(
            "SELECT password_hash FROM device_credentials WHERE device_id = %s", (dev,)
        ).fetchone()
        audit_text = conn.execute("SELECT string_agg(detail::text, ' ') FROM audit_log").fetchone()
    assert stored is not None and password not in stored[0]
    assert audit_text is not None and password not in (audit_text[0] or "")
    again = secured_client.get(f"/api/v1/devices/{dev}", headers=auth(Role.VIEWER)).text
    assert password not in again


def test_service_accounts(secured_broker: Broker, dynsec_accounts: DynsecAccounts) -> None:
    password = new_password()
    assert dynsec_accounts.ensure_service("ingest", password, reset=True) is True
    assert dynsec_accounts.ensure_service("ingest", new_password()) is False  # left alone
    ingest = connect(secured_broker, "ingest", password)
    try:
        assert not ingest.connect_rc.is_failure
        # ingest subscribes; it may not publish telemetry as if it were a device.
        assert ingest.publish("ioc/v1/traffic/x/telemetry") == "Not authorized"
        assert ingest.subscribe("$share/ingest/ioc/v1/+/+/telemetry")
        assert ingest.subscribe("ioc/v1/+/+/status")
        assert not ingest.subscribe("$CONTROL/dynamic-security/v1/response")
    finally:
        ingest.close()


def test_broker_refusal_rolls_back_registration(
    secured_client: TestClient,
    dynsec_accounts: DynsecAccounts,
    auth: Auth,
    unique: Callable[[str], str],
) -> None:
    dev = unique("dyn-c")
    dynsec_accounts.create_device(dev, new_password())  # a stale account in the broker
    r = secured_client.post(
        "/api/v1/devices", json={"device_id": dev, "domain": "traffic"}, headers=auth(Role.ADMIN)
    )
    assert r.status_code == 409
    assert (
        secured_client.get(f"/api/v1/devices/{dev}", headers=auth(Role.VIEWER)).status_code == 404
    )
    with pytest.raises(Conflict):
        dynsec_accounts.create_device(dev, new_password())


def test_device_to_database_through_the_secured_broker(
    secured_client: TestClient,
    secured_broker: Broker,
    dynsec_accounts: DynsecAccounts,
    database_url: str,
    auth: Auth,
    unique: Callable[[str], str],
) -> None:
    """Registered through the API, the device's reading reaches the database through
    ingest's own broker account; decommissioned, it can no longer send."""
    import json
    from datetime import UTC, datetime

    import psycopg

    from testkit.services import running_ingest, wait_for

    ingest_pw = new_password()
    dynsec_accounts.ensure_service("ingest", ingest_pw, reset=True)
    dev = unique("dyn-e2e")
    r = secured_client.post(
        "/api/v1/devices", json={"device_id": dev, "domain": "energy"}, headers=auth(Role.ADMIN)
    )
    password = r.json()["credentials"]["password"]
    ingest_url = f"mqtt://ingest:{ingest_pw}@127.0.0.1:{secured_broker.port}"
    with running_ingest(database_url, ingest_url, ingest_group="ingest", ingest_client_id="ingest"):
        device = connect(secured_broker, dev, password)
        try:
            sample = {"ts": datetime.now(UTC).isoformat(), "readings": {"voltage_v": 231.5}}
            assert (
                device.publish(f"ioc/v1/energy/{dev}/telemetry", json.dumps(sample).encode())
                != "Not authorized"
            )

            def stored() -> object:
                with psycopg.connect(database_url) as conn:
                    return conn.execute(
                        "SELECT value FROM readings WHERE device_id = %s", (dev,)
                    ).fetchone()

            assert wait_for(stored, timeout=15) == (231.5,)
            # a topic no contract names: the broker refuses it now (it used to reach
            # ingest as a bad_topic dead letter)
            assert (
                device.publish(f"ioc/v1/energy/{dev}/metrics", json.dumps(sample).encode())
                == "Not authorized"
            )
            secured_client.delete(f"/api/v1/devices/{dev}", headers=auth(Role.ADMIN))
            assert device.disconnected.wait(5)
        finally:
            device.close()
