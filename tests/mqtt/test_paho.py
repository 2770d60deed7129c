"""The paho consumer against the real broker: what its own PUBLISH handling hands over
(topic, payload, packet id, QoS, the broker's re-send flag) is what was published, with
or without MQTT v5 properties, many messages to one read, and a PUBACK for each one
acknowledged, in one write for a batch."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ioc.config import parse_mqtt_url
from ioc.mqtt.paho import PahoConsumer
from ioc.mqtt.types import Delivery, Subscription
from testkit.broker import Broker
from testkit.services import wait_for


@pytest.fixture
def publisher(broker: Broker) -> Iterator[mqtt.Client]:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    yield client
    client.disconnect()
    client.loop_stop()


def consumer(
    broker: Broker, client_id: str, topic: str, got: list[Delivery], manual_ack: bool
) -> PahoConsumer:
    lock = threading.Lock()

    def sink(d: Delivery) -> None:
        with lock:
            got.append(d)

    sub = Subscription(
        client_id=client_id,
        topics=((topic, 1),),
        persistent=True,
        session_expiry_s=60,
        manual_ack=manual_ack,
        receive_maximum=5000,
    )
    c = PahoConsumer(parse_mqtt_url(broker.url), sub, sink)
    c.start()
    assert c.subscribed.wait(10)
    return c


def test_what_is_handed_over_is_what_was_published(
    broker: Broker, publisher: mqtt.Client, unique: Callable[[str], str]
) -> None:
    topic = f"ioc/v1/energy/{unique('paho')}/telemetry"
    got: list[Delivery] = []
    c = consumer(broker, unique("paho-c"), topic, got, manual_ack=False)
    try:
        props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
        props.UserProperty = [("k", "v" * 300)]  # a properties block longer than 127 bytes
        props.ContentType = "application/json"
        sent = [
            publisher.publish(topic, b"plain-0", qos=0),
            publisher.publish(topic, b"with-props-1", qos=1, properties=props),
            publisher.publish(topic, b"", qos=1),
            publisher.publish(topic, "é-3".encode(), qos=1),
        ]
        for info in sent:
            info.wait_for_publish(10)
        wait_for(lambda: len(got) == 4)
        assert [d.payload for d in got] == [b"plain-0", b"with-props-1", b"", "é-3".encode()]
        assert {d.topic for d in got} == {topic}
        assert [d.qos for d in got] == [0, 1, 1, 1]
        assert got[0].mid == 0 and all(d.mid > 0 for d in got[1:])
        assert not any(d.redelivered for d in got)
    finally:
        c.stop()


def test_a_batch_acknowledged_at_once_is_not_sent_again(
    broker: Broker, publisher: mqtt.Client, unique: Callable[[str], str]
) -> None:
    topic = f"ioc/v1/energy/{unique('paho')}/telemetry"
    client_id = unique("paho-ack")
    got: list[Delivery] = []
    c = consumer(broker, client_id, topic, got, manual_ack=True)
    infos = [publisher.publish(topic, f"m{i}".encode(), qos=1) for i in range(3000)]
    for info in infos:
        info.wait_for_publish(10)
    wait_for(lambda: len(got) == 3000)
    assert [d.payload for d in got] == [f"m{i}".encode() for i in range(3000)]
    c.ack(got[:2000])  # the rest stays unacknowledged: the broker must send it again
    c.stop()  # DISCONNECT goes out after the queued PUBACKs
    again: list[Delivery] = []
    c = consumer(broker, client_id, topic, again, manual_ack=True)
    try:
        wait_for(lambda: len(again) == 1000)
        assert [d.payload for d in again] == [f"m{i}".encode() for i in range(2000, 3000)]
        assert all(d.redelivered for d in again)
        c.ack(again)
    finally:
        c.stop()
