"""Every simulator scenario, replayed through the decoder and the engine's book with the
default rules: each opens exactly the alerts the scenario expects, once each, and the
quiet city opens none. Simulated time drives the clock, so two hours take a second."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from devices.simulator.engine import Simulator
from devices.simulator.fleet import Fleet
from devices.simulator.scenarios import SCENARIOS
from ioc.alerts.book import Book, Change, Device
from ioc.alerts.defaults import default_rules
from ioc.alerts.models import Rule
from ioc.storage.registry import NewDevice
from ioc.telemetry.decoder import DeviceRecord, decode_status, decode_telemetry
from testkit.broker import Broker
from testkit.mqtt import Publisher
from testkit.services import wait_for
from tests.alerts.conftest import running_engine

Conn = psycopg.Connection[tuple[object, ...]]

START = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
DISTRICT = "D1"
TAIL_S = 1800  # after the scenario: time for everything to clear


def rules() -> list[Rule]:
    return [
        Rule.model_validate(
            {**spec.model_dump(), "id": i + 1, "created_at": START, "updated_at": START}
        )
        for i, spec in enumerate(default_rules())
    ]


def replay(
    fleet: Fleet, scenario: str | None, seconds: int, interval: float = 60.0
) -> list[Change]:
    scenarios = [] if scenario is None else [SCENARIOS[scenario](fleet, DISTRICT, START)]
    sim = Simulator(fleet, start=START, interval_s=interval, seed=7, scenarios=scenarios)
    records = {d.device_id: DeviceRecord(d.device_id, d.domain) for d in fleet.devices}
    book = Book(
        rules(),
        [Device(d.device_id, d.domain, d.district, heard=START.timestamp()) for d in fleet.devices],
    )
    changes: list[Change] = []
    for _ in range(int(seconds / interval)):
        received = sim.now
        now = received.timestamp()
        for m in sim.step():
            if m.kind == "status":
                u = decode_status(m.topic, m.payload, received, records.get)
                changes += book.status(u.device_id, u.ts.timestamp(), u.online, now)
                continue
            decoded = decode_telemetry(m.topic, m.payload, received, records.get)
            assert decoded.rejections == [], decoded.rejections
            samples = [(r.time.timestamp(), r.metric, r.value) for r in decoded.readings]
            changes += book.readings(m.device_id, samples, now)
        changes += book.tick(now)
    return changes


@pytest.fixture(scope="module")
def fleet() -> Fleet:
    return Fleet.build(6, seed=3, districts=("D1", "D2"))


def test_a_quiet_city_raises_nothing(fleet: Fleet) -> None:
    changes = replay(fleet, None, 3 * 3600)
    assert [(c.rule.name, c.subject) for c in changes] == []


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_each_scenario_opens_exactly_its_expected_alerts_once(fleet: Fleet, name: str) -> None:
    scenario = SCENARIOS[name](fleet, DISTRICT, START)
    changes = replay(fleet, name, scenario.duration_s + TAIL_S)
    opened = Counter((c.rule.name, c.subject) for c in changes if c.transition.action == "opened")
    resolved = Counter(
        (c.rule.name, c.subject) for c in changes if c.transition.action == "resolved"
    )
    expected = set()
    for e in scenario.expected_alerts():
        if e.kind == "group":
            expected.add((e.rule, f"district:{DISTRICT}"))
        else:
            expected.update((e.rule, d) for d in e.devices)
    assert set(opened) == expected
    assert set(opened.values()) == {1}, "an alert opened twice: flapping"
    # and everything clears once the incident is over
    assert resolved == opened
    for c in changes:
        if c.transition.action == "opened":
            e = next(x for x in scenario.expected_alerts() if x.rule == c.rule.name)
            at = c.transition.at - START.timestamp()
            assert at <= e.window[1], f"{c.rule.name} fired late, at {at:.0f}s"


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_through_the_broker_and_database(
    name: str, broker: Broker, database_url: str, db: Conn, register: Any, unique: Any
) -> None:
    """The same data, published over MQTT, evaluated by the running engine (whose clock
    follows the simulation), committed to the database: the expected alerts, once."""
    districts = (unique("D1"), unique("D2"))
    fleet = Fleet.build(3, seed=5, districts=districts, prefix=unique("sim"))
    register(*(NewDevice(d.device_id, d.domain, district=d.district) for d in fleet.devices))
    scenario = SCENARIOS[name](fleet, districts[0], START)
    interval = 120
    steps = int((scenario.duration_s + TAIL_S) / interval)
    start = datetime.now(UTC) - timedelta(seconds=(steps + 1) * interval)
    scenario = SCENARIOS[name](fleet, districts[0], start)
    sim = Simulator(fleet, start=start, interval_s=interval, seed=7, scenarios=[scenario])
    clock = [start.timestamp()]
    sent = 0

    def handled() -> float:
        m = engine.metrics
        return m.value("ioc_alerts_messages_received_total", channel="telemetry") + m.value(
            "ioc_alerts_messages_received_total", channel="status"
        )

    with (
        running_engine(
            database_url,
            broker.url,
            clock=lambda: clock[0],
            alerts_domains=",".join(fleet.domains),
            alerts_tick_s=0.01,
        ) as engine,
        Publisher(broker.url) as pub,
    ):
        for _ in range(steps):
            clock[0] = sim.now.timestamp()
            messages = sim.step()
            for m in messages:
                pub.send(m.topic, m.payload, retain=m.retain, wait=False)
            sent += len(messages)
            wait_for(lambda n=sent: handled() >= n, timeout=20, interval=0.005)
            ticks = engine.metrics.value("ioc_alerts_ticks_total")
            wait_for(lambda n=ticks: engine.metrics.value("ioc_alerts_ticks_total") > n)
        ids = [d.device_id for d in fleet.devices]
        rows = db.execute(
            "SELECT rule_name, subject, state FROM alerts"
            " WHERE (device_id = ANY(%s) OR subject = ANY(%s)) AND rule_name = ANY(%s)",
            (ids, [f"district:{d}" for d in districts], [r.name for r in default_rules()]),
        ).fetchall()
    expected = set()
    for e in scenario.expected_alerts():
        if e.kind == "group":
            expected.add((e.rule, f"district:{districts[0]}"))
        else:
            expected.update((e.rule, d) for d in e.devices)
    assert sorted((str(r[0]), str(r[1])) for r in rows) == sorted(expected)
    assert {r[2] for r in rows} == {"resolved"}
    # ... and exactly the incidents it names, each holding its alerts, resolved with them
    held = db.execute(
        """SELECT i.id, i.policy, i.procedure, i.state, a.rule_name, a.subject
           FROM incident_alerts a JOIN incidents i ON i.id = a.incident_id
           WHERE (a.device_id = ANY(%s) OR a.subject = ANY(%s)) AND a.rule_name = ANY(%s)""",
        (ids, [f"district:{d}" for d in districts], [r.name for r in default_rules()]),
    ).fetchall()
    found: dict[int, tuple[str, str | None, set[tuple[str, str]]]] = {}
    for iid, policy, procedure, state, rule_name, subject in held:
        assert state == "resolved"
        found.setdefault(int(iid), (str(policy), procedure, set()))[2].add((rule_name, subject))
    assert sorted(found.values(), key=str) == sorted(
        ((e.policy, e.procedure, set(e.alerts)) for e in scenario.expected_incidents()), key=str
    )
