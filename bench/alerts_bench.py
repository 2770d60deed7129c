"""Alert engine benchmark: the pure core's evaluation rate, and publish → alert-committed
latency while a steady load flows through a private broker.

    .venv/bin/python -m bench.alerts_bench                  # both parts
    .venv/bin/python -m bench.alerts_bench --part core      # no broker, no database
    .venv/bin/python -m bench.alerts_bench --rate 5000 --seconds 10

Part 1 (core): a Book with thousands of devices and rules (the defaults plus generated
threshold rules scoped to districts) is fed device messages (every metric of the
device's domain, one sample each) with the clock advancing; it reports readings/s and
rule evaluations/s, next to a baseline in the same run: ``core.evaluate`` alone on one
rule and one device.

Part 2 (end to end): a private Mosquitto (the project's configuration), a scratch
database, ``python -m ioc alerts`` as a subprocess, and a load generator subprocess
publishing ``--rate`` telemetry messages/s (QoS 0, normal values: no alerts) from
``--devices`` devices. Meanwhile this process publishes probe readings (QoS 1) that
each open or resolve an alert on one of 50 probe devices, and LISTENs on the event
channel: the NOTIFY of the alert change arrives at commit, so publish → NOTIFY received
is publish → alert committed. Prints p50/p99/max over the probes, and how many load
messages the broker accepted in the window.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from ioc.alerts.book import Book, Device
from ioc.alerts.core import Sample, State, evaluate
from ioc.alerts.defaults import default_rules
from ioc.alerts.models import Rule, RuleSpec
from ioc.telemetry.catalog import CATALOG, DOMAINS

ROOT = Path(__file__).resolve().parents[1]

T0 = datetime(2026, 11, 23, tzinfo=UTC)


# --------------------------------------------------------------------------- part 1


def _rules(n_generated: int, districts: list[str], rng: random.Random) -> list[Rule]:
    specs = list(default_rules())
    metrics = [(d, m) for d in DOMAINS for m in CATALOG[d].values()]
    for i in range(n_generated):
        domain, m = rng.choice(metrics)
        specs.append(
            RuleSpec.model_validate(
                {
                    "name": f"gen-{i}",
                    "kind": "threshold",
                    "domain": domain,
                    "metric": m.name,
                    "scope": {"districts": [rng.choice(districts)]},
                    "params": {"op": ">", "value": m.typical_max, "for_s": 60},
                }
            )
        )
    return [
        Rule.model_validate({**s.model_dump(), "id": i + 1, "created_at": T0, "updated_at": T0})
        for i, s in enumerate(specs)
    ]


def bench_core(devices: int, rules: int, seconds: float) -> dict[str, float]:
    rng = random.Random(1)
    districts = [f"D{i}" for i in range(50)]
    all_rules = _rules(rules, districts, rng)
    fleet = [
        Device(f"{d[:3]}-{i}", d, districts[i % len(districts)], heard=T0.timestamp())
        for d in DOMAINS
        for i in range(devices // len(DOMAINS))
    ]
    book = Book(all_rules, fleet)
    typical = {
        d: [(m.name, m.typical_min, m.typical_max) for m in CATALOG[d].values()] for d in DOMAINS
    }
    messages = [
        (dev.device_id, [(name, rng.uniform(lo, hi)) for name, lo, hi in typical[dev.domain]])
        for dev in fleet
    ]
    t = T0.timestamp()
    for device_id, values in messages:  # warm-up: per-device rule lists get built
        t += 0.001
        book.readings(device_id, [(t, name, v) for name, v in values], t)
    readings = 0
    ticks = 0
    evaluations_before = _count_evaluations()
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        for device_id, values in messages:
            t += 0.001
            book.readings(device_id, [(t, name, v) for name, v in values], t)
            readings += len(values)
        book.tick(t)
        ticks += 1
    elapsed = time.perf_counter() - started
    evaluations = _count_evaluations() - evaluations_before

    rule = all_rules[0 if all_rules[0].kind == "threshold" else 1]
    for r in all_rules:
        if r.kind == "threshold":
            rule = r
            break
    state, n = State(), 0
    base_started = time.perf_counter()
    while time.perf_counter() - base_started < seconds / 2:
        for _ in range(1000):
            n += 1
            state, _ = evaluate(rule, state, [Sample(float(n), 1.0)], float(n))
    base_elapsed = time.perf_counter() - base_started
    return {
        "devices": len(fleet),
        "rules": len(all_rules),
        "readings_per_s": readings / elapsed,
        "evaluations_per_s": evaluations / elapsed,
        "ticks": ticks,
        "baseline_evaluate_per_s": n / base_elapsed,
    }


_EVALS = [0]


def _count_evaluations() -> int:
    return _EVALS[0]


def _instrument() -> None:
    """Count evaluate() calls made through the book (a wrapper, only in this script)."""
    from ioc.alerts import book as book_module

    original = book_module.core.evaluate

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        _EVALS[0] += 1
        return original(*args, **kwargs)

    book_module.core.evaluate = counted  # type: ignore[assignment]


# --------------------------------------------------------------------------- part 2


def _load(
    url: str, device_ids: list[tuple[str, str]], rate: int, seconds: float, q: mp.Queue
) -> None:  # type: ignore[type-arg]
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from ioc.config import parse_mqtt_url
    from ioc.telemetry.payloads import format_timestamp
    from ioc.telemetry.topics import telemetry_topic

    ep = parse_mqtt_url(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-load", protocol=mqtt.MQTTv5)
    client.max_queued_messages_set(0)
    client.connect(ep.host, ep.port)
    client.loop_start()
    topics = [(telemetry_topic(d, i), d) for i, d in device_ids]
    fields = {
        d: [(m.name, (m.typical_min + m.typical_max) / 2) for m in CATALOG[d].values()]
        for d in DOMAINS
    }
    template = {d: json.dumps({"ts": "@TS@", "readings": dict(fields[d])}) for d in DOMAINS}
    sent, k = 0, 0
    tick = 0.01
    per_tick = rate * tick
    started = time.perf_counter()
    while (now := time.perf_counter()) - started < seconds:
        due = int((now - started) / tick * per_tick) - sent
        if due <= 0:
            time.sleep(tick / 2)
            continue
        ts = format_timestamp(datetime.now(UTC))
        bodies = {d: template[d].replace("@TS@", ts).encode() for d in DOMAINS}
        for _ in range(due):
            topic, d = topics[k % len(topics)]
            k += 1
            client.publish(topic, bodies[d], qos=0)
        sent += due
    elapsed = time.perf_counter() - started
    client.loop_stop()
    client.disconnect()
    q.put((sent, elapsed))


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _handled(port: int) -> float:
    """Telemetry messages the engine subprocess has evaluated (its Prometheus counter)."""
    import httpx

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    for line in text.splitlines():
        if line.startswith('ioc_alerts_messages_received_total{channel="telemetry"}'):
            return float(line.split()[-1])
    return 0.0


def bench_end_to_end(
    rate: int, seconds: float, n_devices: int, partitions: list[str]
) -> dict[str, float]:
    import psycopg

    from ioc.alerts import store
    from ioc.storage.registry import NewDevice, register_devices
    from ioc.telemetry.payloads import format_timestamp
    from ioc.telemetry.topics import telemetry_topic
    from testkit.broker import Broker, free_port
    from testkit.database import scratch_database
    from testkit.mqtt import Publisher
    from testkit.services import wait_for

    ports = [free_port() for _ in partitions]
    probes = [f"probe-{i:03d}" for i in range(50)]
    load_ids = [(f"load-{d[:3]}-{i:05d}", d) for d in DOMAINS for i in range(n_devices // 4)]
    with (
        scratch_database() as url,
        Broker(Path(tempfile.mkdtemp(prefix="alerts-bench-"))) as broker,
    ):
        with psycopg.connect(url) as conn:
            register_devices(
                conn,
                [NewDevice(p, "health", district="bench") for p in probes]
                + [NewDevice(i, d, district=f"D{n % 20}") for n, (i, d) in enumerate(load_ids)],
            )
            store.create_rule(
                conn,
                RuleSpec.model_validate(
                    {
                        "name": "bench probe",
                        "kind": "threshold",
                        "domain": "health",
                        "metric": "fridge_temp_c",
                        "scope": {"devices": probes},
                        "params": {"op": ">", "value": 8, "clear": 7.5},
                    }
                ),
            )
        engines = []
        for port, domains in zip(ports, partitions, strict=True):
            env = {
                **os.environ,
                "IOC_DATABASE_URL": url,
                "IOC_MQTT_URL": broker.url,
                "IOC_ALERTS_METRICS_PORT": str(port),
                "IOC_ALERTS_DOMAINS": domains,
                "IOC_ALERTS_CLIENT_ID": f"bench-alerts-{port}",
                "IOC_LOG_LEVEL": "WARNING",
            }
            engines.append(
                subprocess.Popen([sys.executable, "-m", "ioc", "alerts"], env=env, cwd=ROOT)
            )

        def handled() -> float:
            return sum(_handled(p) for p in ports)

        arrivals: dict[str, list[float]] = {}
        sent_at: dict[str, list[float]] = {p: [] for p in probes}
        listening = threading.Event()
        stop = threading.Event()

        notes: list[tuple[int, float]] = []

        def listen() -> None:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("LISTEN ioc_events")
                listening.set()
                while not stop.is_set():
                    for note in conn.notifies(timeout=0.2):
                        notes.append((int(note.payload), time.perf_counter()))

        def collect() -> None:
            """Map the NOTIFYs received so far to probe devices (event id → subject)."""
            arrivals.clear()
            ids = [i for i, _ in notes]
            with psycopg.connect(url) as conn:
                subject = dict(
                    conn.execute(
                        "SELECT id, payload->>'subject' FROM events WHERE id = ANY(%s)", (ids,)
                    ).fetchall()
                )
            for event_id, got in sorted(notes):
                if subject.get(event_id) in sent_at:
                    arrivals.setdefault(subject[event_id], []).append(got)

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        listening.wait(10)
        try:
            with Publisher(broker.url) as pub:
                # wait until the engine is subscribed: a first probe must come back
                def first() -> bool:
                    pub.send(
                        telemetry_topic("health", probes[0]),
                        {
                            "ts": format_timestamp(datetime.now(UTC)),
                            "readings": {"fridge_temp_c": 9.0},
                        },
                    )
                    collect()
                    return bool(arrivals.get(probes[0]))

                wait_for(first, timeout=60, interval=1.0)
                pub.send(
                    telemetry_topic("health", probes[0]),
                    {"ts": format_timestamp(datetime.now(UTC)), "readings": {"fridge_temp_c": 5.0}},
                )
                time.sleep(1.0)
                notes.clear()
                ctx = mp.get_context("spawn")
                q = ctx.Queue()
                loader = ctx.Process(target=_load, args=(broker.url, load_ids, rate, seconds, q))
                loader.start()
                time.sleep(1.0)  # let the load reach its rate
                cpu_start = sum(_cpu_s(e.pid) for e in engines)
                handled_start, window_start = handled(), time.perf_counter()
                high = {p: False for p in probes}
                k = 0
                started = time.perf_counter()
                while time.perf_counter() - started < seconds - 2:
                    p = probes[k % len(probes)]
                    k += 1
                    high[p] = not high[p]
                    value = 9.0 if high[p] else 5.0
                    body = {
                        "ts": format_timestamp(datetime.now(UTC)),
                        "readings": {"fridge_temp_c": value},
                    }
                    sent_at[p].append(time.perf_counter())
                    pub.send(telemetry_topic("health", p), body, qos=1, wait=False)
                    time.sleep(0.05)
                handled_at_end, window = handled(), time.perf_counter() - window_start
                cpu_used = sum(_cpu_s(e.pid) for e in engines) - cpu_start
                loader.join(seconds + 30)
                load_sent, load_elapsed = q.get(timeout=10)
                handled_before = handled()
                time.sleep(3.0)  # stragglers
                handled_after = handled()
        finally:
            stop.set()
            for engine in engines:
                engine.terminate()
            for engine in engines:
                engine.wait(30)
            listener.join(5)
        collect()
        latencies = []
        lost = 0
        for p, times in sent_at.items():
            got = arrivals.get(p, [])
            lost += max(0, len(times) - len(got))
            latencies += [g - s for s, g in zip(times, got, strict=False)]
        latencies.sort()
        return {
            "partitions": len(partitions),
            "engine_msgs_per_s": (handled_at_end - handled_start) / window,
            "engine_cpu_us_per_msg": 1e6 * cpu_used / max(1.0, handled_at_end - handled_start),
            "loadavg": os.getloadavg()[0],
            "engine_backlog_at_end": max(0.0, load_sent - handled_before),
            "engine_drained_after": handled_after - handled_before,
            "probes": sum(len(v) for v in sent_at.values()),
            "probes_without_alert": lost,
            "load_msgs_per_s": load_sent / load_elapsed,
            "load_devices": len(load_ids),
            "p50_ms": 1000 * statistics.median(latencies),
            "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
            "max_ms": 1000 * latencies[-1],
        }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--part", choices=["core", "e2e", "all"], default="all")
    parser.add_argument("--devices", type=int, default=4000, help="core: devices in the book")
    parser.add_argument("--rules", type=int, default=2000, help="core: generated rules (+defaults)")
    parser.add_argument("--core-seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=int, default=5000, help="e2e: load messages/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="e2e: load duration")
    parser.add_argument("--load-devices", type=int, default=2000)
    parser.add_argument(
        "--partitions",
        default="",
        help='e2e: engine replicas by domain, e.g. "health,energy;traffic,agriculture"'
        " (default: one engine for every domain)",
    )
    args = parser.parse_args()
    if args.part in ("core", "all"):
        _instrument()
        r = bench_core(args.devices, args.rules, args.core_seconds)
        print(
            f"core: {r['devices']} devices, {r['rules']} rules: "
            f"{r['readings_per_s']:,.0f} readings/s through the book "
            f"({r['evaluations_per_s']:,.0f} rule evaluations/s, {r['ticks']} ticks); "
            f"baseline core.evaluate alone: {r['baseline_evaluate_per_s']:,.0f}/s"
        )
    if args.part in ("e2e", "all"):
        r = bench_end_to_end(args.rate, args.seconds, args.load_devices, args.partitions.split(";"))
        print(
            f"e2e ({r['partitions']} engine partition(s)): load "
            f"{r['load_msgs_per_s']:,.0f} msg/s from {r['load_devices']} devices; "
            f"{r['probes']} probes, {r['probes_without_alert']} without an alert by the end; "
            f"publish -> alert committed p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
            f"max {r['max_ms']:.1f} ms"
        )
        print(
            f"     engines evaluated {r['engine_msgs_per_s']:,.0f} msg/s during the load, "
            f"{r['engine_cpu_us_per_msg']:.0f} µs of CPU per message "
            f"(= {1e6 / r['engine_cpu_us_per_msg']:,.0f} msg/s per core); backlog at the end "
            f"of the load: {r['engine_backlog_at_end']:,.0f} messages; machine load average "
            f"{r['loadavg']:.1f} on {os.cpu_count()} cores"
        )


if __name__ == "__main__":
    main()
