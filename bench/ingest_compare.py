"""Issue 10's comparison in one run: the counting paho subscriber (the receive limit), then
``python -m ingest`` (one process, then ``--workers 2``), same broker, same workload.

    .venv/bin/python -m bench.ingest_compare [--quick] [--seconds 20] [--rates 2000,4000,6000]
    .venv/bin/python -m bench.ingest_compare --only-extra --with-alerts 4000 --soak 300

A private Mosquitto (the project's configuration) and a throwaway PostgreSQL cluster with
``track_commit_timestamp = on`` are made and removed here. 1,000 energy devices; each
message is one sample of 4 readings (~140 bytes) whose ``ts`` is the publish time; two
paho publisher processes at QoS 1 split the devices, at full speed for ``--seconds``,
then paced at each of ``--rates`` messages/s (total) against one ingest process.

Per run it prints readings/s (stored, or counted for the subscriber), loss (PUBACKed
minus stored), duplicates (dead letters of reason ``duplicate``), dead letters,
publish→commit p50/p99 (``pg_xact_commit_timestamp(xmin) - time``: commit, not
receipt), CPU seconds of the consumer processes and of PostgreSQL, per message and per
row, and the consumer's peak RSS. Full-speed rates are also given as a ratio to the
counting subscriber's in the same run: the machine is shared, ratios travel better.

``--with-alerts RATE`` runs ``python -m ioc alerts`` beside ingest on the same stream,
with one rule that keeps opening alerts, and prints publish→alert committed
(``pg_xact_commit_timestamp`` of the alert row minus its reading's time). ``--soak S``
runs ingest paced for S seconds and prints its resident memory sampled every 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from psycopg.types.json import Jsonb

from ioc.storage.migrate import migrate
from ioc.storage.registry import NewDevice, register_devices
from ioc.telemetry.payloads import format_timestamp
from ioc.telemetry.topics import telemetry_topic
from testkit.broker import Broker
from testkit.postgres import TempCluster

ROOT = Path(__file__).resolve().parents[1]
DOMAIN = "energy"
DEVICES = [f"cmp-{i:04d}" for i in range(1000)]
READINGS = 4
TICK = os.sysconf("SC_CLK_TCK")


def payload(device: int, seq: int, ts_ms: int) -> bytes:
    ts = format_timestamp(datetime.fromtimestamp(ts_ms / 1000, UTC))
    return (
        f'{{"ts":"{ts}","seq":{seq},"readings":{{"active_power_kw":{100 + device % 900}.5,'
        f'"voltage_v":{225 + seq % 15}.1,"frequency_hz":50.01,"load_pct":{seq % 90}.2}}}}'
    ).encode()


# ---------------------------------------------------------------- child processes


def publisher(port: int, index: int, seconds: float, rate: float) -> None:
    """Publish for ``seconds`` (paced at ``rate`` msg/s when > 0), QoS 1, over this
    publisher's half of the devices; print how many the broker PUBACKed."""
    mine = [i for i in range(len(DEVICES)) if i % 2 == index]
    topics = [telemetry_topic(DOMAIN, DEVICES[i]) for i in mine]
    acked = [0]
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"cmp-pub-{index}", protocol=mqtt.MQTTv5
    )
    client.max_queued_messages_set(0)
    client.max_inflight_messages_set(1000)

    def on_publish(_c: object, _u: object, _mid: int, rc: object, _p: object) -> None:
        acked[0] += 1

    client.on_publish = on_publish
    client.connect("127.0.0.1", port)
    client.loop_start()
    last_ms = [0] * len(mine)
    began = time.monotonic()
    n = 0
    while True:
        elapsed = time.monotonic() - began
        if elapsed >= seconds:
            break
        if rate > 0:
            ahead = n / rate - elapsed
            if ahead > 0:
                time.sleep(ahead)
        slot = n % len(mine)
        ts_ms = max(time.time_ns() // 1_000_000, last_ms[slot] + 1)  # unique per device
        last_ms[slot] = ts_ms
        info = client.publish(topics[slot], payload(mine[slot], n, ts_ms), qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            break
        n += 1
    deadline = time.monotonic() + 120
    while acked[0] < n and time.monotonic() < deadline:
        time.sleep(0.05)
    client.disconnect()
    client.loop_stop()
    print(json.dumps({"sent": n, "acked": acked[0]}), flush=True)


def counter(port: int, out: str) -> None:
    """The receive limit: a paho subscriber (persistent session, shared subscription,
    QoS 1, acknowledged on receipt) that only counts, until SIGTERM."""
    state = {"n": 0, "first": 0.0, "last": 0.0}
    done = threading.Event()
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = 20000

    def on_message(_c: object, _u: object, _m: mqtt.MQTTMessage) -> None:
        now = time.time()
        if not state["n"]:
            state["first"] = now
        state["n"] += 1
        state["last"] = now

    def on_connect(c: mqtt.Client, *_: object) -> None:
        c.subscribe("$share/count/ioc/v1/#", qos=1)

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="cmp-counter", protocol=mqtt.MQTTv5)
    c.on_message = on_message
    c.on_connect = on_connect
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    c.connect("127.0.0.1", port, clean_start=False, properties=props)
    c.loop_start()
    done.wait()
    c.disconnect()
    c.loop_stop()
    Path(out).write_text(json.dumps(state))


# ---------------------------------------------------------------- measuring


def cpu_s(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def tree(pid: int) -> list[int]:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return [pid]
    return [pid, *(p for c in children for p in tree(int(c)))]


def peak_rss_mib(pids: list[int]) -> float:
    peak = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            continue
    return peak / 1024


def rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


class Sampler(threading.Thread):
    """The consumer's resident memory every ``every_s`` while a run lasts."""

    def __init__(self, pid: int, every_s: float = 10.0) -> None:
        super().__init__(daemon=True)
        self.pid, self.every_s = pid, every_s
        self.samples: list[float] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.every_s):
            self.samples.append(rss_mib(tree(self.pid)))


class Run:
    def __init__(self, url: str, broker: Broker, cluster: TempCluster, tmp: Path) -> None:
        self.url = url
        self.broker = broker
        self.tmp = tmp
        self.postmaster = int((cluster.dir / "postmaster.pid").read_text().split()[0])

    def pg_pids(self) -> list[int]:
        return tree(self.postmaster)

    def reset(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("TRUNCATE readings, latest, dead_letters")
            conn.execute("TRUNCATE rollup_invalidations")

    def publish(self, seconds: float, rate: float) -> int:
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.ingest_compare",
                    "--publisher",
                    str(self.broker.port),
                    str(i),
                    str(seconds),
                    str(rate / 2),
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
            )
            for i in range(2)
        ]
        acked = 0
        for p in procs:
            out, _ = p.communicate(timeout=seconds + 180)
            acked += json.loads(out)["acked"]
        return acked

    def stored(self) -> int:
        with psycopg.connect(self.url) as conn:
            row = conn.execute("SELECT count(*) FROM readings").fetchone()
        return int(row[0]) if row else 0

    def wait_stored(self, expected: int, stall_s: float = 15.0) -> None:
        """Until every PUBACKed reading is stored, or nothing moved for ``stall_s``."""
        last, since = -1, time.monotonic()
        while True:
            now_rows = self.stored()
            if now_rows >= expected:
                return
            if now_rows != last:
                last, since = now_rows, time.monotonic()
            elif time.monotonic() - since > stall_s:
                return
            time.sleep(0.2)

    def db_figures(self) -> dict[str, float]:
        with psycopg.connect(self.url) as conn:
            row = conn.execute(
                """WITH c AS (SELECT pg_xact_commit_timestamp(xmin) AS ct,
                                    extract(epoch FROM pg_xact_commit_timestamp(xmin) - time) AS lag
                             FROM readings)
                   SELECT count(*), extract(epoch FROM max(ct) - min(ct)),
                          percentile_cont(0.5) WITHIN GROUP (ORDER BY lag),
                          percentile_cont(0.99) WITHIN GROUP (ORDER BY lag)
                   FROM c"""
            ).fetchone()
            letters = conn.execute(
                "SELECT reason, sum(count)::int FROM dead_letters GROUP BY reason"
            ).fetchall()
        assert row is not None
        by_reason = {r: int(n) for r, n in letters}
        return {
            "rows": int(row[0]),
            "span_s": float(row[1] or 0.0),
            "p50_s": float(row[2] or 0.0),
            "p99_s": float(row[3] or 0.0),
            "duplicates": by_reason.get("duplicate", 0),
            "dead_letters": sum(by_reason.values()),
        }

    def counting(self, seconds: float) -> dict[str, float]:
        out = self.tmp / "counter.json"
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.ingest_compare",
                "--counter",
                str(self.broker.port),
                str(out),
            ],
            cwd=ROOT,
        )
        time.sleep(1.5)
        pg0 = cpu_s(self.pg_pids())
        acked = self.publish(seconds, 0)
        deadline = time.monotonic() + 60
        cpu = cpu_s([proc.pid])
        while time.monotonic() < deadline:  # drained once its CPU stops moving
            time.sleep(1.0)
            again = cpu_s([proc.pid])
            if again - cpu < 0.02:
                break
            cpu = again
        rss = peak_rss_mib([proc.pid])
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        state = json.loads(out.read_text())
        n = int(state["n"])
        span = max(1e-9, state["last"] - state["first"])
        return {
            "rate": n * READINGS / span,
            "loss": acked - n,
            "duplicates": 0,
            "dead_letters": 0,
            "p50_s": float("nan"),
            "p99_s": float("nan"),
            "cpu_s": cpu,
            "us_per_msg": cpu / max(1, n) * 1e6,
            "pg_us_per_row": (cpu_s(self.pg_pids()) - pg0) / max(1, n * READINGS) * 1e6,
            "rss_mib": rss,
        }

    def ingest(
        self, seconds: float, rate: float, workers: int, tag: str, *, alerts: bool = False
    ) -> dict[str, float]:
        self.reset()
        env = {
            **os.environ,
            "IOC_DATABASE_URL": self.url,
            "IOC_MQTT_URL": self.broker.url,
            "IOC_INGEST_CLIENT_ID": f"cmp-ingest-{tag}",
            "IOC_INGEST_GROUP": f"cmp-{tag}",
            "IOC_INGEST_METRICS_PORT": "0",
            "IOC_LOG_LEVEL": "WARNING",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "ingest", "--workers", str(workers)], cwd=ROOT, env=env
        )
        self._wait_subscribed(f"cmp-ingest-{tag}")
        engine = self._alert_engine(env, tag) if alerts else None
        sampler = Sampler(proc.pid)
        sampler.start()
        pg0 = cpu_s(self.pg_pids())
        acked = self.publish(seconds, rate)
        self.wait_stored(acked * READINGS)
        sampler.done.set()
        pids = tree(proc.pid)
        cpu = cpu_s(pids)
        pg = cpu_s(self.pg_pids()) - pg0
        rss = peak_rss_mib(pids)
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
        figures = {}
        if engine is not None:
            time.sleep(3.0)  # the engine's last round
            engine.send_signal(signal.SIGTERM)
            engine.wait(60)
            figures = self.alert_figures()
        db = self.db_figures()
        messages = db["rows"] / READINGS
        return {
            **figures,
            "rss_samples": sampler.samples,  # type: ignore[dict-item]
            "rate": db["rows"] / max(1e-9, db["span_s"]),
            "loss": acked - messages,
            "duplicates": db["duplicates"],
            "dead_letters": db["dead_letters"],
            "p50_s": db["p50_s"],
            "p99_s": db["p99_s"],
            "cpu_s": cpu,
            "us_per_msg": cpu / max(1.0, messages) * 1e6,
            "pg_us_per_row": pg / max(1, db["rows"]) * 1e6,
            "rss_mib": rss,
        }

    def _alert_engine(self, env: dict[str, str], tag: str) -> subprocess.Popen[bytes]:
        """``python -m ioc alerts`` on the same stream, with one rule that keeps opening
        and resolving alerts (``load_pct`` runs 0–89 per device: above 80 for a tenth of
        the time)."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("DELETE FROM alert_rules")
            conn.execute(
                "INSERT INTO alert_rules (name, kind, domain, metric, severity, params)"
                " VALUES ('cmp load', 'threshold', %s, 'load_pct', 'minor', %s)",
                (DOMAIN, Jsonb({"op": ">", "value": 80, "clear": 10})),
            )
        engine_env = {**env, "IOC_ALERTS_CLIENT_ID": f"cmp-alerts-{tag}"}
        engine_env["IOC_ALERTS_METRICS_PORT"] = "0"
        proc = subprocess.Popen([sys.executable, "-m", "ioc", "alerts"], cwd=ROOT, env=engine_env)
        self._wait_subscribed(f"cmp-alerts-{tag}")
        return proc

    def alert_figures(self) -> dict[str, float]:
        """Publish → alert committed: an alert's ``started_at`` is its reading's time, which
        the publisher set to the moment it published."""
        with psycopg.connect(self.url) as conn:
            row = conn.execute(
                """WITH c AS (SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin)
                                             - started_at) AS lag FROM alerts)
                   SELECT count(*), percentile_cont(0.5) WITHIN GROUP (ORDER BY lag),
                          percentile_cont(0.99) WITHIN GROUP (ORDER BY lag) FROM c"""
            ).fetchone()
            conn.execute("DELETE FROM alert_rules")
        assert row is not None
        return {
            "alerts": int(row[0]),
            "alert_p50_s": float(row[1] or 0.0),
            "alert_p99_s": float(row[2] or 0.0),
        }

    def _wait_subscribed(self, client_prefix: str, timeout: float = 30.0) -> None:
        """Until the broker logged the ingest's subscription (its connect line), then a
        moment for the SUBACK."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if client_prefix in self.broker.log():
                break
            time.sleep(0.1)
        time.sleep(1.5)


