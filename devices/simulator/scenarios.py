"""Incidents a demo (and the alert rules' tests) can rely on.

Each scenario is deterministic for a seed: it acts on fixed devices of one district and
follows a fixed timeline relative to its start. It says, as data
(:mod:`devices.simulator.expectations`), what the default alert rules should raise — the
metric, the condition, the devices, and the window of scenario time during which the
condition holds on every listed device — and the incidents they gather into.
The metric names used here are checked against the catalog at import.

Scenarios (``python -m devices.simulator --list-scenarios`` prints them as JSON):

* ``traffic_jam`` (all traffic devices of the district): a jam starts at one junction and
  spreads to all within 15 min, holds, clears at 55 min. District speed < 15 km/h, each
  junction < 5 km/h, queues > 400 m.
* ``feeder_overload`` (the district's first feeder): load climbs to ~125 % with voltage
  sagging, protection trips at 25 min, outage for 30 min. Load > 100 %, voltage < 207 V.
* ``heavy_rain`` (all agriculture devices): an hour of rain peaking at 70 mm/h, the canal
  rises to 300 cm, salt water follows the surge. Rain > 50 mm/h, level > 250 cm,
  salinity > 4 g/L.
* ``fridge_failure`` (the district's first health device): the compressor stops for an
  hour, then cools back. Fridge > 8 °C for over an hour.
* ``power_cut`` (every device of the district): offline for 20 min, then each catches up
  with store-and-forward batches. Absence of data for every device.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import ClassVar

import numpy as np

from devices.simulator.expectations import ExpectedAlert, ExpectedIncident
from devices.simulator.fleet import Device, Fleet
from ioc.telemetry.catalog import CATALOG

Values = dict[str, dict[str, np.ndarray]]


def _ramp(t: float, start: float, length: float) -> float:
    return min(max((t - start) / length, 0.0), 1.0)


def _wobble(t: float, n: int, amount: float = 0.03) -> np.ndarray:
    """Small deterministic movement so held values do not look frozen."""
    out: np.ndarray = 1 + amount * np.sin(t / 37.0 + np.arange(n) * 1.7)
    return out


class Scenario:
    """One incident in one district, starting at ``start``."""

    name: ClassVar[str]
    summary: ClassVar[str]
    domain: ClassVar[str | None]  # None: every domain
    duration_s: ClassVar[int]
    metrics: ClassVar[tuple[str, ...]] = ()

    def __init__(self, fleet: Fleet, district: str, start: datetime) -> None:
        self.fleet = fleet
        self.district = district
        self.start = start
        self.targets = self.pick(fleet.in_district(district, self.domain))
        if not self.targets:
            raise ValueError(f"{self.name}: district {district!r} has no {self.domain} devices")
        offsets = fleet.slices()
        self._local = {
            domain: np.array(
                [d.index - offsets[domain].start for d in self.targets if d.domain == domain]
            )
            for domain in offsets
        }

    def pick(self, devices: tuple[Device, ...]) -> tuple[Device, ...]:
        return devices

    @property
    def device_ids(self) -> tuple[str, ...]:
        return tuple(d.device_id for d in self.targets)

    def elapsed(self, now: datetime) -> float | None:
        t = (now - self.start).total_seconds()
        return t if 0 <= t < self.duration_s else None

    def expected_alerts(self) -> tuple[ExpectedAlert, ...]:
        raise NotImplementedError

    #: the correlation policy and procedure its incident has (see expected_incidents)
    policy: ClassVar[str]
    procedure: ClassVar[str | None]

    def expected_incidents(self) -> tuple[ExpectedIncident, ...]:
        """One problem, one card: every expected alert in a single incident."""
        alerts: list[tuple[str, str]] = []
        for e in self.expected_alerts():
            if e.kind == "group":
                alerts.append((e.rule, f"district:{self.district}"))
            else:
                alerts += [(e.rule, d) for d in e.devices]
        return (ExpectedIncident(self.policy, self.procedure, tuple(alerts)),)

    def apply(self, now: datetime, values: Values, offline: np.ndarray) -> None:
        """Change this step's values (and which devices are offline) in place."""
        t = self.elapsed(now)
        if t is not None:
            self.act(t, values, offline)

    def act(self, t: float, values: Values, offline: np.ndarray) -> None:
        raise NotImplementedError

    def _blend(
        self, values: Values, metric: str, target: np.ndarray, w: np.ndarray | float
    ) -> None:
        idx = self._local[self.domain or ""]
        current = values[self.domain or ""][metric]
        current[idx] = (1 - w) * current[idx] + w * target


