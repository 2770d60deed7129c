"""Retained telemetry is refused by the broker; retained status still works.

Dynamic-security ACLs ignore the retain flag, so the project's own plugin
(deploy/mosquitto/plugins/ioc_retain_guard.c, loaded by ioc.conf.in before dynamic
security) refuses a retained PUBLISH under ``ioc/v1/`` unless it is ``…/status``. Shown
against the real brokers of the shipped configuration: the secured one (a device with
its own account, ingest storing what flows) and the anonymous development one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from ioc.broker_admin.accounts import DynsecAccounts, new_password
from ioc.broker_admin.dynsec import DynsecClient
from ioc.config import parse_mqtt_url
from ioc.storage.registry import NewDevice
from ioc.telemetry.topics import status_topic, telemetry_topic
from testkit.broker import CONF_TEMPLATE, Broker, dynsec_auth
from testkit.services import running_ingest, wait_for
from tests.security.test_broker_binding import ADMIN_PASSWORD, ALLOWED, Client, device, reading

#: MQTT v5 PUBACK reason 0x87.
NOT_AUTHORIZED = 135
STATUS = b'{"state": "online"}'


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Broker]:
    """A secured broker per test (dynamic security, the shipped configuration)."""
    state = tmp_path / "broker"
    with Broker(state, auth=dynsec_auth(state, "admin", ADMIN_PASSWORD)) as b:
        yield b


@pytest.fixture
def accounts(secured: Broker) -> DynsecAccounts:
    admin = parse_mqtt_url(f"mqtt://admin:{ADMIN_PASSWORD}@127.0.0.1:{secured.port}")
    return DynsecAccounts(DynsecClient(admin))


def retained_for_a_new_subscriber(
    at: Broker, sender: Client, domain: str, watcher_id: str
) -> list[tuple[str, bytes]]:
    """The retained messages a new subscriber to the device's topics is given.

    Mosquitto queues retained messages while it handles the SUBSCRIBE, before anything
    published after the SUBACK: once a fresh (non-retained) marker from the device has
    arrived on the same connection, every retained message there is has arrived too."""
    me = sender.client_id
    watcher = Client(at, "admin", ADMIN_PASSWORD, watcher_id)  # anonymous broker: any login
    subscribed = threading.Event()
    watcher.c.on_subscribe = lambda *_: subscribed.set()
    try:
        watcher.c.subscribe(f"ioc/v1/{domain}/{me}/+", qos=1)
        assert subscribed.wait(5), "no SUBACK"
        marker = reading(1.0)
        assert sender.publish(telemetry_topic(domain, me), marker) in ALLOWED
        with watcher.changed:
            assert watcher.changed.wait_for(
                lambda: any(m.payload == marker for m in watcher.received), timeout=5
            )
        return [(m.topic, m.payload) for m in watcher.received if m.retain]
    finally:
        watcher.close()


def test_the_guard_is_loaded_before_dynamic_security() -> None:
    """ACL checks run through the plugins in the order of their ``plugin`` lines, and
    dynamic security's "allowed" would end the check before the guard saw it."""
    conf = CONF_TEMPLATE.read_text()
    assert "plugin @PLUGIN_DIR@/ioc_retain_guard.so" in conf
    assert conf.index("ioc_retain_guard.so") < conf.index("\n@AUTH@")


def test_a_device_cannot_retain_telemetry_but_retains_its_status(
    secured: Broker, accounts: DynsecAccounts, unique: Callable[[str], str]
) -> None:
    me = unique("retain")
    client = Client(secured, me, device(accounts, me, "energy"), me)
    try:
        telemetry = telemetry_topic("energy", me)
        assert client.publish(telemetry, reading(230), retain=True) == "Not authorized"
        # at QoS 0 there is no answer: the broker drops it and keeps nothing either
        client.c.publish(telemetry, reading(231), qos=0, retain=True).wait_for_publish(5)
        # anything else a device might try to retain under ioc/v1/ is refused too
        assert client.publish(f"ioc/v1/energy/{me}/status/x", STATUS, True) == "Not authorized"
        assert client.publish(status_topic("energy", me), STATUS, retain=True) in ALLOWED
        assert client.c.is_connected()
        got = retained_for_a_new_subscriber(secured, client, "energy", unique("watch"))
        assert got == [(status_topic("energy", me), STATUS)]
    finally:
        client.close()


def test_refused_retained_telemetry_is_logged(
    secured: Broker, accounts: DynsecAccounts, unique: Callable[[str], str]
) -> None:
    """The refusal names the client and topic (a security event the broker reports)."""
    me = unique("logged")
    client = Client(secured, me, device(accounts, me, "energy"), me)
    try:
        assert client.publish(telemetry_topic("energy", me), reading(1), True) == "Not authorized"
    finally:
        client.close()
    line = f"ioc_retain_guard: refused retained publish from {me} on ioc/v1/energy/{me}/telemetry"
    assert wait_for(lambda: line in secured.log(), timeout=5)


def test_plain_telemetry_still_flows_and_is_stored(
    secured: Broker,
    accounts: DynsecAccounts,
    database_url: str,
    register: Callable[..., None],
    unique: Callable[[str], str],
) -> None:
    """Retained and plain readings interleaved: ingest stores exactly the plain ones."""
    me = unique("flows")
    register(NewDevice(me, "energy"))
    client = Client(secured, me, device(accounts, me, "energy"), me)
    ingest, password = unique("ingest"), new_password()
    accounts.ensure_service("ingest", password, account=ingest)
    url = f"mqtt://{ingest}:{password}@127.0.0.1:{secured.port}"
    start = datetime.now(UTC) - timedelta(minutes=2)
    topic = telemetry_topic("energy", me)

    def stored() -> list[float]:
        with psycopg.connect(database_url) as conn:
            rows = conn.execute(
                "SELECT value FROM readings WHERE device_id = %s ORDER BY time", (me,)
            ).fetchall()
        return [float(r[0]) for r in rows]

    try:
        with running_ingest(database_url, url, ingest_client_id=ingest, ingest_group="ingest"):
            for i in range(20):
                retain = i % 2 == 1
                answer = client.publish(
                    topic, reading(200 + i, start + timedelta(seconds=i)), retain
                )
                assert answer == ("Not authorized" if retain else "Success"), (i, answer)
            plain = [200.0 + i for i in range(0, 20, 2)]
            assert wait_for(lambda: stored() == plain, timeout=20)
    finally:
        client.close()


def test_the_anonymous_broker_refuses_retained_telemetry_too(
    broker: Broker, unique: Callable[[str], str]
) -> None:
    """Where the guard is the only ACL check: it refuses retained telemetry and lets
    everything else through (it steps aside rather than deferring, which would deny)."""
    me = unique("anon")
    client = Client(broker, me, "anything", me)  # no accounts here: any login is let in
    try:
        telemetry = telemetry_topic("traffic", me)
        assert client.publish(telemetry, reading(1), retain=True) == "Not authorized"
        assert client.publish(status_topic("traffic", me), STATUS, retain=True) in ALLOWED
        assert client.publish(f"scratch/{me}", b"kept", retain=True) in ALLOWED
        assert client.publish(telemetry, reading(2)) in ALLOWED
        got = retained_for_a_new_subscriber(broker, client, "traffic", unique("watch"))
        assert got == [(status_topic("traffic", me), STATUS)]
    finally:
        client.close()
