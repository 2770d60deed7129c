"""The city looks like a city: rush hours, load curves, diurnal weather, seasons, and
devices of one district moving together."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from devices.simulator import Fleet
from devices.simulator.signals import Signals, decimals
from ioc.telemetry.catalog import CATALOG

FLEET = Fleet.build(60, seed=4)


def _mean(at: datetime, domain: str, metric: str, settle_steps: int = 30) -> float:
    """Mean over the fleet after letting the stateful models settle for half an hour."""
    signals = Signals(FLEET, seed=4)
    t = at - timedelta(minutes=settle_steps)
    for _ in range(settle_steps):
        values = signals.step(t, 60)
        t += timedelta(minutes=1)
    return float(values[domain][metric].mean())


def _local(day: int, hour: float, month: int = 11) -> datetime:
    """A local time (UTC+7) on a day of November 2026 (the 23rd is a Monday)."""
    return datetime(2026, month, day, tzinfo=UTC) + timedelta(hours=hour - 7)


def test_traffic_has_weekday_rush_hours_and_a_flatter_weekend() -> None:
    rush, night = (
        _mean(_local(23, 8), "traffic", "vehicle_count"),
        _mean(_local(23, 3), "traffic", "vehicle_count"),
    )
    saturday_morning = _mean(_local(21, 8), "traffic", "vehicle_count")
    assert rush > 5 * night
    assert saturday_morning < 0.6 * rush
    assert _mean(_local(23, 8), "traffic", "avg_speed_kmh") < _mean(
        _local(23, 3), "traffic", "avg_speed_kmh"
    )


def test_electrical_load_peaks_in_the_evening() -> None:
    evening = _mean(_local(23, 19.5), "energy", "load_pct")
    night = _mean(_local(23, 3.5), "energy", "load_pct")
    assert evening > 1.8 * night
    assert _mean(_local(23, 19.5), "energy", "voltage_v") < _mean(
        _local(23, 3.5), "energy", "voltage_v"
    )


def test_air_is_warm_in_the_afternoon_and_salt_creeps_in_in_the_dry_season() -> None:
    assert (
        _mean(_local(23, 14.5), "agriculture", "air_temperature_c")
        > _mean(_local(23, 5), "agriculture", "air_temperature_c") + 5
    )
    dry = _mean(_local(16, 12, month=3), "agriculture", "water_salinity_gl")
    wet = _mean(_local(16, 12, month=9), "agriculture", "water_salinity_gl")
    assert dry > 2 * wet


def test_devices_of_a_district_move_together() -> None:
    signals = Signals(FLEET, seed=4)
    t = _local(23, 14)
    rows = []
    for _ in range(120):
        rows.append(signals.step(t, 60)["energy"]["load_pct"])
        t += timedelta(minutes=1)
    series = np.array(rows).T  # devices × time
    series = series - series.mean(axis=1, keepdims=True)
    corr = np.corrcoef(series)
    district = np.array([d.district for d in FLEET.of_domain("energy")])
    same = district[:, None] == district[None, :]
    off_diagonal = ~np.eye(len(district), dtype=bool)
    within = corr[same & off_diagonal].mean()
    across = corr[~same].mean()
    assert within > across + 0.3, (within, across)


@pytest.mark.parametrize(("domain", "name"), [(d, m) for d in CATALOG for m in CATALOG[d]])
def test_precision_comes_from_the_catalog_band(domain: str, name: str) -> None:
    metric = CATALOG[domain][name]
    places = decimals(metric)
    assert 0 <= places <= 3
    # A step of the last place is small against the normal band, but not absurdly so.
    span = metric.typical_max - metric.typical_min
    assert 10**-places <= span / 10
