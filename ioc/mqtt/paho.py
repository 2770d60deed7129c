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
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
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
        client = mqtt.Client(
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
