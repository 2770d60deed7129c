"""Faults on demand: messages that are wrong in one known way each.

Every kind says what the pipeline should do with it (:data:`EXPECTED`): the dead-letter
reason the decoder (or, for duplicates, storage) gives, or ``None`` where the message is
valid late or skewed data and must be accepted.

``wrong_topic`` (a device publishing on another device's topic) is stopped by the broker's
ACL in production: a device may publish only under its own id. When it gets past a broker
without ACLs, the decoder can only tell when the topic does not fit the registry, so the
simulator publishes its own domain's readings on the topic of a device of *another*
domain (``ioc/v1/<own domain>/<victim>/telemetry``): the decoder refuses it as
``domain_mismatch``. A same-domain impostor would be indistinguishable from the victim in
the decoder; only the ACL catches it, which the per-device connection mode exercises.
With a one-domain fleet there is no such victim, so the topic names an unregistered id
and the reason is ``unknown_device``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import numpy as np

from devices.simulator.fleet import Device, Fleet
from ioc.telemetry.catalog import CATALOG
from ioc.telemetry.payloads import MAX_PAYLOAD_BYTES, format_timestamp
from ioc.telemetry.topics import telemetry_topic
from ioc.types import RejectReason

#: Tolerance of the decoder before a timestamp counts as "in the future" (DecodePolicy).
FUTURE_TOLERANCE = timedelta(minutes=5)


class FaultKind(StrEnum):
    MALFORMED_JSON = "malformed_json"
    OUT_OF_RANGE = "out_of_range"
    NAN = "nan"
    UNKNOWN_METRIC = "unknown_metric"
    OVERSIZED = "oversized"
    FUTURE_TIMESTAMP = "future_timestamp"
    DUPLICATE = "duplicate"
    OUT_OF_ORDER = "out_of_order"
    CLOCK_SKEW = "clock_skew"
    WRONG_TOPIC = "wrong_topic"


#: What the pipeline does with each fault: the reason it is refused, or None (accepted).
EXPECTED: Mapping[FaultKind, RejectReason | None] = {
    FaultKind.MALFORMED_JSON: RejectReason.MALFORMED_JSON,
    FaultKind.OUT_OF_RANGE: RejectReason.OUT_OF_RANGE,
    FaultKind.NAN: RejectReason.NOT_FINITE,
    FaultKind.UNKNOWN_METRIC: RejectReason.UNKNOWN_METRIC,
    FaultKind.OVERSIZED: RejectReason.OVERSIZED,
    FaultKind.FUTURE_TIMESTAMP: RejectReason.FUTURE_TIMESTAMP,
    FaultKind.DUPLICATE: RejectReason.DUPLICATE,  # at storage: the decoder accepts both
    FaultKind.OUT_OF_ORDER: None,
    FaultKind.CLOCK_SKEW: None,  # within tolerance; beyond it, future_timestamp
    FaultKind.WRONG_TOPIC: RejectReason.DOMAIN_MISMATCH,
}


def parse_rates(specs: list[str]) -> dict[FaultKind, float]:
    """``["nan=0.01", "duplicate=0.001"]`` → rates; a clear ValueError otherwise."""
    rates: dict[FaultKind, float] = {}
    for spec in specs:
        name, sep, rate = spec.partition("=")
        try:
            kind = FaultKind(name.strip())
        except ValueError:
            known = ", ".join(k.value for k in FaultKind)
            raise ValueError(f"unknown fault {name!r}; known: {known}") from None
        try:
            value = float(rate) if sep else 0.01
        except ValueError:
            raise ValueError(f"fault rate in {spec!r} is not a number") from None
        if not 0 <= value <= 1:
            raise ValueError(f"fault rate in {spec!r} must be between 0 and 1")
        rates[kind] = value
    if sum(rates.values()) > 1:
        raise ValueError("fault rates add up to more than 1")
    return rates


@dataclass(frozen=True, slots=True)
class Corrupted:
    """A faulted sample: where it goes and what it says (``copies`` > 1 for resends)."""

    topic: str
    payload: bytes
    copies: int = 1
    deferred: bool = False  # out of order: sent after the device's next sample


class FaultPlan:
    """Which samples to break, drawn from a seeded generator, and how to break them."""

    def __init__(
        self, rates: Mapping[FaultKind, float], fleet: Fleet, seed: int, skew_s: float = 120.0
    ) -> None:
        self.rates = {k: r for k, r in rates.items() if r > 0}
        self.skew = timedelta(seconds=skew_s, milliseconds=7)  # off the sampling grid
        self._kinds = list(self.rates)
        self._edges = np.cumsum([self.rates[k] for k in self._kinds])
        self._rng = np.random.default_rng([seed, 3])
        self._victims = _victims(fleet)

    def __bool__(self) -> bool:
        return bool(self.rates)

    @property
    def expected_for_skew(self) -> RejectReason | None:
        return RejectReason.FUTURE_TIMESTAMP if self.skew > FUTURE_TOLERANCE else None

    def draw(self, n: int) -> list[tuple[int, FaultKind]]:
        """The (device position, fault) pairs of one step, for ``n`` devices in order."""
        if not self.rates:
            return []
        u = self._rng.random(n)
        hit = np.flatnonzero(u < self._edges[-1])
        kinds = np.searchsorted(self._edges, u[hit], side="right")
        return [(int(i), self._kinds[int(k)]) for i, k in zip(hit, kinds, strict=True)]

    def corrupt(
        self, kind: FaultKind, device: Device, ts: datetime, seq: int, readings: dict[str, Any]
    ) -> Corrupted:
        topic = telemetry_topic(device.domain, device.device_id)
        body: dict[str, Any] = {"ts": format_timestamp(ts), "seq": seq, "readings": readings}
        name = next(iter(readings))
        metric = CATALOG[device.domain][name]
        if kind is FaultKind.MALFORMED_JSON:
            text = json.dumps(body)
            return Corrupted(topic, text[: len(text) // 2].encode())
        if kind is FaultKind.OUT_OF_RANGE:
            readings[name] = metric.max + (metric.max - metric.min)
        elif kind is FaultKind.NAN:
            readings[name] = float("nan")
        elif kind is FaultKind.UNKNOWN_METRIC:
            readings[_foreign_metric(device.domain)] = 1.0
        elif kind is FaultKind.OVERSIZED:
            body["note"] = " " * MAX_PAYLOAD_BYTES
        elif kind is FaultKind.FUTURE_TIMESTAMP:
            body["ts"] = format_timestamp(ts + timedelta(hours=1))
        elif kind is FaultKind.CLOCK_SKEW:
            body["ts"] = format_timestamp(ts + self.skew)
        elif kind is FaultKind.WRONG_TOPIC:
            topic = telemetry_topic(device.domain, self._victims[device.index])
        payload = json.dumps(body, separators=(",", ":")).encode()
        if kind is FaultKind.DUPLICATE:
            return Corrupted(topic, payload, copies=2)
        return Corrupted(topic, payload, deferred=kind is FaultKind.OUT_OF_ORDER)


def _foreign_metric(domain: str) -> str:
    """A real catalog name that is not a metric of ``domain``."""
    for other, metrics in CATALOG.items():
        for name in metrics:
            if other != domain and CATALOG.metric(domain, name) is None:
                return name
    raise RuntimeError("the catalog has a single domain: no foreign metric to borrow")


def _victims(fleet: Fleet) -> dict[int, str]:
    """For each device, a device id of another domain (or, failing that, an unknown id)."""
    by_domain = {d: fleet.of_domain(d) for d in fleet.domains}
    out: dict[int, str] = {}
    for device in fleet.devices:
        others = [d for d in fleet.domains if d != device.domain]
        if others:
            pool = by_domain[others[0]]
            out[device.index] = pool[device.index % len(pool)].device_id
        else:
            out[device.index] = f"{device.device_id}-ghost"[:64]
    return out
