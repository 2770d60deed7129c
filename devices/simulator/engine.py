"""The simulation loop: simulated time in, the messages every device sends out.

Pure: no broker and no wall clock. Time is the simulator's own (``start`` plus one
``interval`` per step), so a run is the same for the same seed, whether it is written to
stdout in a fraction of a second or published in real time. The publisher decides how
simulated time maps to the wall clock.

Each device keeps its own sequence counter. A device that is offline (a power cut) keeps
sampling into a buffer, and on reconnecting publishes ``online`` and then what it missed
as store-and-forward batches, each under the 64 KiB payload limit.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import numpy as np

from devices.simulator.faults import FaultKind, FaultPlan
from devices.simulator.fleet import Fleet
from devices.simulator.scenarios import Scenario
from devices.simulator.signals import Signals, decimals
from ioc.telemetry.catalog import CATALOG
from ioc.telemetry.payloads import MAX_PAYLOAD_BYTES, Status, format_timestamp
from ioc.telemetry.topics import status_topic, telemetry_topic

Kind = Literal["telemetry", "status"]
_BATCH_LIMIT = MAX_PAYLOAD_BYTES - 1024


@dataclass(frozen=True, slots=True)
class Message:
    """One MQTT publish."""

    topic: str
    payload: bytes
    device_id: str
    kind: Kind = "telemetry"
    retain: bool = False
    fault: FaultKind | None = None
    samples: int = 1  # samples carried (a batch carries many; a status none)


@dataclass(slots=True)
class _Domain:
    """The per-domain pieces the hot loop needs, precomputed once."""

    where: slice
    names: list[str]
    template: str
    lo: np.ndarray
    hi: np.ndarray
    decimals: list[int]
    topics: list[str] = field(default_factory=list)


def status_message(device_id: str, domain: str, online: bool, ts: datetime) -> Message:
    state: Literal["online", "offline"] = "online" if online else "offline"
    body = Status(state=state, ts=format_timestamp(ts)).model_dump_json()
    return Message(
        status_topic(domain, device_id), body.encode(), device_id, "status", True, None, 0
    )


def batches(samples: Sequence[str], limit: int = _BATCH_LIMIT) -> Iterator[bytes]:
    """Group sample texts into ``{"batch": [...]}`` payloads no larger than ``limit``."""
    chunk: list[str] = []
    size = 0
    for text in samples:
        if chunk and size + len(text) + 1 > limit:
            yield ('{"batch":[' + ",".join(chunk) + "]}").encode()
            chunk, size = [], 0
        chunk.append(text)
        size += len(text) + 1
    if chunk:
        yield ('{"batch":[' + ",".join(chunk) + "]}").encode()


class Simulator:
    """Steps a fleet through simulated time; each step returns that step's messages."""

    def __init__(
        self,
        fleet: Fleet,
        *,
        start: datetime,
        interval_s: float = 10.0,
        seed: int = 0,
        scenarios: Sequence[Scenario] = (),
        faults: FaultPlan | None = None,
        utc_offset_h: float = 7.0,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if interval_s <= 0:
            raise ValueError("interval must be positive")
        self.fleet = fleet
        self.interval = timedelta(seconds=interval_s)
        self.now = start
        self.scenarios = tuple(scenarios)
        self.faults = faults
        self._signals = Signals(fleet, seed, utc_offset_h)
        self._seq = np.zeros(len(fleet), dtype=np.int64)
        self._offline = np.zeros(len(fleet), dtype=bool)
        self._buffer: dict[int, list[str]] = {}
        self._late: list[Message] = []
        self._domains: dict[str, _Domain] = {}
        for domain, where in fleet.slices().items():
            metrics = list(CATALOG[domain].values())
            places = [decimals(m) for m in metrics]
            fields = ",".join(
                f'"{m.name}":%{"d" if p == 0 else "s"}'
                for m, p in zip(metrics, places, strict=True)
            )
            self._domains[domain] = _Domain(
                where=where,
                names=[m.name for m in metrics],
                template='{"ts":"%s","seq":%d,"readings":{' + fields + "}}",
                lo=np.array([[m.min] for m in metrics]),
                hi=np.array([[m.max] for m in metrics]),
                decimals=places,
                topics=[telemetry_topic(domain, d.device_id) for d in fleet.devices[where]],
            )

    def connect(self) -> list[Message]:
        """Every device announces itself online (retained)."""
        return [status_message(d.device_id, d.domain, True, self.now) for d in self.fleet.devices]

    def disconnect(self) -> list[Message]:
        """A clean shutdown: late samples go out, then every device says it is offline.

        Samples still buffered by devices that are offline stay unsent, as they would on
        devices switched off before power came back.
        """
        out, self._late = self._late, []
        out += [status_message(d.device_id, d.domain, False, self.now) for d in self.fleet.devices]
        return out

    def step(self) -> list[Message]:
        """All messages of the step at ``self.now``; then time moves one interval on."""
        now, dt = self.now, self.interval.total_seconds()
        values = self._signals.step(now, dt)
        offline = np.zeros(len(self.fleet), dtype=bool)
        for scenario in self.scenarios:
            scenario.apply(now, values, offline)
        out = self._transitions(offline, now)
        late, self._late = self._late, []
        ts = format_timestamp(now)
        for domain, d in self._domains.items():
            out += self._samples(domain, d, values[domain], ts, now)
        out += late
        self.now = now + self.interval
        return out

    def run(self, steps: int) -> Iterator[list[Message]]:
        for _ in range(steps):
            yield self.step()

    def _transitions(self, offline: np.ndarray, now: datetime) -> list[Message]:
        out: list[Message] = []
        devices = self.fleet.devices
        for i in np.flatnonzero(offline & ~self._offline):
            dev = devices[i]
            out.append(status_message(dev.device_id, dev.domain, False, now))
            self._buffer[int(i)] = []
        for i in np.flatnonzero(~offline & self._offline):
            dev = devices[i]
            out.append(status_message(dev.device_id, dev.domain, True, now))
            kept = self._buffer.pop(int(i), [])
            topic = telemetry_topic(dev.domain, dev.device_id)
            for payload in batches(kept):
                n = payload.count(b'"ts"')
                out.append(Message(topic, payload, dev.device_id, samples=n))
        self._offline = offline
        return out

    def _samples(
        self, domain: str, d: _Domain, values: dict[str, np.ndarray], ts: str, now: datetime
    ) -> list[Message]:
        matrix = np.clip(np.stack([values[name] for name in d.names]), d.lo, d.hi)
        for row, places in enumerate(d.decimals):
            matrix[row] = np.round(matrix[row], places)
        rows = matrix.T.tolist()
        start = d.where.start
        seqs = self._seq[d.where].tolist()
        self._seq[d.where] += 1
        offline = self._offline[d.where]
        template, topics, ids = d.template, d.topics, self.fleet.devices
        out: list[Message] = []
        if offline.any():
            for j in np.flatnonzero(offline).tolist():
                self._buffer[start + j].append(template % (ts, seqs[j], *rows[j]))
        faulted = dict(self.faults.draw(len(rows))) if self.faults else {}
        for i, row in enumerate(rows):
            if offline[i]:
                continue
            kind = faulted.get(i)
            if kind is None:
                payload = (template % (ts, seqs[i], *row)).encode()
                out.append(Message(topics[i], payload, ids[start + i].device_id))
                continue
            out += self._faulted(kind, start + i, d, row, seqs[i], now)
        return out

    def _faulted(
        self, kind: FaultKind, index: int, d: _Domain, row: list[float], seq: int, now: datetime
    ) -> list[Message]:
        assert self.faults is not None
        device = self.fleet.devices[index]
        readings = {
            name: int(v) if p == 0 else v
            for name, v, p in zip(d.names, row, d.decimals, strict=True)
        }
        bad = self.faults.corrupt(kind, device, now, seq, readings)
        message = Message(bad.topic, bad.payload, device.device_id, fault=kind)
        if bad.deferred:
            self._late.append(message)
            return []
        return [message] * bad.copies
