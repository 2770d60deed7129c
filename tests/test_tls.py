"""TLS on every hop, against the real Mosquitto and the real API process: ingest, the
alert engine, the simulator and the broker admin work over ``mqtts://`` with the
project's private CA; the API serves HTTPS with its certificate; a client that does not
trust the CA is refused, and nothing crosses in clear."""

from __future__ import annotations

import getpass
import json
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import psycopg
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from devices.simulator.engine import Message
from devices.simulator.sinks import Pooled
from ioc.broker_admin.accounts import DynsecAccounts, new_password
from ioc.broker_admin.certs import TlsFiles, ensure
from ioc.broker_admin.dynsec import DynsecClient
from ioc.config import Settings, parse_mqtt_url
from ioc.errors import BrokerUnavailable
from ioc.mqtt.paho import apply_tls
from ioc.storage.registry import NewDevice
from ioc.telemetry.topics import telemetry_topic
from testkit.broker import Broker, dynsec_auth, free_port, wait_for_port
from testkit.services import running_ingest, wait_for
from tests.alerts.conftest import running_engine

ADMIN_PASSWORD = "tls-admin-test-pw"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return ensure(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory, tls: TlsFiles) -> Iterator[Broker]:
    state = tmp_path_factory.mktemp("tls-broker")
    auth = dynsec_auth(state, "admin", ADMIN_PASSWORD)
    with Broker(state, auth=auth, tls_dir=tls.ca.parent) as b:
        yield b


def url(broker: Broker, user: str, password: str) -> str:
    return f"mqtts://{user}:{password}@localhost:{broker.tls_port}"


@pytest.fixture(scope="module")
def accounts(tls_broker: Broker, tls: TlsFiles) -> DynsecAccounts:
    admin = parse_mqtt_url(url(tls_broker, "admin", ADMIN_PASSWORD), ca_file=str(tls.ca))
    return DynsecAccounts(DynsecClient(admin))


def sample(value: float) -> bytes:
    return json.dumps(
        {"ts": datetime.now(UTC).isoformat(), "readings": {"voltage_v": value}}
    ).encode()


def stored(database_url: str, device_id: str) -> list[float]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT value FROM readings WHERE device_id = %s ORDER BY time", (device_id,)
        ).fetchall()
    return [float(r[0]) for r in rows]


def connect_result(endpoint_url: str, client_id: str, ca: str | None) -> str:
    """Connect over TLS; the CONNACK reason, or the error that stopped the handshake."""
    endpoint = parse_mqtt_url(endpoint_url, ca_file=ca)
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.username_pw_set(endpoint.username, endpoint.password)
    apply_tls(c, endpoint)
    try:
        c.connect(endpoint.host, endpoint.port, keepalive=10)
    except OSError as exc:  # ssl.SSLError included
        c._reset_sockets()
        return type(exc).__name__
    c.loop_start()
    try:
        deadline = time.monotonic() + 5
        while not c.is_connected() and time.monotonic() < deadline:
            time.sleep(0.02)
        return "Success" if c.is_connected() else "no CONNACK"
    finally:
        c.disconnect()
        c.loop_stop()
        c._reset_sockets()


# paho drops the TLS socket of a failed handshake without closing it (the garbage
# collector does): that ResourceWarning is paho's, not the test's.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_client_without_the_ca_is_refused_and_with_it_connects(
    tls_broker: Broker, tls: TlsFiles, accounts: DynsecAccounts, unique: Callable[[str], str]
) -> None:
    dev, password = unique("tls-dev"), new_password()
    accounts.create_device(dev, password, "energy")
    device_url = url(tls_broker, dev, password)
    # the system's CAs do not know ours: the handshake fails before any password is sent
    assert connect_result(device_url, dev, None) == "SSLCertVerificationError"
    assert connect_result(device_url, dev, str(tls.ca)) == "Success"
    # plain MQTT spoken to the TLS port gets nowhere either
    plain = f"mqtt://{dev}:{password}@127.0.0.1:{tls_broker.tls_port}"
    assert connect_result(plain, dev, None) != "Success"
    # the simulator's connection says why, as the IOC's own error
    sink = Pooled(parse_mqtt_url(f"mqtts://localhost:{tls_broker.tls_port}"), 1, 1)
    with pytest.raises(BrokerUnavailable, match="CERTIFICATE_VERIFY_FAILED"):
        sink.open()