def show(name: str, r: dict[str, float], ref: float | None) -> None:
    ratio = f"{r['rate'] / ref:5.2f}x" if ref else "   - "
    lat = (
        "      -        -" if r["p50_s"] != r["p50_s"] else f"{r['p50_s']:7.3f}s {r['p99_s']:7.3f}s"
    )
    print(
        f"{name:<26} {r['rate']:>9,.0f} {ratio} {int(r['loss']):>6} {int(r['duplicates']):>5}"
        f" {int(r['dead_letters']):>5} {lat} {r['cpu_s']:>6.1f}s {r['us_per_msg']:>6.0f}"
        f" {r['pg_us_per_row']:>6.1f} {r['rss_mib']:>6.0f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rates", default="2000,4000,6000")
    parser.add_argument("--quick", action="store_true", help="5 s runs, 2k and 4k only")
    parser.add_argument("--skip-workers", action="store_true", help="no --workers 2 run")
    parser.add_argument("--rates-only", action="store_true", help="only the paced runs")
    parser.add_argument(
        "--soak",
        type=float,
        default=0.0,
        help="then one paced run at --soak-rate for this many seconds, RSS sampled every 10 s",
    )
    parser.add_argument("--soak-rate", type=float, default=2000.0)
    parser.add_argument(
        "--with-alerts",
        type=float,
        default=0.0,
        help="then a paced run at this rate with the alert engine beside ingest",
    )
    parser.add_argument("--only-extra", action="store_true", help="only --soak / --with-alerts")
    args = parser.parse_args()
    seconds = 5.0 if args.quick else args.seconds
    rates = [2000.0, 4000.0] if args.quick else [float(r) for r in args.rates.split(",") if r]
    load = os.getloadavg()
    print(
        f"ingest compare: {len(DEVICES)} {DOMAIN} devices, {READINGS} readings/message,"
        f" 2 publishers, {seconds:.0f} s per run, {os.cpu_count()} cores,"
        f" load {load[0]:.2f} {load[1]:.2f}",
        flush=True,
    )
    tmp = Path(tempfile.mkdtemp(prefix="ioc-cmp-"))
    tmp.chmod(0o755)  # the cluster runs as the postgres user when we are root
    cluster = TempCluster(tmp / "pg").init()
    try:
        with open(cluster.dir / "postgresql.conf", "a") as conf:
            conf.write("track_commit_timestamp = on\n")
        cluster.stop()
        cluster.start()
        migrate(cluster.url)
        with psycopg.connect(cluster.url) as conn:
            register_devices(
                conn,
                [NewDevice(d, DOMAIN, district=f"D{i % 10}") for i, d in enumerate(DEVICES)],
            )
        with Broker(tmp / "broker") as broker:
            run = Run(cluster.url, broker, cluster, tmp)
            print(
                f"{'consumer':<26} {'rdg/s':>9} {'ratio':>6} {'loss':>6} {'dups':>5} {'dead':>5}"
                f" {'p50':>8} {'p99':>8} {'cpu':>7} {'µs/msg':>6} {'pg µs/row':>6} {'RSS MiB':>6}",
                flush=True,
            )
            if not args.only_extra and not args.rates_only:
                ref = run.counting(seconds)
                show("counting paho subscriber", ref, None)
                one = run.ingest(seconds, 0, 1, "full1")
                show("ingest, full speed", one, ref["rate"])
            if not (args.skip_workers or args.rates_only or args.only_extra):
                two = run.ingest(seconds, 0, 2, "full2")
                show("ingest --workers 2, full", two, ref["rate"])
            for rate in [] if args.only_extra else rates:
                r = run.ingest(seconds, rate, 1, f"r{int(rate)}")
                show(f"ingest at {rate:,.0f} msg/s", r, None)
            if args.with_alerts:
                r = run.ingest(seconds, args.with_alerts, 1, "alerts", alerts=True)
                show(f"ingest + engine, {args.with_alerts:,.0f}/s", r, None)
                print(
                    f"  alert engine beside ingest: {r['alerts']:.0f} alerts opened,"
                    f" publish→alert committed p50 {r['alert_p50_s']:.3f} s,"
                    f" p99 {r['alert_p99_s']:.3f} s",
                    flush=True,
                )
            if args.soak:
                r = run.ingest(args.soak, args.soak_rate, 1, "soak")
                show(f"soak {args.soak:.0f} s at {args.soak_rate:,.0f}/s", r, None)
                rss = r["rss_samples"] or [r["rss_mib"]]  # type: ignore[assignment]
                half = max(1, len(rss) // 2)
                print(
                    f"  RSS every 10 s (MiB): first {rss[0]:.0f}, last {rss[-1]:.0f},"
                    f" max {max(rss):.0f}; mean of first half"
                    f" {sum(rss[:half]) / half:.0f}, second half"
                    f" {sum(rss[half:]) / max(1, len(rss) - half):.0f}",
                    flush=True,
                )
    finally:
        cluster.destroy()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--publisher":
        publisher(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--counter":
        counter(int(sys.argv[2]), sys.argv[3])
    else:
        main()
