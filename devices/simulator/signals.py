"""Realistic signals for a whole fleet at once, vectorised with numpy.

Each domain has a small physical model that produces a *level* per metric, where 0..1
spans the catalog's normal band (``typical_min``..``typical_max``). Levels are mapped to
units through the catalog and clipped to that band, so an undisturbed city never leaves
it; only scenarios (and faults) push values further, and never past the physical range.
A catalog metric that no model knows gets a generic daily shape, so a new catalog entry
is simulated without touching this file.

Noise is correlated: every district has an AR(1) process that all its devices share
(weather, traffic waves, grid loading), plus each device's own noise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

import numpy as np

from devices.simulator.fleet import Fleet
from ioc.telemetry.catalog import CATALOG, Metric

Levels = dict[str, np.ndarray]
_DRY_MONTHS = frozenset({12, 1, 2, 3, 4, 5})
_TIDE_PERIOD_H = 12.42


def _bell(h: float, mu: float, sd: float) -> float:
    """A daily bump centred on hour ``mu``, wrapping round midnight."""
    d = min(abs(h - mu), 24 - abs(h - mu))
    return math.exp(-0.5 * (d / sd) ** 2)


class Clock:
    """What the models need to know of an instant, in the city's local time."""

    def __init__(self, now: datetime, utc_offset_h: float) -> None:
        local = now.astimezone(UTC) + timedelta(hours=utc_offset_h)
        self.hours = local.hour + local.minute / 60 + local.second / 3600
        self.weekend = local.weekday() >= 5
        self.dry_season = local.month in _DRY_MONTHS
        self.tide = math.sin(2 * math.pi * now.timestamp() / 3600 / _TIDE_PERIOD_H)


class Correlated:
    """AR(1) noise shared by the devices of a district, plus white noise per device."""

    def __init__(
        self,
        rng: np.random.Generator,
        district: np.ndarray,
        tau_s: float,
        shared_sd: float,
        own_sd: float,
    ) -> None:
        self._rng = rng
        self._district = district
        self._state = rng.standard_normal(int(district.max()) + 1 if district.size else 0)
        self._tau_s = tau_s
        self._shared_sd = shared_sd
        self._own_sd = own_sd

    def sample(self, dt_s: float) -> np.ndarray:
        rho = math.exp(-dt_s / self._tau_s)
        shocks = self._rng.standard_normal(self._state.size)
        self._state = rho * self._state + math.sqrt(1 - rho * rho) * shocks
        own = self._rng.standard_normal(self._district.size)
        out: np.ndarray = self._shared_sd * self._state[self._district] + self._own_sd * own
        return out


class Traffic:
    """Demand follows rush hours on weekdays and a broad midday hump at weekends."""

    def __init__(self, rng: np.random.Generator, district: np.ndarray) -> None:
        n = district.size
        self.capacity = rng.uniform(0.6, 1.0, n)  # arterial roads fill up more
        self.free_flow = rng.uniform(0.65, 1.0, n)
        self.noise = Correlated(rng, district, tau_s=600, shared_sd=0.08, own_sd=0.04)

    @staticmethod
    def demand(c: Clock) -> float:
        h = c.hours
        if c.weekend:
            d = 0.06 + 0.55 * _bell(h, 13, 3.5) + 0.25 * _bell(h, 19.5, 2)
        else:
            d = 0.05 + 0.92 * _bell(h, 7.75, 1.0) + 0.88 * _bell(h, 17.75, 1.2)
            d += 0.40 * _bell(h, 12.5, 2.5)
        return min(d, 1.0)

    def step(self, c: Clock, dt_s: float) -> Levels:
        demand = np.clip(self.demand(c) * self.capacity * (1 + self.noise.sample(dt_s)), 0, 1)
        return {
            "vehicle_count": demand,
            "lane_occupancy_pct": demand**1.3,
            "avg_speed_kmh": self.free_flow * (1 - 0.8 * demand**2),
            "queue_length_m": np.clip((demand - 0.45) / 0.55, 0, 1) ** 2,
        }


