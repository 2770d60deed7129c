"""Determinism, the contract of every message, sequence counters and store-and-forward."""

from __future__ import annotations

import json
from datetime import timedelta

from devices.simulator import Fleet, Simulator
from devices.simulator.engine import batches
from ioc.telemetry.catalog import CATALOG
from ioc.telemetry.decoder import decode_status
from ioc.telemetry.payloads import MAX_PAYLOAD_BYTES
from tests.simulator.conftest import MONDAY, collect, telemetry


def _messages(seed: int) -> list[tuple[str, bytes]]:
    fleet = Fleet.build(5, seed=seed)
    sim = Simulator(fleet, start=MONDAY, interval_s=60, seed=seed)
    out = [(m.topic, m.payload) for m in sim.connect()]
    for step in sim.run(30):
        out += [(m.topic, m.payload) for m in step]
    return out


def test_same_seed_gives_the_same_messages_and_another_seed_does_not() -> None:
    assert _messages(11) == _messages(11)
    assert _messages(11) != _messages(12)


def test_two_days_of_a_fleet_are_all_accepted_by_the_decoder_and_stay_in_the_normal_band() -> None:
    fleet = Fleet.build(6, seed=2)
    # Saturday 00:00 local to Monday: weekend and weekday shapes, day and night.
    sim = Simulator(fleet, start=MONDAY - timedelta(days=2), interval_s=600, seed=2)
    sent, series = collect(sim, 2 * 24 * 6)
    assert len(telemetry(sent)) == 2 * 24 * 6 * len(fleet)
    for (device_id, name), values in series.items():
        domain = device_id.split("-")[1]
        metric = CATALOG[domain][name]
        assert all(metric.typical_min <= v <= metric.typical_max for v in values.values()), name
    # Every catalog metric of every domain is produced.
    produced = {(k[0].split("-")[1], k[1]) for k in series}
    assert produced == {(d, m) for d in CATALOG for m in CATALOG[d]}


def test_status_messages_are_retained_and_decode() -> None:
    fleet = Fleet.build(1)
    sim = Simulator(fleet, start=MONDAY, interval_s=10)
    online, offline = sim.connect(), sim.disconnect()
    assert len(online) == len(offline) == len(fleet)
    for message in online + offline:
        assert message.retain and message.kind == "status"
        update = decode_status(message.topic, message.payload, MONDAY, fleet.lookup())
        assert update.online is (message in online)
        assert update.ts == MONDAY


def test_each_device_counts_its_own_sequence() -> None:
    fleet = Fleet.build(3)
    sim = Simulator(fleet, start=MONDAY, interval_s=10)
    seqs: dict[str, list[int]] = {}
    for step in sim.run(5):
        for m in step:
            seqs.setdefault(m.device_id, []).append(json.loads(m.payload)["seq"])
    assert len(seqs) == len(fleet)
    assert all(s == [0, 1, 2, 3, 4] for s in seqs.values())


def test_batches_stay_under_the_payload_limit_and_keep_every_sample() -> None:
    sample = json.dumps({"ts": "2026-11-23T00:00:00.000Z", "seq": 1, "readings": {"x": 1.5}})
    samples = [sample] * 3000
    payloads = list(batches(samples))
    assert len(payloads) > 1
    assert all(len(p) <= MAX_PAYLOAD_BYTES for p in payloads)
    assert sum(len(json.loads(p)["batch"]) for p in payloads) == 3000
