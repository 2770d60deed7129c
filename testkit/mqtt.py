"""A plain MQTT v5 publisher for tests, standing in for devices."""

from __future__ import annotations

import json
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ioc.config import parse_mqtt_url


class Publisher:
    def __init__(self, url: str, client_id: str = "", **will: Any) -> None:
        endpoint = parse_mqtt_url(url)
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        if endpoint.username:
            self.client.username_pw_set(endpoint.username, endpoint.password)
        if will:
            self.client.will_set(**will)
        self.client.connect(endpoint.host, endpoint.port, keepalive=5)
        self.client.loop_start()

    def send(
        self,
        topic: str,
        payload: bytes | str | dict[str, Any],
        qos: int = 1,
        retain: bool = False,
        wait: bool = True,
    ) -> mqtt.MQTTMessageInfo:
        body = json.dumps(payload) if isinstance(payload, dict) else payload
        info = self.client.publish(topic, body, qos=qos, retain=retain)
        if wait:
            info.wait_for_publish(timeout=10)
        return info

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
