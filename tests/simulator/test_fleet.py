from __future__ import annotations

import pytest

from devices.simulator import Fleet
from ioc.telemetry.catalog import DOMAINS
from ioc.telemetry.topics import is_valid_device_id


def test_same_seed_same_fleet_and_ids_fit_the_topic_contract() -> None:
    a, b = Fleet.build(10, seed=5), Fleet.build(10, seed=5)
    assert a == b
    assert len(a) == 40
    assert all(is_valid_device_id(d.device_id) for d in a.devices)
    assert [d.index for d in a.devices] == list(range(40))
    assert Fleet.build(10, seed=6).devices[0].lat != a.devices[0].lat


def test_devices_are_dealt_over_districts_and_slices_cover_domains() -> None:
    fleet = Fleet.build(12, districts=["a", "b", "c"])
    for domain in DOMAINS:
        assert [d.district for d in fleet.of_domain(domain)].count("b") == 4
    slices = fleet.slices()
    assert [fleet.devices[i].domain for i in range(*slices["energy"].indices(len(fleet)))] == [
        "energy"
    ] * 12
    assert len(fleet.in_district("c", "health")) == 4


def test_lookup_knows_every_device_and_nothing_else() -> None:
    fleet = Fleet.build(2, domains=["traffic"])
    lookup = fleet.lookup()
    record = lookup("sim-traffic-00002")
    assert record is not None and record.domain == "traffic"
    assert lookup("sim-traffic-00003") is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"per_domain": 0}, "at least 1"),
        ({"per_domain": 1, "districts": []}, "district"),
        ({"per_domain": 1, "domains": ["water"]}, "unknown domains"),
        ({"per_domain": 1, "prefix": "bad prefix"}, "topic contract"),
    ],
)
def test_bad_arguments_are_refused_clearly(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Fleet.build(**kwargs)  # type: ignore[arg-type]