class Energy:
    """The load curve: a night trough, a morning ramp and the evening peak."""

    def __init__(self, rng: np.random.Generator, district: np.ndarray) -> None:
        n = district.size
        self.share = rng.uniform(0.7, 1.0, n)
        self.rating = rng.uniform(0.5, 1.0, n)
        self.noise = Correlated(rng, district, tau_s=900, shared_sd=0.05, own_sd=0.02)
        self.grid = Correlated(rng, np.zeros(n, dtype=np.int64), 120, 0.15, 0.01)

    @staticmethod
    def curve(c: Clock) -> float:
        h = c.hours
        morning = 0.20 * _bell(h, 10 if c.weekend else 8.5, 1.5)
        e = 0.35 + morning + 0.30 * _bell(h, 13, 3) + 0.55 * _bell(h, 19.5, 2)
        return min(e * (0.9 if c.weekend else 1.0), 1.0)

    def step(self, c: Clock, dt_s: float) -> Levels:
        load = np.clip(self.curve(c) * self.share * (1 + self.noise.sample(dt_s)), 0, 1)
        return {
            "load_pct": load,
            "active_power_kw": load * self.rating,
            "voltage_v": 0.8 - 0.45 * load + 0.05 * self.noise.sample(dt_s),
            "frequency_hz": 0.5 + self.grid.sample(dt_s),
        }


class Agriculture:
    """Weather by district (diurnal temperature, afternoon showers), irrigation at dawn and
    dusk, a tidal canal, and salt water creeping in during the dry season."""

    def __init__(self, rng: np.random.Generator, district: np.ndarray) -> None:
        n = district.size
        self.rng = rng
        self.district = district
        districts = int(district.max()) + 1 if n else 0
        self.rain = np.zeros(districts)  # intensity level per district
        self.rain_left_s = np.zeros(districts)
        self.irrigated = rng.random(n) < 0.6
        self.coastal = rng.uniform(0.0, 1.0, n)
        self.soil = rng.uniform(0.3, 0.6, n)
        self.wet = np.zeros(n)  # water from recent rain in the canal, as a level
        self.exposure = rng.uniform(0.85, 1.15, n)
        self.noise = Correlated(rng, district, tau_s=1800, shared_sd=0.04, own_sd=0.015)

    def _weather(self, c: Clock, dt_s: float) -> None:
        per_hour = (0.01 if c.dry_season else 0.05) + (0.02 if c.dry_season else 0.18) * _bell(
            c.hours, 15.5, 2
        )
        starts = (self.rain_left_s <= 0) & (
            self.rng.random(self.rain.size) < per_hour * dt_s / 3600
        )
        self.rain_left_s[starts] = self.rng.exponential(2700, int(starts.sum()))
        self.rain[starts] = self.rng.uniform(0.15, 0.9, int(starts.sum()))
        self.rain_left_s -= dt_s
        self.rain[self.rain_left_s <= 0] = 0.0

    def step(self, c: Clock, dt_s: float) -> Levels:
        self._weather(c, dt_s)
        hours = dt_s / 3600
        rain = self.rain[self.district] * self.exposure
        temp = (
            0.5 + 0.35 * math.cos(2 * math.pi * (c.hours - 14.5) / 24) - 0.25 * np.minimum(rain, 1)
        )
        irrigating = self.irrigated & ((5.5 <= c.hours < 6.5) or (17 <= c.hours < 17.5))
        self.soil += hours * (0.8 * rain + 0.5 * irrigating - 0.02 * (0.5 + temp))
        self.soil = np.clip(self.soil, 0, 1)
        self.wet += hours * (0.6 * rain - 0.15 * self.wet)
        season = 1.0 if c.dry_season else 0.15
        salt = season * (0.3 + 0.45 * self.coastal + 0.2 * c.tide) - 0.5 * self.wet
        return {
            "air_temperature_c": temp + self.noise.sample(dt_s),
            "rainfall_mm_h": rain,
            "soil_moisture_pct": self.soil,
            "water_level_cm": 0.45 + 0.3 * c.tide + self.wet + 0.5 * self.noise.sample(dt_s),
            "water_salinity_gl": salt + 0.3 * self.noise.sample(dt_s),
        }


