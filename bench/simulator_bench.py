"""Simulator throughput with 10,000 devices (2,500 per domain).

1. Generation in dry-run: simulator steps turned into messages, then into the JSON lines
   ``--dry-run`` writes (to /dev/null), messages per second.
2. Publishing against a private Mosquitto (the project's config, a free loopback port):
   the pooled sink with its default 4 connections, QoS 1 and QoS 0, as fast as it goes
   for a bounded time; the rate is of messages the broker acknowledged (QoS 1) or that
   were handed to the socket (QoS 0).
3. Baseline in the same run: one bare paho client publishing prebuilt payloads of the
   same size at QoS 1 through the same broker. The ratio shows how much of the broker's
   capacity the simulator itself reaches.

The machine is shared: the load average is printed at the end.

Run: .venv/bin/python -m bench.simulator_bench [--seconds 20] [--devices-per-domain 2500]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from devices.simulator import Fleet, Simulator
from devices.simulator.sinks import DryRun, Pooled
from ioc.config import parse_mqtt_url
from testkit.broker import Broker

ROOT = Path(__file__).resolve().parents[1]

START = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 08:00 local: the morning rush


def generation(fleet: Fleet, steps: int) -> tuple[float, float]:
    sim = Simulator(fleet, start=START, interval_s=1, seed=1)
    t0, n = time.perf_counter(), 0
    for messages in sim.run(steps):
        n += len(messages)
    engine_rate = n / (time.perf_counter() - t0)
    sim = Simulator(fleet, start=START, interval_s=1, seed=1)
    with open(os.devnull, "w") as null:
        sink = DryRun(null, len(fleet))
        t0 = time.perf_counter()
        for messages in sim.run(steps):
            sink.send(messages)
        dry_rate = sink.stats.messages / (time.perf_counter() - t0)
    return engine_rate, dry_rate


def publish(fleet: Fleet, url: str, seconds: float, qos: int) -> tuple[float, int, int]:
    sim = Simulator(fleet, start=START, interval_s=1, seed=1)
    sink = Pooled(parse_mqtt_url(url), len(fleet), connections=4, qos=qos, client_prefix=f"b{qos}")
    sink.open()
    sink.send(sim.connect())
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        sink.send(sim.step())
    sink.drain(timeout=60)
    elapsed = time.perf_counter() - t0
    done = sink.stats.acked if qos else sink.stats.messages
    sink.close()
    return done / elapsed, sink.stats.messages, sink.stats.errors


def baseline(url: str, payload: bytes, seconds: float) -> float:
    endpoint = parse_mqtt_url(url)
    acked = 0
    lock = threading.Lock()

    def on_publish(*_: Any) -> None:
        nonlocal acked
        with lock:
            acked += 1

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="baseline", protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.on_publish = on_publish
    client.connect(endpoint.host, endpoint.port)
    client.loop_start()
    sent, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(1000):
            client.publish("ioc/v1/traffic/baseline/telemetry", payload, 1)
        sent += 1000
        while sent - acked > 20_000:
            time.sleep(0.002)
    while acked < sent and time.perf_counter() - t0 < seconds + 60:
        time.sleep(0.005)
    rate = acked / (time.perf_counter() - t0)
    client.disconnect()
    client.loop_stop()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--devices-per-domain", type=int, default=2500)
    parser.add_argument("--steps", type=int, default=10, help="dry-run steps")
    args = parser.parse_args()
    fleet = Fleet.build(args.devices_per_domain, seed=1)
    print(f"fleet: {len(fleet):,} devices, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")

    engine_rate, dry_rate = generation(fleet, args.steps)
    print(f"generation, {args.steps} steps of the whole fleet:")
    print(f"  engine only (messages built)          {engine_rate:>10,.0f} msg/s")
    print(f"  dry-run (JSON lines to /dev/null)     {dry_rate:>10,.0f} msg/s")
    print(
        f"  = {dry_rate / len(fleet):.1f} fleet-steps/s: 10,000 devices at a 1 s interval need 1.0"
    )

    sample = Simulator(fleet, start=START, interval_s=1, seed=1).step()[0].payload
    with tempfile.TemporaryDirectory() as state, Broker(Path(state)) as broker:
        print("private Mosquitto with the project's config:")
        # Baseline first, on the fresh broker, so it is not slowed by the simulator's
        # backlog; then the simulator at QoS 1 and QoS 0.
        base = baseline(broker.url, sample, args.seconds)
        print(
            f"  baseline, one bare paho client, QoS 1, {len(sample)}-byte payloads: "
            f"{base:>9,.0f} msg/s"
        )
        for qos in (1, 0):
            rate, sent, errors = publish(fleet, broker.url, args.seconds, qos)
            print(
                f"  simulator, pooled (4 connections), QoS {qos}, {args.seconds:g} s: "
                f"{rate:>9,.0f} msg/s ({sent:,} sent, {errors} errors)"
            )
            if qos == 1:
                print(f"  simulator QoS 1 / baseline: {rate / base:.2f}")
    os.system("uptime")  # the machine is shared: the load average says how far to trust this


if __name__ == "__main__":
    main()