def test_mutual_tls_client_certificate_is_accepted(
    tls_broker: Broker, tls: TlsFiles, accounts: DynsecAccounts, unique: Callable[[str], str]
) -> None:
    dev, password = unique("tls-mtls"), new_password()
    accounts.create_device(dev, password, "health")
    endpoint = parse_mqtt_url(
        url(tls_broker, dev, password),
        ca_file=str(tls.ca),
        cert_file=str(tls.client_cert),
        key_file=str(tls.client_key),
    )
    assert endpoint.tls and endpoint.port == tls_broker.tls_port
    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=dev, protocol=mqtt.MQTTv5)
    c.username_pw_set(endpoint.username, endpoint.password)
    apply_tls(c, endpoint)
    c.connect(endpoint.host, endpoint.port, keepalive=10)
    c.loop_start()
    try:
        assert wait_for(c.is_connected, timeout=5)
        sock = c.socket()
        assert isinstance(sock, ssl.SSLSocket) and sock.version() in ("TLSv1.2", "TLSv1.3")
    finally:
        c.disconnect()
        c.loop_stop()


def test_ingest_engine_and_simulator_over_tls(
    tls_broker: Broker,
    tls: TlsFiles,
    accounts: DynsecAccounts,
    database_url: str,
    register: Callable[..., None],
    unique: Callable[[str], str],
) -> None:
    """The simulator's pool publishes over mqtts://, ingest stores it, the engine is
    connected over mqtts:// too: each with its own bound account."""
    dev = unique("tls-sim")
    register(NewDevice(dev, "energy"))
    ingest_id, alerts_id, sim = unique("ingest"), unique("alerts"), unique("sim")
    pw = {name: new_password() for name in ("ingest", "alerts", "simulator")}
    accounts.ensure_service("ingest", pw["ingest"], account=ingest_id)
    accounts.ensure_service("alerts", pw["alerts"], account=alerts_id)
    accounts.ensure_service("simulator", pw["simulator"], account=f"{sim}-0")
    ca = str(tls.ca)
    with (
        running_ingest(
            database_url,
            url(tls_broker, ingest_id, pw["ingest"]),
            ingest_client_id=ingest_id,
            ingest_group="ingest",  # the group its role may share
            mqtt_ca_file=ca,
        ),
        running_engine(
            database_url,
            url(tls_broker, alerts_id, pw["alerts"]),
            alerts_client_id=alerts_id,
            mqtt_ca_file=ca,
        ) as engine,
    ):
        sink = Pooled(parse_mqtt_url(url(tls_broker, sim, pw["simulator"]), ca_file=ca), 1, 1)
        sink.open()
        try:
            topic = telemetry_topic("energy", dev)
            sink.send([Message(topic, sample(v), dev) for v in (230.0, 231.0)])
            sink.drain()
        finally:
            sink.close()
        assert sink.stats.acked == 2 and sink.stats.errors == 0
        assert wait_for(lambda: stored(database_url, dev) == [230.0, 231.0] or None, timeout=15)
        assert engine.metrics.value("ioc_alerts_broker_connected") == 1


