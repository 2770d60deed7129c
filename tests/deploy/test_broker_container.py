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
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from ioc.telemetry.topics import TELEMETRY_FILTER, shared, status_topic, telemetry_topic
from testkit.broker import MOSQUITTO_HOME, free_port, wait_for_port

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
        # the retain guard, from the same plugin directory, checked before dynamic security
        guard = conf.index("/ioc_retain_guard.so\n")
        assert guard < conf.index("/mosquitto_dynamic_security.so\n")
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


def test_retained_telemetry_is_refused_and_retained_status_kept(broker: int) -> None:
    """The container's broker loads the retain guard: even the simulator, which may
    publish as any device, cannot leave a retained telemetry message on the broker."""
    sim, reason = _client(broker, "simulator-0", PASSWORDS["simulator"])
    assert reason == "Success"
    acks: dict[int, str] = {}
    acked = threading.Condition()

    def on_publish(_c: mqtt.Client, _u: object, mid: int, rc: object, _p: object) -> None:
        with acked:
            acks[mid] = str(rc)
            acked.notify_all()

    sim.on_publish = on_publish

    def publish(topic: str, retain: bool) -> str:
        mid = sim.publish(topic, b'{"ts": 0, "readings": {}}', qos=1, retain=retain).mid
        with acked:
            assert acked.wait_for(lambda: mid in acks, timeout=10)
        return acks[mid]

    try:
        assert publish(telemetry_topic("traffic", "cam-9"), retain=True) == "Not authorized"
        assert publish(telemetry_topic("traffic", "cam-9"), retain=False) != "Not authorized"
        assert publish(status_topic("traffic", "cam-9"), retain=True) != "Not authorized"
    finally:
        sim.disconnect()
        sim.loop_stop()


def _dockerfile() -> str:
    return (ROOT / "deploy/mosquitto/docker/Dockerfile").read_text()


def test_the_broker_image_is_the_official_one_plus_the_plugin() -> None:
    """deploy/mosquitto/docker/Dockerfile as data (Docker cannot run here): a build
    stage and the pinned official image, the plugin compiled against the headers of the
    same Mosquitto release and installed where the entrypoint looks for plugins."""
    text = _dockerfile()
    bases = [line.split()[1] for line in text.splitlines() if line.startswith("FROM ")]
    assert len(bases) == 2 and bases[-1] == "eclipse-mosquitto:2.1.2-alpine"
    for base in bases:
        assert re.fullmatch(r"[a-z0-9./-]+:\d+\.\d+\.\d+(-[a-z0-9.-]+)?", base), base
    mosquitto_version = bases[-1].split(":")[1].split("-")[0]
    assert f"'mosquitto-dev~{mosquitto_version}'" in text, "headers of another release"
    assert "COPY --from=plugin /src/ioc_retain_guard.so /usr/lib/ioc_retain_guard.so" in text
    context = ROOT / "deploy/mosquitto"
    for line in text.splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            for source in line.split()[1:-1]:
                assert (context / source).is_file(), f"{source} is not in the build context"
    assert 'ENTRYPOINT ["/bin/sh", "/ioc/entrypoint.sh"]' in text


def test_the_plugin_compiles_as_the_image_compiles_it(tmp_path: Path) -> None:
    """The Dockerfile's compiler line, run here against the 2.1.2 headers of the local
    build (the same release), with every warning an error; the result exports the plugin
    interface and needs nothing but libc and the broker."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    assert compiler, "no C compiler: run deploy/local/infra.sh"
    command = re.search(r"RUN (cc [^\n]*\\\n[^\n]*)", _dockerfile())
    assert command, "the Dockerfile compiles the plugin with cc"
    args = command.group(1).replace("\\\n", " ").split()[1:]
    source = ROOT / "deploy/mosquitto/plugins/ioc_retain_guard.c"
    output = tmp_path / "ioc_retain_guard.so"
    args = [
        str(source) if a.endswith(".c") else str(output) if a.endswith(".so") else a for a in args
    ]
    include = MOSQUITTO_HOME / "include"
    done = subprocess.run([compiler, f"-I{include}", *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    symbols = subprocess.run(["nm", "-D", str(output)], capture_output=True, text=True).stdout
    for name in ("mosquitto_plugin_version", "mosquitto_plugin_init", "mosquitto_plugin_cleanup"):
        assert f" T {name}" in symbols


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