class TrafficJam(Scenario):
    name = "traffic_jam"
    policy = "district-congestion"
    procedure = "traffic_jam"
    summary = "a jam spreads from one junction through the district's roads, then clears"
    domain = "traffic"
    duration_s = 3600
    metrics = ("avg_speed_kmh", "lane_occupancy_pct", "queue_length_m", "vehicle_count")
    SPREAD_S, RAMP_S, CLEAR_S = 900, 180, 300

    def pick(self, devices: tuple[Device, ...]) -> tuple[Device, ...]:
        """Ordered by distance from the first junction, so the jam spreads outwards."""
        first = devices[0]
        return tuple(
            sorted(devices, key=lambda d: (d.lat - first.lat) ** 2 + (d.lon - first.lon) ** 2)
        )

    def act(self, t: float, values: Values, offline: np.ndarray) -> None:
        n = len(self.targets)
        joins = self.SPREAD_S * np.arange(n) / max(n - 1, 1)
        w = np.clip((t - joins) / self.RAMP_S, 0, 1) * min((self.duration_s - t) / self.CLEAR_S, 1)
        wobble = _wobble(t, n)
        self._blend(values, "avg_speed_kmh", 4.0 * wobble, w)
        self._blend(values, "lane_occupancy_pct", 88.0 * wobble, w)
        self._blend(values, "queue_length_m", 750.0 * wobble, w)
        self._blend(values, "vehicle_count", 18.0 * wobble, w)

    def expected_alerts(self) -> tuple[ExpectedAlert, ...]:
        ids, window = self.device_ids, (self.SPREAD_S + self.RAMP_S + 120, 3300)
        return (
            ExpectedAlert(
                "Traffic: district speed collapse",
                "group",
                "traffic",
                "avg_speed_kmh",
                "<",
                15,
                window,
                ids,
            ),
            ExpectedAlert(
                "Traffic: junction jammed",
                "threshold",
                "traffic",
                "avg_speed_kmh",
                "<",
                5,
                window,
                ids,
            ),
            ExpectedAlert(
                "Traffic: queue spill-back",
                "threshold",
                "traffic",
                "queue_length_m",
                ">",
                400,
                window,
                ids,
            ),
        )


class FeederOverload(Scenario):
    name = "feeder_overload"
    policy = "feeder-trouble"
    procedure = "feeder_overload"
    summary = "a feeder is overloaded until its protection trips, then it is out for 30 min"
    domain = "energy"
    duration_s = 3300
    metrics = ("load_pct", "active_power_kw", "voltage_v")
    TRIP_S = 1500

    def pick(self, devices: tuple[Device, ...]) -> tuple[Device, ...]:
        return devices[:1]

    def act(self, t: float, values: Values, offline: np.ndarray) -> None:
        v, idx = values["energy"], self._local["energy"]
        if t < self.TRIP_S:
            w = _ramp(t, 0, 600)
            load = v["load_pct"][idx]
            target = 125.0 * _wobble(t, idx.size)
            per_pct = v["active_power_kw"][idx] / np.maximum(load, 1.0)
            v["load_pct"][idx] = (1 - w) * load + w * target
            v["active_power_kw"][idx] = per_pct * v["load_pct"][idx]
            v["voltage_v"][idx] = (1 - w) * v["voltage_v"][idx] + w * 203.0
        else:
            for metric in self.metrics:
                v[metric][idx] = 0.0

    def expected_alerts(self) -> tuple[ExpectedAlert, ...]:
        ids = self.device_ids
        return (
            ExpectedAlert(
                "Energy: feeder overloaded",
                "threshold",
                "energy",
                "load_pct",
                ">",
                100,
                (600, self.TRIP_S),
                ids,
            ),
            ExpectedAlert(
                "Energy: undervoltage",
                "threshold",
                "energy",
                "voltage_v",
                "<",
                207,
                (600, self.duration_s),
                ids,
            ),
        )


