"""Where messages go: stdout as JSON lines (``--dry-run``) or an MQTT broker.

Ten thousand devices cannot each hold a TCP connection from one process cheaply (a
socket, a network thread and a keep-alive each), so there are two ways to publish:

* **pooled** (the default): a few connections (``--connections``, 4 by default) publish
  for many devices each; a device always uses the same connection, so its messages
  stay in order. Broker accounts are bound to one client id each, so with the account
  ``U`` of the MQTT URL connection ``n`` logs in as ``U-n`` (client id ``U-n``, the
  same password): ``ioc broker bootstrap --service simulator=U:4`` makes them.
  Each device still publishes its own retained ``status`` and carries
  its own ``seq``. A connection can carry only one last will, so here a device's
  ``offline`` status is published explicitly (power cut, clean shutdown); if the whole
  simulator dies, the center's absence rules notice the silence instead.
* **per-device** (``--per-device``, for small fleets up to :data:`PER_DEVICE_LIMIT`):
  one connection per device with its own credentials (from ``--provision``) and its own
  last will (``offline``, retained). When a device drops off, the connection is closed
  with reason code 0x04, "disconnect with will message", so the *broker* announces it,
  as it would for a real device that lost power; it reconnects when power comes back.

An ``mqtts://`` URL connects with TLS (the CA and client certificate of the settings).
paho's errors are translated to :class:`ioc.errors.BrokerUnavailable` here, at the edge.
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from devices.simulator.engine import Message
from ioc.config import MqttEndpoint
from ioc.errors import BrokerUnavailable
from ioc.mqtt.paho import apply_tls
from ioc.telemetry.payloads import Status
from ioc.telemetry.topics import status_topic

PER_DEVICE_LIMIT = 1000
#: QoS 1 messages handed to paho but not yet acknowledged, per connection, before
#: ``send`` waits: keeps memory bounded when the broker is slower than the simulator.
MAX_PENDING = 20_000


@dataclass(slots=True)
class Stats:
    """Counters the progress line and the summary read."""

    devices: int = 0
    connected: int = 0
    messages: int = 0
    samples: int = 0
    statuses: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    acked: int = 0
    errors: int = 0
    #: Whether anyone acknowledges messages (QoS 1 to a broker); a dry run writes them only.
    acks: bool = True
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, messages: Sequence[Message]) -> None:
        for m in messages:
            self.messages += 1
            self.samples += m.samples
            if m.kind == "status":
                self.statuses += 1
            if m.fault is not None:
                self.faults[m.fault.value] = self.faults.get(m.fault.value, 0) + 1

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)


class Sink(Protocol):
    stats: Stats

    def open(self) -> None: ...

    def send(self, messages: Sequence[Message]) -> None: ...

    def close(self) -> None: ...


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


class DryRun:
    """One JSON line per message on ``out``: topic, qos, retain, and the payload as text
    (text, not an object, so a malformed or NaN-carrying payload is shown as sent)."""

    def __init__(self, out: TextIO, devices: int, qos: int = 1) -> None:
        self.out = out
        self.qos = qos
        self.stats = Stats(devices=devices, acks=False)

    def open(self) -> None:
        self.stats.connected = self.stats.devices

    def send(self, messages: Sequence[Message]) -> None:
        # The same line json.dumps would write for {"topic", "qos", "retain", "payload"},
        # put together by hand: this is the hot loop of a dry run.
        quote, qos = _quote, self.qos
        self.out.write(
            "".join(
                f'{{"topic": {quote(m.topic)}, "qos": {qos}, "retain": '
                f'{"true" if m.retain else "false"}, "payload": '
                f"{quote(m.payload.decode())}}}\n"
                for m in messages
            )
        )
        self.stats.count(messages)

    def close(self) -> None:
        self.out.flush()
        self.stats.connected = 0


def _client(
    client_id: str, endpoint: MqttEndpoint, stats: Stats, user: tuple[str, str] | None = None
) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    username, password = user or (endpoint.username, endpoint.password)
    if username:
        client.username_pw_set(username, password)
    apply_tls(client, endpoint)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)

    def on_publish(c: mqtt.Client, _u: Any, _mid: int, rc: ReasonCode, _p: Any) -> None:
        stats.add("acked" if not rc.is_failure else "errors")

    client.on_publish = on_publish
    return client


def _connect(client: mqtt.Client, endpoint: MqttEndpoint, timeout: float = 10.0) -> None:
    """Connect and wait for the CONNACK; raise :class:`BrokerUnavailable` otherwise."""
    done = threading.Event()
    result: list[ReasonCode] = []

    def on_connect(c: mqtt.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        result.append(rc)
        done.set()

    client.on_connect = on_connect
    try:
        client.connect(endpoint.host, endpoint.port, keepalive=30)
    except OSError as exc:  # a TLS handshake refused (ssl.SSLError) too
        client._reset_sockets()
        raise BrokerUnavailable(f"{endpoint.host}:{endpoint.port}: {exc}") from exc
    client.loop_start()
    if not done.wait(timeout) or result[0].is_failure:
        client.loop_stop()
        why = str(result[0]) if result else f"no answer in {timeout:g}s"
        raise BrokerUnavailable(f"{endpoint.host}:{endpoint.port} refused the connection: {why}")


class Pooled:
    """A few connections, each publishing for many devices."""

    def __init__(
        self,
        endpoint: MqttEndpoint,
        devices: int,
        connections: int = 4,
        qos: int = 1,
        client_prefix: str = "ioc-simulator",
    ) -> None:
        if connections < 1:
            raise ValueError("at least one connection is needed")
        self.endpoint = endpoint
        self.qos = qos
        self.stats = Stats(devices=devices, acks=qos > 0)
        user, password = endpoint.username, endpoint.password or ""
        self._clients = [
            _client(f"{user}-{i}", endpoint, self.stats, (f"{user}-{i}", password))
            if user
            else _client(f"{client_prefix}-{i}", endpoint, self.stats)
            for i in range(connections)
        ]

    def open(self) -> None:
        for client in self._clients:
            _connect(client, self.endpoint)
        self.stats.connected = self.stats.devices

    def send(self, messages: Sequence[Message]) -> None:
        clients, n, qos = self._clients, len(self._clients), self.qos
        errors = 0
        for m in messages:
            client = clients[zlib.crc32(m.device_id.encode()) % n]
            if (
                client.publish(m.topic, m.payload, qos, m.retain).rc
                != MQTTErrorCode.MQTT_ERR_SUCCESS
            ):
                errors += 1
        self.stats.count(messages)
        if errors:
            self.stats.add("errors", errors)
        if qos:
            self._wait_below(MAX_PENDING * n)

    def _wait_below(self, pending: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while self.stats.messages - self.stats.acked - self.stats.errors > pending:
            if time.monotonic() > deadline:
                raise BrokerUnavailable("the broker stopped acknowledging messages")
            time.sleep(0.005)

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every QoS 1 message is acknowledged (or ``timeout`` passes)."""
        if self.qos:
            self._wait_below(0, timeout)

    def close(self) -> None:
        try:
            self.drain()
        finally:
            for client in self._clients:
                client.disconnect()
                client.loop_stop()
            self.stats.connected = 0