class Health:
    """Vaccine fridges cycle round their set point and warm when the door opens; hospitals
    fill by afternoon; the emergency department queues in the evening; PM2.5 follows
    traffic and the night-time inversion."""

    def __init__(self, rng: np.random.Generator, district: np.ndarray) -> None:
        n = district.size
        self.rng = rng
        self.setpoint = rng.uniform(0.38, 0.55, n)
        self.phase = rng.uniform(0, 2 * math.pi, n)
        self.door = np.zeros(n)
        self.busy = rng.uniform(0.45, 0.8, n)
        self.noise = Correlated(rng, district, tau_s=3600, shared_sd=0.03, own_sd=0.01)
        self.air = Correlated(rng, district, tau_s=1800, shared_sd=0.12, own_sd=0.03)
        self.t = 0.0

    def step(self, c: Clock, dt_s: float) -> Levels:
        self.t += dt_s
        h = c.hours
        opens_per_h = 4.0 if 7.5 <= h < 17 and not c.weekend else 0.3
        opened = self.rng.random(self.door.size) < opens_per_h * dt_s / 3600
        self.door = self.door * math.exp(-dt_s / 300) + 0.25 * opened
        cycle = 0.05 * np.sin(2 * math.pi * self.t / 1800 + self.phase)
        wait = 0.12 + 0.3 * _bell(h, 11, 2.5) + 0.45 * _bell(h, 20.5, 2.5)
        pm = 0.2 + 0.25 * _bell(h, 7.5, 1.5) + 0.25 * _bell(h, 18.5, 1.8) + 0.3 * _bell(h, 0, 3)
        return {
            "fridge_temp_c": self.setpoint + cycle + self.door,
            "bed_occupancy_pct": self.busy + 0.12 * _bell(h, 15, 4) + self.noise.sample(dt_s),
            "emergency_wait_min": self.busy * (wait + self.noise.sample(dt_s)) * 1.4,
            "pm25_ugm3": (pm * (1.2 if c.dry_season else 0.9)) * (1 + self.air.sample(dt_s)),
        }


class Generic:
    """For catalog metrics no model knows: a daily wave inside the normal band."""

    def __init__(self, rng: np.random.Generator, district: np.ndarray) -> None:
        self.phase = rng.uniform(0, 24, district.size)
        self.noise = Correlated(rng, district, tau_s=900, shared_sd=0.05, own_sd=0.02)

    def level(self, c: Clock, dt_s: float) -> np.ndarray:
        wave = 0.5 + 0.3 * np.sin(2 * math.pi * (c.hours + self.phase) / 24)
        return np.asarray(wave + self.noise.sample(dt_s))


Model = Traffic | Energy | Agriculture | Health
MODELS: Mapping[str, Callable[[np.random.Generator, np.ndarray], Model]] = {
    "traffic": Traffic,
    "energy": Energy,
    "agriculture": Agriculture,
    "health": Health,
}


def decimals(metric: Metric) -> int:
    """Precision that suits a metric's normal band: counts and kW whole, Hz to 3 places."""
    span = metric.typical_max - metric.typical_min
    if span <= 0:
        return 2
    return max(0, min(3, 3 - math.ceil(math.log10(span))))


class Signals:
    """Every device's values at each step, as ``{domain: {metric: array}}`` in units."""

    def __init__(self, fleet: Fleet, seed: int, utc_offset_h: float = 7.0) -> None:
        self.utc_offset_h = utc_offset_h
        districts = fleet.district_index()
        self._models: dict[str, Model] = {}
        self._generic: dict[str, dict[str, Generic]] = {}
        for number, (domain, where) in enumerate(fleet.slices().items()):
            rng = np.random.default_rng([seed, 2, number])
            local = districts[where]
            self._models[domain] = MODELS[domain](rng, local)
            self._generic[domain] = {
                name: Generic(rng, local)
                for name in CATALOG[domain]
                if name not in MODEL_METRICS[domain]
            }

    def step(self, now: datetime, dt_s: float) -> dict[str, dict[str, np.ndarray]]:
        c = Clock(now, self.utc_offset_h)
        out: dict[str, dict[str, np.ndarray]] = {}
        for domain, model in self._models.items():
            levels = model.step(c, dt_s)
            for name, generic in self._generic[domain].items():
                levels[name] = generic.level(c, dt_s)
            values: dict[str, np.ndarray] = {}
            for name, metric in CATALOG[domain].items():
                span = metric.typical_max - metric.typical_min
                level = np.clip(levels[name], 0.0, 1.0)
                values[name] = metric.typical_min + span * level
            out[domain] = values
        return out


def _model_metrics() -> dict[str, frozenset[str]]:
    """The metric names each model produces, checked against the catalog at import."""
    rng = np.random.default_rng(0)
    district = np.zeros(1, dtype=np.int64)
    c = Clock(datetime(2026, 1, 1, tzinfo=UTC), 0)
    names: dict[str, frozenset[str]] = {}
    for domain, make in MODELS.items():
        produced = frozenset(make(rng, district).step(c, 1.0))
        unknown = produced - set(CATALOG[domain])
        if unknown:
            raise RuntimeError(f"signal model {domain} names non-catalog metrics {unknown}")
        names[domain] = produced
    return names


MODEL_METRICS = _model_metrics()