class HeavyRain(Scenario):
    name = "heavy_rain"
    policy = "district-flooding"
    procedure = "flooding"
    summary = "an hour of torrential rain; the canal overflows and a surge brings salt water"
    domain = "agriculture"
    duration_s = 7200
    metrics = ("rainfall_mm_h", "water_level_cm", "water_salinity_gl", "soil_moisture_pct")

    def act(self, t: float, values: Values, offline: np.ndarray) -> None:
        n = len(self.targets)
        rain = 70.0 * math.sqrt(max(math.sin(math.pi * min(t, 3600) / 3600), 0.0))
        self._blend(values, "rainfall_mm_h", rain * _wobble(t, n, 0.08), 1.0)
        rise = _ramp(t, 0, 2700) * (1 - _ramp(t, 5400, 1800))
        self._blend(values, "water_level_cm", 300.0 * _wobble(t, n), rise)
        self._blend(values, "water_salinity_gl", 5.5 * _wobble(t, n), _ramp(t, 1800, 1800))
        self._blend(values, "soil_moisture_pct", 70.0 * _wobble(t, n), _ramp(t, 0, 1800))

    def expected_alerts(self) -> tuple[ExpectedAlert, ...]:
        ids = self.device_ids
        return (
            ExpectedAlert(
                "Agriculture: heavy rainfall",
                "threshold",
                "agriculture",
                "rainfall_mm_h",
                ">",
                50,
                (900, 2700),
                ids,
            ),
            ExpectedAlert(
                "Agriculture: field flooding",
                "threshold",
                "agriculture",
                "water_level_cm",
                ">",
                250,
                (2400, 5400),
                ids,
            ),
            ExpectedAlert(
                "Agriculture: saline water",
                "threshold",
                "agriculture",
                "water_salinity_gl",
                ">",
                4,
                (3300, 7200),
                ids,
            ),
        )


class FridgeFailure(Scenario):
    name = "fridge_failure"
    policy = "rule-in-district"
    procedure = "fridge_failure"
    summary = "a vaccine fridge's compressor stops for an hour; it warms towards the room"
    domain = "health"
    duration_s = 7200
    metrics = ("fridge_temp_c",)
    ROOM_C, FAIL_S, WARM_TAU_S, COOL_TAU_S = 28.0, 3600, 3600, 900

    def pick(self, devices: tuple[Device, ...]) -> tuple[Device, ...]:
        return devices[:1]

    def act(self, t: float, values: Values, offline: np.ndarray) -> None:
        temp, idx = values["health"]["fridge_temp_c"], self._local["health"]
        normal = temp[idx]
        warmed = min(t, self.FAIL_S)
        peak = normal + (self.ROOM_C - normal) * (1 - math.exp(-warmed / self.WARM_TAU_S))
        if t < self.FAIL_S:
            temp[idx] = peak
        else:
            temp[idx] = normal + (peak - normal) * math.exp(-(t - self.FAIL_S) / self.COOL_TAU_S)

    def expected_alerts(self) -> tuple[ExpectedAlert, ...]:
        return (
            ExpectedAlert(
                "Health: vaccine fridge warm",
                "threshold",
                "health",
                "fridge_temp_c",
                ">",
                8,
                (900, 4500),
                self.device_ids,
            ),
        )


class PowerCut(Scenario):
    name = "power_cut"
    policy = "district-silence"
    procedure = "power_cut"
    summary = "the district loses power: every device drops off for 20 min, then catches up"
    domain = None
    duration_s = 1200
    SILENT_RULES: ClassVar[Mapping[str, str]] = {
        "traffic": "Traffic: counter silent",
        "energy": "Energy: meter silent",
        "agriculture": "Agriculture: sensor silent",
        "health": "Health: device silent",
    }

    def act(self, t: float, values: Values, offline: np.ndarray) -> None:
        offline[[d.index for d in self.targets]] = True

    def expected_alerts(self) -> tuple[ExpectedAlert, ...]:
        return tuple(
            ExpectedAlert(
                self.SILENT_RULES[domain],
                "absence",
                domain,
                None,
                None,
                None,
                (0, self.duration_s),
                tuple(d.device_id for d in self.targets if d.domain == domain),
            )
            for domain in self.fleet.domains
            if any(d.domain == domain for d in self.targets)
        )


SCENARIOS: Mapping[str, type[Scenario]] = {
    s.name: s for s in (TrafficJam, FeederOverload, HeavyRain, FridgeFailure, PowerCut)
}


def _check_against_catalog() -> None:
    for scenario in SCENARIOS.values():
        for metric in scenario.metrics:
            if scenario.domain is None or CATALOG.metric(scenario.domain, metric) is None:
                raise RuntimeError(f"scenario {scenario.name} names {metric!r}, not in catalog")


_check_against_catalog()