class PerDevice:
    """One connection per device, each with its own credentials and last will."""

    WILL_DISCONNECT = ReasonCode(PacketTypes.DISCONNECT, "Disconnect with will message")

    def __init__(
        self,
        endpoint: MqttEndpoint,
        devices: Mapping[str, str],
        credentials: Mapping[str, tuple[str, str]] | None = None,
        qos: int = 1,
    ) -> None:
        """``devices`` maps each device id to its domain (for its status topic)."""
        if len(devices) > PER_DEVICE_LIMIT:
            raise ValueError(
                f"{len(devices)} devices is too many for one connection each "
                f"(limit {PER_DEVICE_LIMIT}); use the pooled mode"
            )
        self.endpoint = endpoint
        self.qos = qos
        self.stats = Stats(devices=len(devices), acks=qos > 0)
        self._domains = dict(devices)
        self._credentials = dict(credentials or {})
        self._clients: dict[str, mqtt.Client] = {}
        self._up: set[str] = set()
        self._wills = 0  # offline statuses the broker publishes for us, as last wills
        self._last: dict[str, mqtt.MQTTMessageInfo] = {}

    def _make(self, device_id: str) -> mqtt.Client:
        client = _client(device_id, self.endpoint, self.stats, self._credentials.get(device_id))
        will = Status(state="offline").model_dump_json(exclude_none=True)
        client.will_set(status_topic(self._domains[device_id], device_id), will, 1, retain=True)
        return client

    def _bring_up(self, device_id: str) -> None:
        client = self._make(device_id)
        _connect(client, self.endpoint)
        self._clients[device_id] = client
        self._up.add(device_id)
        self.stats.connected = len(self._up)

    def _drop(self, device_id: str) -> None:
        """Lose power: the broker publishes the device's last will."""
        client = self._clients.pop(device_id)
        last = self._last.pop(device_id, None)
        if last is not None and self.qos:
            last.wait_for_publish(timeout=10)  # what it sent before the cut is delivered
        client.disconnect(reasoncode=self.WILL_DISCONNECT)
        client.loop_stop()
        self._up.discard(device_id)
        self.stats.connected = len(self._up)

    def open(self) -> None:
        for device_id in self._domains:
            self._bring_up(device_id)

    def send(self, messages: Sequence[Message]) -> None:
        for m in messages:
            if m.kind == "status" and b'"offline"' in m.payload:
                if m.device_id in self._up:
                    self._drop(m.device_id)
                    self.stats.count([m])
                    self._wills += 1
                continue
            if m.device_id not in self._up:
                self._bring_up(m.device_id)
            info = self._clients[m.device_id].publish(m.topic, m.payload, self.qos, m.retain)
            self._last[m.device_id] = info
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                self.stats.add("errors")
            self.stats.count([m])

    def close(self) -> None:
        deadline = time.monotonic() + 30
        while self.qos and self.stats.acked + self.stats.errors < self._published():
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        for device_id in list(self._up):
            self._drop(device_id)

    def _published(self) -> int:
        # Offline statuses are not published by us (the broker sends the will).
        return self.stats.messages - self._wills
