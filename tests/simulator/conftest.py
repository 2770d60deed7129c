"""Helpers for the simulator's tests: run a simulation and decode what it sent."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

from devices.simulator import Fleet, Message, Simulator
from ioc.telemetry.decoder import Decoded, decode_telemetry

#: A Monday morning, local time 07:00 (UTC+7): rush hour is about to start.
MONDAY = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)


def decode(fleet: Fleet, message: Message, received_at: datetime) -> Decoded:
    return decode_telemetry(message.topic, message.payload, received_at, fleet.lookup())


def collect(
    sim: Simulator, steps: int
) -> tuple[list[tuple[datetime, Message]], dict[tuple[str, str], dict[datetime, float]]]:
    """Run ``steps`` steps; every message with the time it was sent, and each device's
    decoded series per metric (the decoder must accept everything)."""
    sent: list[tuple[datetime, Message]] = []
    series: dict[tuple[str, str], dict[datetime, float]] = defaultdict(dict)
    for message in sim.connect():
        sent.append((sim.now, message))
    for _ in range(steps):
        at = sim.now
        for message in sim.step():
            sent.append((at, message))
            if message.kind == "telemetry":
                decoded = decode(sim.fleet, message, at)
                assert decoded.rejections == [], (message, decoded.rejections)
                for r in decoded.readings:
                    series[(r.device_id, r.metric)][r.time] = r.value
    return sent, series


def telemetry(sent: Iterable[tuple[datetime, Message]]) -> list[Message]:
    return [m for _, m in sent if m.kind == "telemetry"]
