"""Crashes and outages mid-stream: nothing lost, nothing doubled.

"Doubled" is checked where it could happen: raw rows are unique by schema, so the
rollups (which add up what was inserted) must still count every reading exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ioc.storage.registry import NewDevice, register_devices
from ioc.telemetry.payloads import format_timestamp
from ioc.telemetry.topics import telemetry_topic
from testkit.broker import Broker
from testkit.mqtt import Publisher
from testkit.postgres import TempCluster
from testkit.services import running_ingest, wait_for

ROOT = Path(__file__).resolve().parents[2]
READINGS_PER_MESSAGE = 4


class Stream(threading.Thread):
    """Publish ``messages`` telemetry messages over ``devices`` at about ``rate`` per second,
    each acknowledged by the broker (QoS 1) before it counts as sent."""

    def __init__(self, url: str, devices: list[str], messages: int, rate: float) -> None:
        super().__init__(daemon=True)
        self.url, self.devices, self.messages, self.rate = url, devices, messages, rate
        self.sent = 0
        self.start_ts = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)

    def run(self) -> None:
        with Publisher(self.url) as pub:
            began = time.monotonic()
            for i in range(self.messages):
                device = self.devices[i % len(self.devices)]
                ts = self.start_ts + timedelta(milliseconds=100 * (i // len(self.devices)))
                pub.send(
                    telemetry_topic("energy", device),
                    {
                        "ts": format_timestamp(ts),
                        "seq": i,
                        "readings": {
                            "active_power_kw": 100 + i % 7,
                            "voltage_v": 230,
                            "frequency_hz": 50,
                            "load_pct": 40,
                        },
                    },
                    wait=i % 50 == 49 or i == self.messages - 1,
                )
                self.sent = i + 1
                ahead = (i + 1) / self.rate - (time.monotonic() - began)
                if ahead > 0:
                    time.sleep(ahead)

    @property
    def expected_rows(self) -> int:
        return self.messages * READINGS_PER_MESSAGE


def stored(url: str, devices: list[str]) -> tuple[int, int, int]:
    """(raw rows, sum of per-minute rollup counts, sum of per-hour rollup counts)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM readings WHERE device_id = ANY(%(d)s)),"
            " (SELECT coalesce(sum(n), 0) FROM readings_1m WHERE device_id = ANY(%(d)s)),"
            " (SELECT coalesce(sum(n), 0) FROM readings_1h WHERE device_id = ANY(%(d)s))",
            {"d": devices},
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def register(url: str, devices: list[str]) -> None:
    with psycopg.connect(url) as conn:
        register_devices(conn, [NewDevice(d, "energy", district="D9") for d in devices])


