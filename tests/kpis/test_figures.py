"""The pure parts of the KPIs: each domain's expected report interval (catalog data)
and the domain headlines."""

from __future__ import annotations

from typing import Any

import pytest

from ioc.kpis.figures import headline, report_intervals
from ioc.telemetry.catalog import DEFAULT_REPORT_INTERVAL_S, Catalog
from ioc.types import DOMAINS

METRIC = 'unit="u"\nmin=0\nmax=10\n'


def test_every_domain_has_a_positive_report_interval() -> None:
    intervals = report_intervals()
    assert set(intervals) == set(DOMAINS)
    assert all(s > 0 for s in intervals.values())


def test_the_interval_is_catalog_data_and_not_a_metric() -> None:
    cat = Catalog.from_toml(f"[traffic]\nreport_interval_s = 60\n\n[traffic.x]\n{METRIC}")
    assert cat.report_interval_s("traffic") == 60
    assert list(cat["traffic"]) == ["x"]
    assert cat.report_interval_s("energy") == DEFAULT_REPORT_INTERVAL_S


def test_a_non_positive_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="report_interval_s"):
        Catalog.from_toml(f"[traffic]\nreport_interval_s = 0\n\n[traffic.x]\n{METRIC}")


@pytest.mark.parametrize(
    ("domain", "metrics", "expected"),
    [
        (
            "traffic",
            {"avg_speed_kmh": {"avg": 31.234, "devices": 4, "below": 1, "above": 0}},
            {"avg_speed_kmh": 31.23, "congestion_pct": 25.0},
        ),
        ("traffic", {}, {"avg_speed_kmh": None, "congestion_pct": None}),
        (
            "energy",
            {"load_pct": {"avg": 80.0, "max": 104.5, "devices": 3, "below": 0, "above": 1}},
            {"load_pct_avg": 80.0, "load_pct_max": 104.5, "overloaded_feeders": 1},
        ),
        (
            "health",
            {"fridge_temp_c": {"avg": 6.0, "max": 9.5, "devices": 2, "below": 0, "above": 1}},
            {"fridges_out_of_range": 1, "fridge_temp_c_max": 9.5},
        ),
    ],
)
def test_headline(domain: str, metrics: dict[str, dict[str, Any]], expected: object) -> None:
    assert headline(domain, metrics) == expected
