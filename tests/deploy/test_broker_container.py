"""The Docker broker's entrypoint and account setup, run here on the real Mosquitto.

Docker cannot run on this machine, but the broker container is only a shell script
around Mosquitto 2 with its dynamic-security plugin, which Debian ships too. So the
script runs as the container would run it (other paths, a free port): anonymous
clients are refused, the services' accounts come from ``accounts.py`` with the project's
roles, ingest may share-subscribe to telemetry and may not publish, the simulator may
publish and may not subscribe.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ioc.telemetry.topics import TELEMETRY_FILTER, shared, telemetry_topic
from testkit.broker import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
ENTRYPOINT = ROOT / "deploy/mosquitto/docker/entrypoint.sh"
ACCOUNTS = ROOT / "deploy/mosquitto/docker/accounts.py"
ADMIN_PASSWORD = "admin-secret"
PASSWORDS = {"ingest": "ingest-secret", "alerts": "alerts-secret", "simulator": "sim-secret"}


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    if shutil.which("mosquitto_ctrl") is None:
        raise RuntimeError("mosquitto_ctrl missing: run deploy/local/infra.sh")
    data = tmp_path_factory.mktemp("mosquitto-data")
    port = free_port()
    env = dict(
        os.environ,
        MQTT_PORT=str(port),
        MQTT_BIND="127.0.0.1",
        MQTT_DATA=str(data),
        MQTT_CONF_DIR=str(ROOT / "deploy/mosquitto"),
        MQTT_RUN_AS=getpass.getuser(),  # the container's "mosquitto" user, here: us
        MQTT_ADMIN_USER="admin",
        MQTT_ADMIN_PASSWORD=ADMIN_PASSWORD,
    )
    log = (data / "entrypoint.log").open("wb")
    proc = subprocess.Popen(["sh", str(ENTRYPOINT)], env=env, stdout=log, stderr=log)
    try:
        wait_for_port(port)
        conf = (data / "mosquitto.conf").read_text()
        assert "allow_anonymous false" in conf and "mosquitto_dynamic_security.so" in conf
        assert "max_queued_messages 20000000" in conf  # the project's settings, rendered
        setup = subprocess.run(
            [sys.executable, str(ACCOUNTS)],
            env=dict(
                os.environ,
                IOC_BROKER_ADMIN_URL=f"mqtt://admin:{ADMIN_PASSWORD}@127.0.0.1:{port}",
                **{f"MQTT_{k.upper()}_PASSWORD": v for k, v in PASSWORDS.items()},
            ),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert setup.returncode == 0, setup.stderr
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def _client(port: int, user: str | None, password: str | None) -> tuple[mqtt.Client, str]:
    """Connect; return the client and the CONNACK reason ("Success" or why not)."""
    # every account is bound to its client id: connect as the account's own
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=user or "", protocol=mqtt.MQTTv5)
    if user:
        c.username_pw_set(user, password)
    result: list[str] = []
    done = threading.Event()

    def on_connect(_c: mqtt.Client, _u: object, _f: object, rc: object, _p: object) -> None:
        result.append(str(rc))
        done.set()

    c.on_connect = on_connect
    c.connect("127.0.0.1", port, keepalive=10)
    c.loop_start()
    assert done.wait(10), "no CONNACK"
    return c, result[0]


def _subscribe(c: mqtt.Client, topic: str) -> bool:
    granted: list[bool] = []
    done = threading.Event()

    def on_subscribe(_c: mqtt.Client, _u: object, _m: int, rcs: list[object], _p: object) -> None:
        granted.append(not any(rc.is_failure for rc in rcs))  # type: ignore[attr-defined]
        done.set()

    c.on_subscribe = on_subscribe
    c.subscribe(topic, qos=1)
    assert done.wait(10)
    return granted[0]


def test_anonymous_and_wrong_passwords_are_refused(broker: int) -> None:
    for user, password in ((None, None), ("ingest-1", "wrong"), ("nobody", "x")):
        c, reason = _client(broker, user, password)
        c.loop_stop()
        assert reason != "Success", f"{user!r} was let in"


def test_ingest_may_share_subscribe_and_receives_what_the_simulator_publishes(broker: int) -> None:
    ingest, reason = _client(broker, "ingest-1", PASSWORDS["ingest"])
    assert reason == "Success"
    got: list[bytes] = []
    arrived = threading.Event()

    def on_message(_c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        got.append(msg.payload)
        arrived.set()

    ingest.on_message = on_message
    assert _subscribe(ingest, shared("ingest", TELEMETRY_FILTER))
    sim, reason = _client(broker, "simulator-0", PASSWORDS["simulator"])
    assert reason == "Success"
    assert not _subscribe(sim, TELEMETRY_FILTER), "the simulator must not read telemetry"
    sim.publish(
        telemetry_topic("traffic", "cam-1"), b'{"ts": 0, "readings": {}}', qos=1
    ).wait_for_publish(10)
    assert arrived.wait(10)
    assert got == [b'{"ts": 0, "readings": {}}']
    for c in (ingest, sim):
        c.disconnect()
        c.loop_stop()


def test_account_setup_is_idempotent(broker: int) -> None:
    again = subprocess.run(
        [sys.executable, str(ACCOUNTS)],
        env=dict(
            os.environ,
            IOC_BROKER_ADMIN_URL=f"mqtt://admin:{ADMIN_PASSWORD}@127.0.0.1:{broker}",
            MQTT_INGEST_PASSWORD="rotated",
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert again.returncode == 0, again.stderr
    c, reason = _client(broker, "ingest-1", "rotated")
    c.loop_stop()
    assert reason == "Success"
