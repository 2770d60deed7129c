"""Ingest against the real broker and the real database: what goes in, comes out once."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from paho.mqtt.client import topic_matches_sub

from ingest.service import IngestService
from ioc.storage.registry import NewDevice, decommission, register_devices
from ioc.telemetry.payloads import format_timestamp
from ioc.telemetry.topics import TELEMETRY_FILTER, status_topic, telemetry_topic
from testkit.broker import Broker
from testkit.mqtt import Publisher
from testkit.services import running_ingest, wait_for
from tests.telemetry.test_decoder import payload_of

Conn = psycopg.Connection[tuple[Any, ...]]


@pytest.fixture
def ingest(database_url: str, broker: Broker) -> Iterator[IngestService]:
    with running_ingest(database_url, broker.url) as service:
        yield service


@pytest.fixture
def publisher(broker: Broker) -> Iterator[Publisher]:
    with Publisher(broker.url) as p:
        yield p


def count(db: Conn, sql: str, *args: object) -> int:
    row = db.execute(sql, args).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def sample(ts: datetime, **readings: float) -> dict[str, Any]:
    return {"ts": format_timestamp(ts), "readings": readings}


def test_n_messages_become_exactly_the_expected_rows(
    ingest: IngestService,
    publisher: Publisher,
    db: Conn,
    register: Callable[..., None],
    unique: Callable[[str], str],
) -> None:
    devices = [unique(f"cam{i}") for i in range(5)]
    register(*(NewDevice(d, "traffic", district="D1") for d in devices))
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    n = 100
    for i in range(n):
        for d in devices:
            publisher.send(
                telemetry_topic("traffic", d),
                {
                    "ts": format_timestamp(start + timedelta(seconds=i)),
                    "seq": i,
                    "readings": {
                        "vehicle_count": i % 50,
                        "avg_speed_kmh": 40.5,
                        "lane_occupancy_pct": 12,
                        "queue_length_m": 3,
                    },
                },
                wait=False,
            )
    expected = n * len(devices) * 4
    ids = list(devices)
    wait_for(
        lambda: (
            count(db, "SELECT count(*) FROM readings WHERE device_id = ANY(%s)", ids) == expected
        )
    )
    assert ingest.wait_idle()
    # exactly: nothing more arrives, every metric of every device has all n samples
    rows = db.execute(
        "SELECT device_id, metric, count(*), min(time), max(time) FROM readings"
        " WHERE device_id = ANY(%s) GROUP BY 1, 2",
        (ids,),
    ).fetchall()
    assert len(rows) == 20
    assert {r[2] for r in rows} == {n}
    assert {(r[3], r[4]) for r in rows} == {(start, start + timedelta(seconds=n - 1))}
    # the latest value is the newest sample's
    latest = db.execute(
        "SELECT time, value FROM latest WHERE device_id = %s AND metric = 'vehicle_count'",
        (devices[0],),
    ).fetchone()
    assert latest == (start + timedelta(seconds=n - 1), float((n - 1) % 50))
    # rollups count every stored reading once
    wait_for(
        lambda: (
            count(db, "SELECT sum(n) FROM readings_1m WHERE device_id = ANY(%s)", ids) == expected
        )
    )
    assert count(db, "SELECT sum(n) FROM readings_1h WHERE device_id = ANY(%s)", ids) == expected
    per_minute = db.execute(
        "SELECT r.avg, (SELECT avg(value) FROM readings x WHERE x.device_id = r.device_id"
        " AND x.metric = r.metric AND time_bucket('1 minute', x.time) = r.bucket)"
        " FROM readings_1m r WHERE device_id = %s AND metric = 'vehicle_count'",
        (devices[1],),
    ).fetchall()
    assert per_minute and all(abs(a - b) < 1e-9 for a, b in per_minute)
    assert ingest.metrics.value("ioc_ingest_readings_stored_total") >= expected


def test_good_readings_survive_next_to_bad_ones(
    ingest: IngestService,
    publisher: Publisher,
    db: Conn,
    register: Callable[..., None],
    unique: Callable[[str], str],
) -> None:
    device = unique("feeder")
    register(NewDevice(device, "energy"))
    now = datetime.now(UTC)
    payload = {
        "batch": [
            sample(now - timedelta(seconds=20), voltage_v=231.0, frequency_hz=50.01, load_pct=999),
            {"ts": "not a time", "readings": {"voltage_v": 230}},
            {
                "ts": format_timestamp(now - timedelta(seconds=10)),
                "readings": {"voltage_v": 229.5, "humidity": 3},
            },
        ]
    }
    publisher.send(telemetry_topic("energy", device), payload)
    wait_for(
        lambda: count(db, "SELECT count(*) FROM dead_letters WHERE device_id = %s", device) == 3
    )
    stored = db.execute(
        "SELECT metric, value FROM readings WHERE device_id = %s ORDER BY time, metric", (device,)
    ).fetchall()
    assert stored == [("frequency_hz", 50.01), ("voltage_v", 231.0), ("voltage_v", 229.5)]
    letters = db.execute(
        "SELECT reason, count, detail, payload, payload_bytes FROM dead_letters"
        " WHERE device_id = %s ORDER BY reason",
        (device,),
    ).fetchall()
    assert [(r[0], r[1]) for r in letters] == [
        ("bad_timestamp", 1),
        ("out_of_range", 1),
        ("unknown_metric", 1),
    ]
    assert "load_pct" in letters[1][2] and "humidity" in letters[2][2]
    raw = json.dumps(payload).encode()
    assert all(bytes(r[3]) == raw and r[4] == len(raw) for r in letters)


def test_a_duplicate_resend_is_stored_once_and_dead_lettered(
    ingest: IngestService,
    publisher: Publisher,
    db: Conn,
    register: Callable[..., None],
    unique: Callable[[str], str],
) -> None:
    device = unique("fridge")
    register(NewDevice(device, "health"))
    body = sample(datetime.now(UTC) - timedelta(seconds=5), fridge_temp_c=4.5, pm25_ugm3=12)
    publisher.send(telemetry_topic("health", device), body)
    wait_for(lambda: count(db, "SELECT count(*) FROM readings WHERE device_id = %s", device) == 2)
    publisher.send(telemetry_topic("health", device), body)
    wait_for(lambda: count(db, "SELECT count(*) FROM dead_letters WHERE device_id = %s", device))
    ingest.wait_idle()
    assert count(db, "SELECT count(*) FROM readings WHERE device_id = %s", device) == 2
    wait_for(lambda: count(db, "SELECT sum(n) FROM readings_1m WHERE device_id = %s", device) == 2)
    letter = db.execute(
        "SELECT reason, count FROM dead_letters WHERE device_id = %s", (device,)
    ).fetchall()
    assert letter == [("duplicate", 2)]


def test_hostile_corpus_is_dead_lettered_and_the_service_keeps_going(
    ingest: IngestService,
    publisher: Publisher,
    db: Conn,
    register: Callable[..., None],
    unique: Callable[[str], str],
) -> None:
    corpus = json.loads(
        (Path(__file__).parents[1] / "telemetry" / "hostile_payloads.json").read_text()
    )
    cam, old = unique("cam"), unique("old")
    register(NewDevice(cam, "traffic"), NewDevice(old, "traffic"))
    with psycopg.connect(db.info.dsn) as conn:
        decommission(conn, old)
    now = format_timestamp(datetime.now(UTC) - timedelta(seconds=30))
    expected: dict[str, int] = {}
    for case in corpus:
        if case.get("oversized"):
            body = json.dumps({"ts": now, "readings": {"vehicle_count": 1}, "pad": "x" * 70000})
        else:
            body = payload_of(case).replace(b"2026-11-23T10:00:00Z", now.encode())  # type: ignore[assignment]
        topic = case["topic"].replace("cam-1", cam).replace("old-1", old)
        publisher.send(topic, body)
        if not topic_matches_sub(TELEMETRY_FILTER, topic):
            continue  # the broker never routes it to ingest: nothing to dead-letter
        for reason in case["reasons"]:
            expected[reason] = expected.get(reason, 0) + 1
    marker = sample(datetime.now(UTC), vehicle_count=7)
    publisher.send(telemetry_topic("traffic", cam), marker)
    wait_for(
        lambda: count(
            db,
            "SELECT count(*) FROM readings WHERE device_id = %s AND value = 7"
            " AND time > now() - interval '5 seconds'",
            cam,
        )
    )
    ingest.wait_idle()
    for reason, n in expected.items():
        assert ingest.metrics.value("ioc_ingest_rejected_total", reason=reason) >= n, reason
    got = db.execute(
        "SELECT DISTINCT reason FROM dead_letters WHERE received_at > now() - interval '1 minute'"
    ).fetchall()
    assert set(expected) <= {r[0] for r in got}
    oversized = db.execute(
        "SELECT length(payload), payload_bytes FROM dead_letters WHERE reason ="
        " 'oversized' AND device_id = %s",
        (cam,),
    ).fetchone()
    assert oversized is not None and oversized[0] == 4096 and oversized[1] > 65536


def test_registry_changes_take_effect_without_restart(
    ingest: IngestService,
    publisher: Publisher,
    db: Conn,
    register: Callable[..., None],
    unique: Callable[[str], str],
) -> None:
    device = unique("late")
    topic = telemetry_topic("agriculture", device)
    publisher.send(topic, sample(datetime.now(UTC) - timedelta(seconds=3), soil_moisture_pct=30))
    wait_for(
        lambda: count(
            db,
            "SELECT count(*) FROM dead_letters WHERE device_id = %s AND reason = 'unknown_device'",
            device,
        )
    )
    register(NewDevice(device, "agriculture"))
    publisher.send(topic, sample(datetime.now(UTC) - timedelta(seconds=2), soil_moisture_pct=31))
    wait_for(lambda: count(db, "SELECT count(*) FROM readings WHERE device_id = %s", device) == 1)
    with psycopg.connect(db.info.dsn) as conn:
        decommission(conn, device)
    deadline = time.monotonic() + 15
    refused = 0
    while not refused and time.monotonic() < deadline:
        publisher.send(topic, sample(datetime.now(UTC), soil_moisture_pct=32))
        time.sleep(0.5)
        refused = count(
            db,
            "SELECT count(*) FROM dead_letters WHERE device_id = %s AND reason ="
            " 'decommissioned_device'",
            device,
        )
    assert refused


def test_status_and_last_will_reach_the_registry_and_the_event_log(
    ingest: IngestService,
    broker: Broker,
    db: Conn,
    register: Callable[..., None],
    unique: Callable[[str], str],
) -> None:
    device = unique("pump")
    register(NewDevice(device, "agriculture"))
    topic = status_topic("agriculture", device)
    device_client = Publisher(
        broker.url,
        client_id=device,
        topic=topic,
        payload=json.dumps({"state": "offline"}),
        qos=1,
        retain=True,
    )
    device_client.send(
        topic, {"state": "online", "ts": format_timestamp(datetime.now(UTC))}, retain=True
    )
    wait_for(
        lambda: (
            db.execute("SELECT online FROM devices WHERE device_id = %s", (device,)).fetchone()
            == (True,)
        )
    )
    device_client.client._sock_close()  # the link drops: no DISCONNECT, so the will is sent
    device_client.client.loop_stop()
    wait_for(
        lambda: (
            db.execute("SELECT online FROM devices WHERE device_id = %s", (device,)).fetchone()
            == (False,)
        ),
        timeout=20,
    )
    kinds = db.execute(
        "SELECT kind FROM events WHERE payload->>'device_id' = %s ORDER BY id", (device,)
    ).fetchall()
    assert kinds == [("device.online",), ("device.offline",)]


def test_out_of_order_samples_are_stored_and_counted(
    ingest: IngestService,
    publisher: Publisher,
    db: Conn,
    register: Callable[..., None],
    unique: Callable[[str], str],
) -> None:
    device = unique("aq")
    register(NewDevice(device, "health"))
    now = datetime.now(UTC)
    before = ingest.metrics.value("ioc_ingest_out_of_order_samples_total")
    publisher.send(telemetry_topic("health", device), sample(now, pm25_ugm3=10))
    wait_for(lambda: count(db, "SELECT count(*) FROM readings WHERE device_id = %s", device) == 1)
    publisher.send(
        telemetry_topic("health", device),
        {"batch": [sample(now - timedelta(minutes=m), pm25_ugm3=10 + m) for m in (3, 2, 1)]},
    )
    wait_for(lambda: count(db, "SELECT count(*) FROM readings WHERE device_id = %s", device) == 4)
    assert ingest.metrics.value("ioc_ingest_out_of_order_samples_total") - before == 3
    latest = db.execute("SELECT time FROM latest WHERE device_id = %s", (device,)).fetchone()
    assert latest is not None and abs((latest[0] - now).total_seconds()) < 0.001


def test_a_message_the_database_refuses_is_isolated_and_dead_lettered(
    fresh_database_url: str,
    broker: Broker,
    publisher: Publisher,
    unique: Callable[[str], str],
) -> None:
    """Stands in for any gap in the decoder: the database itself refuses one message's data
    (here a trigger raises a data exception, SQLSTATE class 22). The rest of the batch is
    stored, that message is dead-lettered, and ingest keeps going."""
    device = unique("meter")
    with psycopg.connect(fresh_database_url) as conn:
        register_devices(conn, [NewDevice(device, "energy")])
        conn.execute(
            "CREATE FUNCTION refuse_4242() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " IF NEW.value = 4242 THEN RAISE EXCEPTION 'refused' USING ERRCODE = '22023';"
            " END IF; RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON readings FOR EACH ROW"
            " EXECUTE FUNCTION refuse_4242()"
        )
    now = datetime.now(UTC) - timedelta(minutes=1)
    with running_ingest(fresh_database_url, broker.url, ingest_batch_wait_ms=500) as ingest:
        for i in range(10):
            power = 4242 if i == 4 else 100 + i
            publisher.send(
                telemetry_topic("energy", device),
                sample(now + timedelta(seconds=i), active_power_kw=power),
                wait=False,
            )
        with psycopg.connect(fresh_database_url, autocommit=True) as conn:

            def state() -> tuple[int, int]:
                return (
                    count(conn, "SELECT count(*) FROM readings WHERE device_id = %s", device),
                    count(conn, "SELECT count(*) FROM dead_letters WHERE device_id = %s", device),
                )

            try:
                wait_for(lambda: state() == (9, 1))
            except TimeoutError:
                raise AssertionError(
                    f"(readings, dead letters) = {state()}; letters:"
                    f" {conn.execute('SELECT reason, detail FROM dead_letters').fetchall()}"
                ) from None
            letter = conn.execute(
                "SELECT reason, detail FROM dead_letters WHERE device_id = %s", (device,)
            ).fetchone()
        assert letter is not None and letter[0] == "invalid_payload"
        assert "refused" in letter[1]
        assert ingest.metrics.value("ioc_ingest_readings_stored_total") == 9
