"""Ingest benchmark: raw broker receive rate, raw COPY rate, end-to-end rate, latency, memory.

    .venv/bin/python -m bench.ingest_bench [--messages 20000] [--rate 5000] [--seconds 10]
                                           [--workers 2]

Everything runs on this machine against a private Mosquitto (the project's configuration)
and a scratch database in the project's PostgreSQL cluster, both made and removed here.
Messages carry 5 readings (agriculture domain) from 1,000 registered devices.

1. broker receive: N messages are queued for an offline persistent subscriber, which then
   connects and only counts them (QoS 1): what one paho client takes from the broker.
2. COPY: the same number of readings COPYed (binary) straight into the readings hypertable.
3. end-to-end: N messages queued for an offline ingest (`python -m ingest`: one process,
   then --workers processes), which then starts; time from its first committed row to the
   last. Peak RSS (VmHWM) and RSS sampled during the drain show whether memory stays flat.
4. latency: a publisher process paces messages at --rate for --seconds while --workers
   ingest processes record, per message, when its batch committed; latency = commit time
   minus publish time, on the same clock.

Rates are also given as ratios to the slower raw rate measured in this same run, since
the machine is shared and absolute numbers move with its load.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ingest.batch import Inbound
from ingest.service import IngestService
from ioc.storage.registry import NewDevice, register_devices
from ioc.telemetry.payloads import format_timestamp
from ioc.telemetry.topics import telemetry_topic
from testkit.broker import Broker
from testkit.database import scratch_database
from testkit.services import test_settings, wait_for

ROOT = Path(__file__).resolve().parents[1]

DEVICES = [f"bench-{i:04d}" for i in range(1000)]
READINGS = 5
DOMAIN = "agriculture"


def payload(i: int, base: datetime, spread: int = len(DEVICES), seq: int | None = None) -> bytes:
    """Message i: its time is base + i // spread ms, unique per device when the messages
    are dealt round-robin over ``spread`` devices."""
    ts = base + timedelta(milliseconds=i // spread)
    body: dict[str, object] = {
        "ts": format_timestamp(ts),
        "seq": i if seq is None else seq,
        "readings": {
            "soil_moisture_pct": 20 + i % 13,
            "air_temperature_c": 27.5,
            "rainfall_mm_h": 0.2,
            "water_salinity_gl": 0.4 + (i % 7) / 10,
            "water_level_cm": 90,
        },
    }
    return json.dumps(body).encode()


def publish(port: int, n: int, base: datetime) -> None:
    """Publish n QoS 1 messages as fast as paho goes, round-robin over the devices."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.max_queued_messages_set(0)
    client.max_inflight_messages_set(1000)
    client.connect("127.0.0.1", port)
    client.loop_start()
    last = None
    for i in range(n):
        last = client.publish(
            telemetry_topic(DOMAIN, DEVICES[i % len(DEVICES)]), payload(i, base), qos=1
        )
    if last is not None:
        last.wait_for_publish(120)
    client.disconnect()
    client.loop_stop()


def broker_receive_rate(broker: Broker, n: int) -> float:
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = 4000
    counted = threading.Event()
    state = {"n": 0, "first": 0.0, "last": 0.0}

    def on_message(_c: object, _u: object, _m: mqtt.MQTTMessage) -> None:
        if state["n"] == 0:
            state["first"] = time.monotonic()
        state["n"] += 1
        if state["n"] == n:
            state["last"] = time.monotonic()
            counted.set()

    def client() -> mqtt.Client:
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="bench-counter", protocol=mqtt.MQTTv5
        )
        c.on_message = on_message
        c.connect("127.0.0.1", broker.port, clean_start=False, properties=props)
        return c

    c = client()
    c.loop_start()
    c.subscribe("$share/count/ioc/v1/+/+/telemetry", qos=1)
    time.sleep(0.5)
    c.disconnect()
    c.loop_stop()
    publish(broker.port, n, datetime.now(UTC) - timedelta(hours=1))
    started = time.monotonic()
    c = client()
    c.loop_start()
    counted.wait(300)
    c.disconnect()
    c.loop_stop()
    del started
    return n / (state["last"] - state["first"])