def test_api_serves_https_with_its_certificate(tls: TlsFiles, database_url: str) -> None:
    port = free_port()
    env = {
        **os.environ,
        "IOC_DATABASE_URL": database_url,
        "IOC_MQTT_URL": "mqtt://127.0.0.1:1",
        "IOC_API_TLS_CERTFILE": str(tls.server_cert),
        "IOC_API_TLS_KEYFILE": str(tls.server_key),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "ioc", "api", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port, timeout=30)
        trusted = ssl.create_default_context(cafile=str(tls.ca))
        health = httpx.get(f"https://localhost:{port}/health", verify=trusted, timeout=10)
        assert health.status_code == 200
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            httpx.get(f"https://localhost:{port}/health", timeout=10)
        with pytest.raises(httpx.HTTPError):  # no plain HTTP on the HTTPS port
            httpx.get(f"http://127.0.0.1:{port}/health", timeout=10)
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_api_refuses_a_certificate_without_its_key(tls: TlsFiles, tmp_path: Path) -> None:
    env = {**os.environ, "IOC_API_TLS_CERTFILE": str(tls.server_cert)}
    env.pop("IOC_API_TLS_KEYFILE", None)
    done = subprocess.run(
        [sys.executable, "-m", "ioc", "api", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "certificate and its key" in done.stderr


def test_certs_are_made_once_and_kept(tmp_path: Path) -> None:
    first = ensure(tmp_path / "tls", ["mosquitto"])
    pem = first.server_cert.read_bytes()
    again = ensure(tmp_path / "tls", ["mosquitto"])
    assert again.server_cert.read_bytes() == pem  # nothing changes on a second run
    assert oct(first.server_key.stat().st_mode & 0o777) == "0o600"
    ensure(tmp_path / "tls", ["mosquitto", "api"])  # a new name: a new server certificate
    assert first.server_cert.read_bytes() != pem
    context = ssl.create_default_context(cafile=str(first.ca))
    assert context.cert_store_stats()["x509_ca"] == 1
    settings = Settings(mqtt_url="mqtts://u:longenough@mosquitto", mqtt_ca_file=str(first.ca))
    assert settings.mqtt.port == 8883 and settings.mqtt.ca_file == str(first.ca)


def test_the_compose_broker_entrypoint_serves_tls(
    tmp_path: Path, tls: TlsFiles, unique: Callable[[str], str]
) -> None:
    """deploy/mosquitto/docker/entrypoint.sh as compose runs it (MQTT_TLS_DIR set): the
    rendered configuration has the TLS listener, and a bound account connects over it;
    the compose setup script works over mqtts:// with the CA."""
    data, port, tls_port = tmp_path / "data", free_port(), free_port()
    root = Path(__file__).resolve().parents[1]
    env = {
        **os.environ,
        "MQTT_PORT": str(port),
        "MQTT_BIND": "127.0.0.1",
        "MQTT_DATA": str(data),
        "MQTT_CONF_DIR": str(root / "deploy/mosquitto"),
        "MQTT_RUN_AS": getpass.getuser(),
        "MQTT_ADMIN_USER": "admin",
        "MQTT_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MQTT_TLS_DIR": str(tls.ca.parent),
        "MQTT_TLS_PORT": str(tls_port),
        "MQTT_TLS_BIND": "127.0.0.1",
    }
    proc = subprocess.Popen(
        ["sh", str(root / "deploy/mosquitto/docker/entrypoint.sh")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(tls_port)
        assert f"listener {tls_port} 127.0.0.1" in (data / "mosquitto.conf").read_text()
        password = new_password()
        setup = subprocess.run(
            [sys.executable, str(root / "deploy/mosquitto/docker/accounts.py")],
            env={
                **os.environ,
                "IOC_BROKER_ADMIN_URL": f"mqtts://admin:{ADMIN_PASSWORD}@localhost:{tls_port}",
                "IOC_MQTT_CA_FILE": str(tls.ca),
                "MQTT_ALERTS_PASSWORD": password,
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert setup.returncode == 0, setup.stderr
        alerts = f"mqtts://alerts-1:{password}@localhost:{tls_port}"
        assert connect_result(alerts, "alerts-1", str(tls.ca)) == "Success"
        assert connect_result(alerts, unique("alerts"), str(tls.ca)) != "Success"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
