"""Against the real broker and the real ingest: what the simulator sends is what is stored.

The runs are driven as fast as they go (not in real time) with simulated time ending
before now, so every timestamp is valid for the decoder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import psycopg

from devices.simulator import EXPECTED, SCENARIOS, FaultKind, FaultPlan, Fleet, Message, Simulator
from devices.simulator.run import run
from devices.simulator.sinks import PerDevice, Pooled
from ioc.config import parse_mqtt_url
from ioc.storage.registry import NewDevice
from ioc.telemetry.catalog import CATALOG
from ioc.telemetry.decoder import decode_telemetry
from testkit.broker import Broker
from testkit.services import running_ingest, wait_for

INTERVAL = 30


class Recording(Pooled):
    """The pooled sink, keeping a copy of what it sent."""

    sent: list[Message]

    def send(self, messages: Sequence[Message]) -> None:
        self.__dict__.setdefault("sent", []).extend(messages)
        super().send(messages)


class RecordingPerDevice(PerDevice):
    sent: list[Message]

    def send(self, messages: Sequence[Message]) -> None:
        self.__dict__.setdefault("sent", []).extend(messages)
        super().send(messages)


def _register(fleet: Fleet, register: Callable[..., None]) -> None:
    register(
        *(NewDevice(d.device_id, d.domain, d.name, d.district, d.lat, d.lon) for d in fleet.devices)
    )


def _readings(fleet: Fleet, sent: Sequence[Message]) -> int:
    lookup, now = fleet.lookup(), datetime.now(UTC)
    total = 0
    for m in sent:
        if m.kind == "telemetry":
            decoded = decode_telemetry(m.topic, m.payload, now, lookup)
            assert decoded.rejections == []
            total += len(decoded.readings)
    return total


def _metrics(fleet: Fleet) -> int:
    """Readings in one step of the whole fleet: every device sends its domain's metrics."""
    return sum(len(CATALOG[d.domain]) for d in fleet.devices)


def _stored(database_url: str, prefix: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM readings WHERE device_id LIKE %s", (f"{prefix}-%",)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_pooled_run_is_stored_row_for_row(
    broker: Broker,
    database_url: str,
    register: Callable[..., None],
    unique: Callable[[str], str],
) -> None:
    prefix = unique("sim")
    fleet = Fleet.build(10, seed=8, prefix=prefix)
    _register(fleet, register)
    steps = 20
    start = datetime.now(UTC) - timedelta(seconds=INTERVAL * (steps + 2))
    sim = Simulator(fleet, start=start, interval_s=INTERVAL, seed=8)
    sink = Recording(parse_mqtt_url(broker.url), len(fleet), connections=3, client_prefix=prefix)
    with running_ingest(database_url, broker.url):
        assert run(sim, sink, steps, realtime=False) == steps
        expected = _readings(fleet, sink.sent)
        assert expected == steps * _metrics(fleet)
        wait_for(lambda: _stored(database_url, prefix) == expected, timeout=30)
    assert sink.stats.errors == 0
    assert sink.stats.acked == sink.stats.messages == len(sink.sent)
    with psycopg.connect(database_url) as conn:
        offline = conn.execute(
            "SELECT count(*) FROM devices WHERE device_id LIKE %s AND online IS FALSE",
            (f"{prefix}-%",),
        ).fetchone()
    assert offline == (len(fleet),)  # the clean shutdown said so


