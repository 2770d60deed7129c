from __future__ import annotations

import pytest

from ioc import types
from ioc.errors import BadTopic, UnknownDomain
from ioc.telemetry import topics
from ioc.telemetry.catalog import CATALOG, DOMAINS, Catalog, load_catalog
from ioc.telemetry.topics import Topic, parse_topic, status_topic, telemetry_topic


def test_every_domain_has_at_least_four_metrics_with_units_and_ranges() -> None:
    assert tuple(CATALOG) == DOMAINS
    for domain in DOMAINS:
        assert len(CATALOG[domain]) >= 4, domain
        for metric in CATALOG[domain].values():
            assert metric.unit and metric.min < metric.max


def test_catalog_refuses_ranges_that_do_not_nest() -> None:
    with pytest.raises(ValueError, match="not nested"):
        Catalog.from_toml('[traffic.x]\nunit="u"\nmin=0\nmax=10\ntypical_min=5\ntypical_max=20\n')
    with pytest.raises(ValueError, match="unknown domains"):
        Catalog.from_toml('[water.x]\nunit="u"\nmin=0\nmax=1\n')


def test_catalog_as_dict_is_what_the_api_serves() -> None:
    served = CATALOG.as_dict()
    fridge = next(m for m in served["health"] if m["name"] == "fridge_temp_c")
    assert fridge["unit"] == "°C" and fridge["min"] < 2 < 8 < fridge["max"]


def test_topics_round_trip() -> None:
    assert parse_topic(telemetry_topic("energy", "feeder_7")) == Topic(
        "energy", "feeder_7", "telemetry"
    )
    assert parse_topic(status_topic("health", "F-1")) == Topic("health", "F-1", "status")


@pytest.mark.parametrize(
    ("topic", "error"),
    [
        ("ioc/v1/traffic/cam-1", BadTopic),
        ("ioc/v2/traffic/cam-1/telemetry", BadTopic),
        ("ioc/v1/traffic/cam-1/command", BadTopic),
        ("ioc/v1/traffic/" + "x" * 65 + "/telemetry", BadTopic),
        ("ioc/v1/traffic/a+b/telemetry", BadTopic),
        ("ioc/v1/weather/cam-1/telemetry", UnknownDomain),
    ],
)
def test_topics_refused(topic: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_topic(topic)


def test_catalog_domains_and_device_ids_are_the_contract_vocabulary() -> None:
    assert DOMAINS is types.DOMAINS and topics.DEVICE_ID_PATTERN is types.DEVICE_ID_PATTERN
    with pytest.raises(ValueError, match="no metrics for domains"):
        load_catalog('[traffic.x]\nunit="u"\nmin=0\nmax=1\n')
    assert load_catalog() == CATALOG
