"""The MQTT topic scheme: ``ioc/v1/{domain}/{device_id}/{telemetry|status}``.

The domains and the device-id pattern are :mod:`ioc.types`' (re-exported here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ioc.errors import BadTopic, UnknownDomain
from ioc.types import DEVICE_ID_PATTERN as DEVICE_ID_PATTERN
from ioc.types import DOMAINS

PREFIX = "ioc/v1"
_DEVICE_ID = re.compile(DEVICE_ID_PATTERN)

Channel = Literal["telemetry", "status"]
CHANNELS: tuple[Channel, ...] = ("telemetry", "status")

#: What ingest subscribes to; ``$share/{group}/`` is prepended for shared subscriptions.
TELEMETRY_FILTER = f"{PREFIX}/+/+/telemetry"
STATUS_FILTER = f"{PREFIX}/+/+/status"


@dataclass(frozen=True, slots=True)
class Topic:
    domain: str
    device_id: str
    channel: Channel

    def __str__(self) -> str:
        return f"{PREFIX}/{self.domain}/{self.device_id}/{self.channel}"


def is_valid_device_id(device_id: str) -> bool:
    return _DEVICE_ID.fullmatch(device_id) is not None


def telemetry_topic(domain: str, device_id: str) -> str:
    return str(Topic(domain, device_id, "telemetry"))


def status_topic(domain: str, device_id: str) -> str:
    return str(Topic(domain, device_id, "status"))


def device_topic_pattern(device_id: str) -> str:
    """The topic filter a device may publish to (its own id, any domain and channel)."""
    return f"{PREFIX}/+/{device_id}/#"


def shared(group: str, topic_filter: str) -> str:
    return f"$share/{group}/{topic_filter}"


def parse_topic(topic: str) -> Topic:
    """Split a topic into its parts, or raise :class:`BadTopic` / :class:`UnknownDomain`."""
    parts = topic.split("/")
    if len(parts) != 5 or f"{parts[0]}/{parts[1]}" != PREFIX:
        raise BadTopic(f"topic {topic!r} is not {PREFIX}/<domain>/<device>/<channel>")
    _, _, domain, device_id, channel = parts
    if domain not in DOMAINS:
        raise UnknownDomain(f"domain {domain!r} is not one of {', '.join(DOMAINS)}")
    if not is_valid_device_id(device_id):
        raise BadTopic(f"device id {device_id!r} does not match {DEVICE_ID_PATTERN}")
    if channel == "telemetry":
        return Topic(domain, device_id, "telemetry")
    if channel == "status":
        return Topic(domain, device_id, "status")
    raise BadTopic(f"channel {channel!r} is not telemetry or status")