def test_power_cut_through_last_wills_and_store_and_forward(
    broker: Broker,
    database_url: str,
    register: Callable[..., None],
    unique: Callable[[str], str],
) -> None:
    """One connection per device: the broker itself announces the devices that drop off
    (their last will), and what they kept while offline arrives as batches."""
    prefix = unique("cut")
    fleet = Fleet.build(2, seed=8, prefix=prefix, districts=["central", "north"])
    _register(fleet, register)
    cut = SCENARIOS["power_cut"]
    steps = cut.duration_s // INTERVAL + 10
    start = datetime.now(UTC) - timedelta(seconds=INTERVAL * (steps + 2))
    scenario = cut(fleet, "central", start + timedelta(seconds=3 * INTERVAL))
    sim = Simulator(fleet, start=start, interval_s=INTERVAL, seed=8, scenarios=[scenario])
    sink = RecordingPerDevice(
        parse_mqtt_url(broker.url), {d.device_id: d.domain for d in fleet.devices}
    )
    with running_ingest(database_url, broker.url):
        run(sim, sink, steps, realtime=False)
        expected = _readings(fleet, sink.sent)
        assert expected == steps * _metrics(fleet)
        wait_for(lambda: _stored(database_url, prefix) == expected, timeout=30)
        with psycopg.connect(database_url) as conn:

            def events() -> list[tuple[str, bool]]:
                rows = conn.execute(
                    "SELECT device_id, online FROM device_events WHERE device_id = ANY(%s)",
                    (list(scenario.device_ids),),
                ).fetchall()
                return [(str(r[0]), bool(r[1])) for r in rows]

            # Online at start and after the cut; offline twice, each time by the broker
            # publishing the device's last will (this sink never publishes "offline").
            # A will carries no timestamp and is stamped on receipt, while this run's
            # simulated time is in the past, so the events are compared as sets.
            wait_for(lambda: len(events()) == 4 * len(scenario.device_ids), timeout=15)
            per_device = {
                i: sorted(on for d, on in events() if d == i) for i in scenario.device_ids
            }
            online = conn.execute(
                "SELECT bool_or(online) FROM devices WHERE device_id LIKE %s", (f"{prefix}-%",)
            ).fetchone()
    assert all(states == [False, False, True, True] for states in per_device.values())
    assert online == (False,)
    offline_sent = [m for m in sink.sent if m.kind == "status" and b"offline" in m.payload]
    assert len(offline_sent) == len(scenario.device_ids) + len(fleet)
    assert sink.stats.errors == 0


def test_faults_reach_the_dead_letters_with_their_reasons(
    broker: Broker,
    database_url: str,
    register: Callable[..., None],
    unique: Callable[[str], str],
) -> None:
    """Duplicates are only caught at storage; the rest by the decoder inside ingest."""
    prefix = unique("bad")
    fleet = Fleet.build(5, seed=2, prefix=prefix)
    _register(fleet, register)
    kinds = [FaultKind.DUPLICATE, FaultKind.MALFORMED_JSON, FaultKind.NAN, FaultKind.OVERSIZED]
    plan = FaultPlan({k: 0.2 for k in kinds}, fleet, seed=2)
    steps = 10
    start = datetime.now(UTC) - timedelta(seconds=INTERVAL * (steps + 2))
    sim = Simulator(fleet, start=start, interval_s=INTERVAL, seed=2, faults=plan)
    sink = Recording(parse_mqtt_url(broker.url), len(fleet), client_prefix=prefix)
    sent_faults: dict[str, int] = {}
    with running_ingest(database_url, broker.url):
        run(sim, sink, steps, realtime=False)
        for m in sink.sent:
            if m.fault is not None:
                sent_faults[m.fault] = sent_faults.get(m.fault, 0) + 1
        # Every duplicate is sent twice; the second copy is the dead letter.
        expected = {
            str(EXPECTED[k]): sent_faults.get(k, 0) // (2 if k is FaultKind.DUPLICATE else 1)
            for k in kinds
        }
        assert all(expected.values()), expected

        def letters() -> dict[str, int]:
            with psycopg.connect(database_url) as conn:
                rows = conn.execute(
                    "SELECT reason, count(*) FROM dead_letters WHERE topic LIKE %s GROUP BY reason",
                    (f"%/{prefix}-%",),
                ).fetchall()
            return {str(r[0]): int(r[1]) for r in rows}

        wait_for(lambda: letters() == expected, timeout=30)
