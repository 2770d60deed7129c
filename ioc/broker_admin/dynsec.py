"""A client for Mosquitto's dynamic-security control topic.

Commands are JSON published to ``$CONTROL/dynamic-security/v1``; the plugin answers on
``.../response`` with one entry per command, in order, carrying ``error`` when it
failed (verified against Mosquitto 2.0.11: ``"Client already exists"``, ``"Client not
found"``, ...). Deleting or disabling a client disconnects its live sessions at once.

One short MQTT v5 connection per call: registrations are rare, and a fresh connection
cannot be left half-broken between calls, over TLS for an ``mqtts://`` endpoint. paho's
errors become ours here.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Sequence
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from ioc.config import MqttEndpoint
from ioc.errors import BrokerUnavailable, Conflict, NotFound
from ioc.mqtt.paho import apply_tls

CONTROL_TOPIC = "$CONTROL/dynamic-security/v1"
RESPONSE_TOPIC = f"{CONTROL_TOPIC}/response"

Command = dict[str, Any]


class DynsecClient:
    def __init__(self, endpoint: MqttEndpoint, *, timeout: float = 5.0) -> None:
        if not endpoint.username:
            raise ValueError("the dynamic-security admin URL needs a username and password")
        self.endpoint = endpoint
        self.timeout = timeout

    def run(self, commands: Sequence[Command]) -> list[dict[str, Any]]:
        """Send commands in one message; return the plugin's responses, in order.

        Errors are returned, not raised: the caller knows which ones it can ignore
        (see :func:`check`)."""
        done = threading.Event()
        connected = threading.Event()
        failure: list[str] = []
        answer: list[dict[str, Any]] = []
        token = secrets.token_hex(8)
        tagged = [{**c, "correlationData": f"{token}:{i}"} for i, c in enumerate(commands)]

        def on_connect(c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
            if rc.is_failure:
                failure.append(f"connection refused: {rc}")
                done.set()
                return
            connected.set()
            c.subscribe(RESPONSE_TOPIC, qos=1)

        def on_subscribe(c: mqtt.Client, _u: Any, _mid: int, rcs: Any, _p: Any) -> None:
            if any(rc.is_failure for rc in rcs):
                failure.append("not allowed to subscribe to the dynamic-security responses")
                done.set()
                return
            c.publish(CONTROL_TOPIC, json.dumps({"commands": tagged}), qos=1)

        def on_message(_c: mqtt.Client, _u: Any, msg: mqtt.MQTTMessage) -> None:
            try:
                responses = json.loads(msg.payload)["responses"]
            except (ValueError, KeyError, TypeError):
                return
            mine = [r for r in responses if str(r.get("correlationData", "")).startswith(token)]
            if mine:
                answer.extend(mine)
                done.set()

        client = self._client(token)
        client.on_connect = on_connect
        client.on_subscribe = on_subscribe
        client.on_message = on_message
        self._connect(client)
        try:
            if not done.wait(self.timeout):
                state = "no response" if connected.is_set() else "no connection"
                raise BrokerUnavailable(f"dynamic-security plugin: {state} in {self.timeout}s")
            if failure:
                raise BrokerUnavailable(f"dynamic-security plugin: {failure[0]}")
        finally:
            client.disconnect()
            client.loop_stop()
        answer.sort(key=lambda r: int(str(r["correlationData"]).split(":")[1]))
        return answer

    def clear_retained(self, topic: str) -> None:
        """Publish an empty retained message on ``topic`` (QoS 1, waits for the PUBACK):
        the broker forgets what was retained there. The admin's role must allow it."""
        done = threading.Event()
        outcome: list[str] = []

        def on_connect(c: mqtt.Client, _u: Any, _f: Any, rc: Any, _p: Any) -> None:
            if rc.is_failure:
                outcome.append(f"connection refused: {rc}")
                done.set()
                return
            c.publish(topic, b"", qos=1, retain=True)

        def on_publish(_c: mqtt.Client, _u: Any, _mid: int, rc: Any, _p: Any) -> None:
            if rc.is_failure:
                outcome.append(f"clearing {topic}: {rc}")
            done.set()

        client = self._client(secrets.token_hex(8))
        client.on_connect = on_connect
        client.on_publish = on_publish
        self._connect(client)
        try:
            if not done.wait(self.timeout):
                raise BrokerUnavailable(f"clearing {topic}: no answer in {self.timeout}s")
            if outcome:
                raise BrokerUnavailable(outcome[0])
        finally:
            client.disconnect()
            client.loop_stop()

    def _client(self, token: str) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"ioc-dynsec-{token}", protocol=mqtt.MQTTv5
        )
        client.username_pw_set(self.endpoint.username, self.endpoint.password)
        apply_tls(client, self.endpoint)
        return client

    def _connect(self, client: mqtt.Client) -> None:
        try:
            client.connect(self.endpoint.host, self.endpoint.port, keepalive=30)
        except OSError as exc:  # ssl.SSLError (a certificate not trusted) is an OSError
            client._reset_sockets()
            raise BrokerUnavailable(f"broker admin connection failed: {exc}") from exc
        client.loop_start()


def check(responses: list[dict[str, Any]], *, ignore: Sequence[str] = ()) -> None:
    """Raise the first error not in ``ignore`` as the IOC's own exception."""
    for r in responses:
        error = r.get("error")
        if not error or any(i in error for i in ignore):
            continue
        message = f"{r.get('command')}: {error}"
        if "already exists" in error:
            raise Conflict(message)
        if "not found" in error:
            raise NotFound(message)
        raise BrokerUnavailable(message)