def copy_rate(url: str, rows: int) -> float:
    base = datetime.now(UTC) - timedelta(hours=3)
    metrics = (
        "soil_moisture_pct",
        "air_temperature_c",
        "rainfall_mm_h",
        "water_salinity_gl",
        "water_level_cm",
    )
    data = [
        (
            base + timedelta(milliseconds=i // len(DEVICES)),
            f"copy-{i % len(DEVICES)}",
            metrics[i % READINGS],
            float(i),
        )
        for i in range(rows)
    ]
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        began = time.monotonic()
        with cur.copy(
            "COPY readings (time, device_id, metric, value) FROM STDIN (FORMAT BINARY)"
        ) as cp:
            cp.set_types(["timestamptz", "text", "text", "float8"])
            for row in data:
                cp.write_row(row)
        conn.commit()
        return rows / (time.monotonic() - began)


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def family(pid: int) -> list[int]:
    """A process and its children (the workers)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [pid, *(int(c) for c in children)]


def count_rows(url: str, like: str = "bench-%") -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM readings WHERE device_id LIKE %s", (like,)
        ).fetchone()
    return int(row[0]) if row else 0


def end_to_end(url: str, broker: Broker, n: int, workers: int) -> dict[str, float]:
    env = {
        **os.environ,
        "IOC_DATABASE_URL": url,
        "IOC_MQTT_URL": broker.url,
        "IOC_INGEST_CLIENT_ID": f"bench-ingest-{workers}",
        "IOC_INGEST_GROUP": f"bench-{workers}",  # offline members keep their share
        "IOC_INGEST_METRICS_PORT": "0",
        "IOC_LOG_LEVEL": "WARNING",
    }
    cmd = [sys.executable, "-m", "ingest", "--workers", str(workers)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    time.sleep(3)  # joins the group and leaves its persistent session behind
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    publish(broker.port, n, datetime.now(UTC) - timedelta(hours=2))
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
    expected = n * READINGS
    samples: list[int] = []
    first = last = 0.0
    while True:
        rows = count_rows(url)
        now = time.monotonic()
        if rows and not first:
            first = now
        samples.append(sum(rss_kib(p, "VmRSS") for p in family(proc.pid)))
        if rows >= expected:
            last = now
            break
        time.sleep(0.25)
    peak = sum(rss_kib(p, "VmHWM") for p in family(proc.pid))
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)
    quarter = max(1, len(samples) // 4)
    return {
        "readings_per_s": expected / (last - first),
        "peak_rss_mib": peak / 1024,
        "rss_first_quarter_mib": statistics.mean(samples[:quarter]) / 1024,
        "rss_last_quarter_mib": statistics.mean(samples[-quarter:]) / 1024,
    }


class TimedIngest(IngestService):
    """Records when each message's batch committed (acks follow the commit at once)."""

    commits: dict[str, float]

    def _acknowledge(self, batch: list[Inbound]) -> None:
        now = time.time()
        for msg in batch:
            self.commits[str(json.loads(msg.payload)["seq"])] = now
        super()._acknowledge(batch)


def timed_worker(url: str, mqtt_url: str, index: int, out: Path) -> None:
    """Child process: an ingest that records commit times until SIGTERM, then writes them."""
    service = TimedIngest(
        test_settings(
            url,
            mqtt_url,
            ingest_client_id=f"bench-live-{index}",
            ingest_group="bench-live",
            log_level="WARNING",
        )
    )
    service.commits = {}
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    service.start()
    done.wait()
    service.stop()
    out.write_text(json.dumps(service.commits))


def latency(
    url: str, broker: Broker, rate: float, seconds: float, workers: int
) -> dict[str, float]:
    tmp = Path(tempfile.mkdtemp(prefix="ioc-bench-lat-"))
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--timed-worker",
                url,
                broker.url,
                str(i),
                str(tmp / f"w{i}.json"),
            ],
            cwd=ROOT,
        )
        for i in range(workers)
    ]
    time.sleep(4)  # workers connected and subscribed
    n = int(rate * seconds)
    subprocess.run(
        [
            sys.executable,
            __file__,
            "--publish-only",
            str(broker.port),
            str(n),
            str(rate),
            str(tmp / "sent.json"),
        ],
        check=True,
        cwd=ROOT,
    )
    wait_for(lambda: count_rows(url) >= n * READINGS, timeout=180)
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        p.wait(120)
    sent: dict[str, float] = json.loads((tmp / "sent.json").read_text())
    commits: dict[str, float] = {}
    for i in range(workers):
        commits.update(json.loads((tmp / f"w{i}.json").read_text()))
    lat = sorted(commits[k] - v for k, v in sent.items() if k in commits)
    achieved = n / (max(sent.values()) - min(sent.values()))
    return {
        "messages": n,
        "committed": len(lat),
        "achieved_rate": achieved,
        "p50_ms": lat[len(lat) // 2] * 1000,
        "p99_ms": lat[int(len(lat) * 0.99)] * 1000,
        "max_ms": lat[-1] * 1000,
    }


def publish_only(port: int, n: int, rate: float, out: Path) -> None:
    """Child process: pace n messages, write {seq: publish time}.

    The messages go through ``mosquitto_pub -l`` (C, one process per device, one line per
    message) so that the load generator does not eat the core the ingest needs: a paho
    publisher at 5,000 msg/s costs about a core of this 2-core machine by itself.
    """
    base = datetime.now(UTC) - timedelta(minutes=30)
    devices = DEVICES[:10]
    pubs = [
        subprocess.Popen(
            [
                "mosquitto_pub",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-V",
                "mqttv5",
                "-q",
                "1",
                "-M",
                "1000",
                "-l",
                "-t",
                telemetry_topic(DOMAIN, d),
            ],
            stdin=subprocess.PIPE,
        )
        for d in devices
    ]
    sent: dict[str, float] = {}
    began = time.monotonic()
    for i in range(n):
        seq = i + 10_000_000
        line = payload(i, base, spread=1, seq=seq) + b"\n"
        sent[str(seq)] = time.time()
        stdin = pubs[i % len(pubs)].stdin
        assert stdin is not None
        stdin.write(line)
        stdin.flush()
        ahead = (i + 1) / rate - (time.monotonic() - began)
        if ahead > 0:
            time.sleep(ahead)
    for p in pubs:
        assert p.stdin is not None
        p.stdin.close()
    for p in pubs:
        p.wait(60)
    out.write_text(json.dumps(sent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=40_000)
    parser.add_argument("--rate", type=float, default=5000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="ingest processes for the second end-to-end run and the latency run",
    )
    args = parser.parse_args()
    print(
        f"ingest bench: {args.messages} messages x {READINGS} readings, {len(DEVICES)} devices,"
        f" {os.cpu_count()} cores",
        flush=True,
    )
    with scratch_database() as url, Broker(Path(tempfile.mkdtemp(prefix="ioc-bench-"))) as broker:
        with psycopg.connect(url) as conn:
            register_devices(
                conn, [NewDevice(d, DOMAIN, district=f"D{i % 10}") for i, d in enumerate(DEVICES)]
            )
        recv = broker_receive_rate(broker, args.messages)
        print(
            f"1. broker receive (count only): {recv:,.0f} msg/s"
            f" = {recv * READINGS:,.0f} readings/s",
            flush=True,
        )
        cp = copy_rate(url, args.messages * READINGS)
        print(f"2. COPY into readings:          {cp:,.0f} readings/s", flush=True)
        slower = min(recv * READINGS, cp)
        for workers in (1, args.workers):
            e2e = end_to_end(url, broker, args.messages, workers)
            print(
                f"3. end-to-end, {workers} ingest process(es) (queued → committed):"
                f" {e2e['readings_per_s']:,.0f} readings/s"
                f" = {e2e['readings_per_s'] / READINGS:,.0f} msg/s;"
                f" {e2e['readings_per_s'] / slower:.2f} x the slower raw rate ({slower:,.0f}/s)",
                flush=True,
            )
            print(
                f"   ingest memory: peak RSS {e2e['peak_rss_mib']:.0f} MiB; mean RSS first"
                f" quarter {e2e['rss_first_quarter_mib']:.0f} MiB, last quarter"
                f" {e2e['rss_last_quarter_mib']:.0f} MiB",
                flush=True,
            )
            with psycopg.connect(url) as conn:
                conn.execute("DELETE FROM readings WHERE device_id LIKE 'bench-%'")
        lat = latency(url, broker, args.rate, args.seconds, args.workers)
        print(
            f"4. latency publish → commit, {args.workers} ingest process(es), at"
            f" {lat['achieved_rate']:,.0f} msg/s ({lat['committed']:,} of {lat['messages']:,}"
            f" messages): p50 {lat['p50_ms']:.0f} ms, p99 {lat['p99_ms']:.0f} ms,"
            f" max {lat['max_ms']:.0f} ms",
            flush=True,
        )
        broker.stop()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--timed-worker":
        timed_worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), Path(sys.argv[5]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--publish-only":
        publish_only(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), Path(sys.argv[5]))
    else:
        main()