def ingest_process(
    database_url: str, mqtt_url: str, name: str, *args: str
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "IOC_DATABASE_URL": database_url,
        "IOC_MQTT_URL": mqtt_url,
        "IOC_INGEST_CLIENT_ID": name,
        "IOC_INGEST_GROUP": name,
        "IOC_INGEST_METRICS_PORT": "0",
        "IOC_INGEST_BATCH_MESSAGES": "200",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "ingest", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.fixture
def devices(unique: Callable[[str], str]) -> list[str]:
    return [unique(f"feeder{i}") for i in range(10)]


def test_sigkill_of_ingest_mid_stream_loses_and_doubles_nothing(
    database_url: str, fresh_broker: Broker, devices: list[str], unique: Callable[[str], str]
) -> None:
    register(database_url, devices)
    name = unique("ingest-kill")
    proc = ingest_process(database_url, fresh_broker.url, name)
    try:
        stream = Stream(fresh_broker.url, devices, messages=3000, rate=1500)
        # the group must exist before the stream starts, or the broker has no one to queue for
        wait_for(lambda: name in fresh_broker.log() or None, timeout=20)
        stream.start()
        wait_for(lambda: stored(database_url, devices)[0] >= 1000, timeout=30)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        killed_at = stored(database_url, devices)[0]
        assert killed_at < stream.expected_rows, "the kill came too late to test anything"
        proc = ingest_process(database_url, fresh_broker.url, name)
        stream.join(60)
        total = (stream.expected_rows,) * 3
        wait_for(lambda: stored(database_url, devices) == total, timeout=60)
        time.sleep(1)  # anything doubled would show up now
        assert stored(database_url, devices) == total
        # what the broker re-sent after the crash was ours to dedupe, not the devices' fault
        with psycopg.connect(database_url) as conn:
            letters = conn.execute(
                "SELECT reason, count(*) FROM dead_letters WHERE device_id = ANY(%s) GROUP BY 1",
                (devices,),
            ).fetchall()
        assert letters == []
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 0, "SIGTERM must drain and exit cleanly"


@pytest.fixture
def cluster() -> Iterator[TempCluster]:
    # not under pytest's tmp_path: that is private to root, and the server runs as postgres
    c = TempCluster(Path(tempfile.mkdtemp(prefix="ioc-test-pg-"))).init()
    try:
        yield c
    finally:
        c.destroy()


def test_postgres_down_for_10s_mid_stream_recovers_with_nothing_lost(
    cluster: TempCluster, fresh_broker: Broker, devices: list[str]
) -> None:
    with running_ingest(cluster.url, fresh_broker.url, ingest_receive_maximum=200) as ingest:
        register(cluster.url, devices)
        stream = Stream(fresh_broker.url, devices, messages=3000, rate=200)
        stream.start()
        wait_for(lambda: stored(cluster.url, devices)[0] >= 400, timeout=30)
        cluster.stop()
        peak_queue = 0
        outage_ends = time.monotonic() + 10
        while time.monotonic() < outage_ends:
            peak_queue = max(peak_queue, ingest.queued)
            time.sleep(0.05)
        cluster.start()
        stream.join(60)
        total = (stream.expected_rows,) * 3
        wait_for(lambda: stored(cluster.url, devices) == total, timeout=60)
        assert ingest.wait_idle()
        assert ingest.metrics.value("ioc_ingest_db_errors_total") > 0
    # memory stays bounded while the database is away: the broker holds the rest
    assert 0 < peak_queue <= 200


def test_broker_queues_for_an_offline_shared_subscriber_beyond_1000_and_across_restart(
    database_url: str, fresh_broker: Broker, devices: list[str], unique: Callable[[str], str]
) -> None:
    """Mosquitto's default would drop QoS 1 messages past 1000 queued for an offline client,
    and forget them on restart without persistence; the shipped config must do neither."""
    register(database_url, devices)
    ids: dict[str, Any] = {"ingest_client_id": unique("ingest-q"), "ingest_group": unique("g")}
    with running_ingest(database_url, fresh_broker.url, **ids):
        pass  # joins the group, then goes away with its session kept
    stream = Stream(fresh_broker.url, devices, messages=2500, rate=5000)
    stream.run()
    fresh_broker.restart()
    with running_ingest(database_url, fresh_broker.url, **ids):
        total = (stream.expected_rows,) * 3
        wait_for(lambda: stored(database_url, devices) == total, timeout=60)


def test_worker_processes_share_the_stream_and_drain_on_sigterm(
    database_url: str, fresh_broker: Broker, devices: list[str], unique: Callable[[str], str]
) -> None:
    register(database_url, devices)
    name = unique("ingest-workers")
    proc = ingest_process(database_url, fresh_broker.url, name, "--workers", "2")
    try:
        wait_for(
            lambda: f"{name}-0" in fresh_broker.log() and f"{name}-1" in fresh_broker.log(),
            timeout=30,
        )
        stream = Stream(fresh_broker.url, devices, messages=2000, rate=2000)
        stream.run()
        total = (stream.expected_rows,) * 3
        wait_for(lambda: stored(database_url, devices) == total, timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    assert proc.returncode == 0
