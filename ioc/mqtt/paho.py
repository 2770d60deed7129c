"""The consumer on paho-mqtt (MQTT v5): the only module that knows the client library.

paho's network thread calls back here; each message becomes a :class:`Delivery` handed
to the service's sink. Reconnects are paho's own (``reconnect_delay_set``: doubling from
``reconnect_min_s`` to ``reconnect_max_s``); each failed attempt is counted and only the
changes of state (lost, back) are logged, through :class:`ioc.background.Outage`.
"""

from __future__ import annotations

import logging
import ssl
import struct
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from ioc.background import Outage, WorkerMetrics
from ioc.config import MqttEndpoint
from ioc.errors import BrokerUnavailable
from ioc.mqtt.types import ConnectionState, Delivery, Sink, Subscription

log = logging.getLogger("ioc.mqtt")

#: A PUBACK with success and no properties (MQTT 3.1.1 and 5): type, length 2, packet id.
_PUBACK = struct.Struct("!BBH")
_U16 = struct.Struct("!H")


def apply_tls(client: mqtt.Client, endpoint: MqttEndpoint) -> None:
    """For an ``mqtts://`` endpoint: TLS 1.2 or later, the broker's certificate checked
    against the configured CA (the system's when none) and its host name, and the client
    certificate for mutual TLS when one is configured. Nothing for ``mqtt://``."""
    if not endpoint.tls:
        return
    try:
        context = ssl.create_default_context(cafile=endpoint.ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if endpoint.cert_file:
            context.load_cert_chain(endpoint.cert_file, endpoint.key_file)
    except (OSError, ssl.SSLError) as exc:  # a missing or unreadable CA, certificate or key
        raise BrokerUnavailable(f"TLS files for {endpoint.host}:{endpoint.port}: {exc}") from exc
    client.tls_set_context(context)


class _ReadBuffer:
    """paho's socket, read in large pieces: paho asks for each packet's first byte,
    then its length byte by byte, then the rest, each a system call; here one
    ``recv`` of up to :data:`_READ_SIZE` serves all of them for many packets.
    ``pending()`` tells paho's loop that bytes are waiting (as for a TLS socket), so it
    does not sleep in ``select`` on them. Everything else is the socket's own."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self._data = b""
        self._pos = 0

    def recv(self, size: int) -> bytes:
        if self._pos >= len(self._data):
            data: bytes = self._sock.recv(_READ_SIZE)  # BlockingIOError, want-read: paho's
            if not data:
                return data  # the broker closed the connection
            self._data, self._pos = data, 0
        end = self._pos + size
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    def pending(self) -> int:
        waiting = len(self._data) - self._pos
        inner = getattr(self._sock, "pending", None)
        return waiting + (inner() if inner is not None else 0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


_READ_SIZE = 256 * 1024
#: Packets read per turn of paho's loop while bytes are waiting (paho reads one).
_PACKETS_PER_TURN = 500


#: (topic, payload, packet id, QoS, re-sent by the broker)
_FastSink = Callable[[str, bytes, int, int, bool], None]


class _Client(mqtt.Client):
    """paho's client with the socket read in large pieces and many packets handled per
    turn of its loop (still bounded, so PUBACKs and pings go out in between), and a
    QoS 0/1 PUBLISH handed straight to ``fast_sink``: paho builds a properties object,
    a message object and matches per-topic callbacks for each one, none of which a
    consumer that only queues the message needs. Anything unusual (QoS 2, a topic
    alias, a topic that is not UTF-8) takes paho's own path."""

    fast_sink: _FastSink | None = None

    def _handle_publish(self) -> MQTTErrorCode:
        header = self._in_packet["command"]
        qos = (header & 0x06) >> 1
        sink = self.fast_sink
        if sink is None or qos == 2:
            return super()._handle_publish()
        packet = self._in_packet["packet"]
        try:
            (length,) = _U16.unpack_from(packet, 0)
            if length == 0:
                return super()._handle_publish()
            topic = bytes(packet[2 : 2 + length]).decode("utf-8")
            pos = 2 + length
            mid = 0
            if qos:
                (mid,) = _U16.unpack_from(packet, pos)
                pos += 2
            if self._protocol == mqtt.MQTTv5:  # skip the properties: nothing we use
                size, shift = 0, 0
                while True:
                    byte = packet[pos]
                    pos += 1
                    size |= (byte & 0x7F) << shift
                    shift += 7
                    if not byte & 0x80:
                        break
                pos += size
        except (UnicodeDecodeError, IndexError, struct.error):
            return super()._handle_publish()
        sink(topic, bytes(packet[pos:]), mid, qos, bool(header & 0x08))
        if qos == 1 and not self._manual_ack:
            return self._send_puback(mid)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _create_socket(self) -> Any:
        return _ReadBuffer(super()._create_socket())

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        for _ in range(_PACKETS_PER_TURN):
            sock = self._sock
            if sock is None:
                return MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN or not isinstance(sock, _ReadBuffer):
                break
            if not sock.pending():
                break
        return MQTTErrorCode.MQTT_ERR_SUCCESS


class PahoConsumer:
    def __init__(
        self,
        endpoint: MqttEndpoint,
        subscription: Subscription,
        sink: Sink,
        *,
        on_connection: ConnectionState | None = None,
        metrics: WorkerMetrics | None = None,
        name: str = "mqtt",
    ) -> None:
        self.endpoint = endpoint
        self.subscription = subscription
        self.sink = sink
        self.on_connection = on_connection
        self.subscribed = threading.Event()
        self.outage = Outage(name, "broker", log, metrics)
        self._generation = 0
        self._fell_back = False
        self._stopping = threading.Event()
        self.client = self._make_client()

    def _make_client(self) -> mqtt.Client:
        sub = self.subscription
        client = _Client(
            CallbackAPIVersion.VERSION2,
            client_id=sub.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=sub.manual_ack,
        )
        if self.endpoint.username:
            client.username_pw_set(self.endpoint.username, self.endpoint.password)
        apply_tls(client, self.endpoint)
        client.reconnect_delay_set(
            min_delay=int(sub.reconnect_min_s), max_delay=int(sub.reconnect_max_s)
        )
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.fast_sink = self._deliver
        client.on_subscribe = self._on_subscribe
        return client

    def _connect_properties(self) -> Properties | None:
        sub = self.subscription
        if not sub.persistent and sub.receive_maximum is None:
            return None
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        if sub.persistent:
            props.SessionExpiryInterval = sub.session_expiry_s
        if sub.receive_maximum is not None:
            props.ReceiveMaximum = sub.receive_maximum
        return props

    # ------------------------------------------------------------------ callbacks

    def _on_connect(
        self, client: mqtt.Client, _u: Any, flags: Any, rc: ReasonCode, _p: Any
    ) -> None:
        if rc.is_failure:
            self.outage.failed(ConnectionError(f"broker refused the connection: {rc}"))
            return
        self._generation += 1
        self.outage.succeeded()
        if self.on_connection is not None:
            self.on_connection(True)
        topics = self.subscription.fallback_topics if self._fell_back else self.subscription.topics
        client.subscribe(list(topics))
        log.info(
            "connected to broker",
            extra={
                "client_id": self.subscription.client_id,
                "session_present": bool(flags.session_present),
                **self.subscription.labels,
            },
        )

    def _on_connect_fail(self, _c: mqtt.Client, _u: Any) -> None:
        if not self._stopping.is_set():
            self.outage.failed(ConnectionError("cannot reach the broker"))

    def _on_subscribe(
        self, _c: mqtt.Client, _u: Any, _mid: int, codes: list[ReasonCode], _p: Any
    ) -> None:
        if any(code.is_failure for code in codes):
            fallback = self.subscription.fallback_topics
            if fallback and not self._fell_back:
                self._fell_back = True
                log.warning(
                    "broker refused the subscription; subscribing to the narrower fallback",
                    extra={
                        "refused": [t for t, _ in self.subscription.topics],
                        "fallback": [t for t, _ in fallback],
                        "reasons": [str(c) for c in codes],
                    },
                )
                self.client.subscribe(list(fallback))
                return
            log.error("broker refused the subscription", extra={"reasons": [str(c) for c in codes]})
            return
        self.subscribed.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, rc: ReasonCode, _p: Any) -> None:
        self.subscribed.clear()
        if self.on_connection is not None:
            self.on_connection(False)
        if not self._stopping.is_set():
            self.outage.failed(ConnectionError(f"disconnected from broker: {rc}"))

    def _on_message(self, _c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
        self.sink(
            Delivery(
                topic=msg.topic,
                payload=bytes(msg.payload),
                received_at=datetime.now(UTC),
                mid=msg.mid,
                qos=msg.qos,
                redelivered=bool(msg.dup),
                generation=self._generation,
            )
        )

    def _deliver(self, topic: str, payload: bytes, mid: int, qos: int, dup: bool) -> None:
        self.sink(
            Delivery(
                topic=topic,
                payload=payload,
                received_at=datetime.now(UTC),
                mid=mid,
                qos=qos,
                redelivered=dup,
                generation=self._generation,
            )
        )

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        sub = self.subscription
        self.client.connect_async(
            self.endpoint.host,
            self.endpoint.port,
            keepalive=sub.keepalive_s,
            clean_start=not sub.persistent,
            properties=self._connect_properties(),
        )
        self.client.loop_start()

    def ack(self, deliveries: Iterable[Delivery]) -> None:
        """Acknowledge a batch: its PUBACKs go out as one write (one wake-up of paho's
        thread and one system call, where ``client.ack`` costs both per message)."""
        if not self.subscription.manual_ack:
            return
        generation = self._generation
        pubacks = bytearray()
        for d in deliveries:
            if d.generation != generation:
                continue
            if d.qos == 1:
                pubacks += _PUBACK.pack(mqtt.PUBACK, 2, d.mid)
            elif d.qos == 2:
                self.client.ack(d.mid, d.qos)
        if pubacks:
            # paho's own queueing, with the PUBACKs of the batch as one packet's bytes
            self.client._packet_queue(mqtt.PUBACK, bytes(pubacks), 0, 0)

    def stop(self) -> None:
        self._stopping.set()
        self.client.disconnect()
        self.client.loop_stop()
        # paho keeps a wake-up socket pair until the client is garbage-collected, and a
        # service and its client form a cycle: close them now, not in a finaliser
        self.client._reset_sockets()
        if self.on_connection is not None:
            self.on_connection(False)
