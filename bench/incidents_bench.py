"""Incident correlation benchmark: alert transitions per second through the pure core
(``ioc.incidents.correlate``), no broker, no database.

    .venv/bin/python -m bench.incidents_bench
    .venv/bin/python -m bench.incidents_bench --alerts 20000 --repeat 5

Workloads (every one built before the clock starts, timed with ``perf_counter`` over the
whole run, best of ``--repeat``):

- ``storm, one batch``: 1,000 silent-device openings in one district within 10 s (the
  issue's storm), in one call: one incident of 1,000 alerts.
- ``storm, one per call``: the same, one transition per call, each call returning a new
  board (the engine's worst case: the growing incident is rebuilt every time).
- ``city, batches of N``: ``--alerts`` alerts of the default rules over 20 districts
  and 4 hours, each opened, most acknowledged and resolved (about 2.6 transitions per
  alert), fed in time order in batches of ``--batch``; incidents open, resolve, reopen.
- ``replay``: the city's transitions again on the final board (all known: no change).

Baseline, in the same run: the least any correlator must do per transition, finding
its policy and key (``keys.assign``) and grouping by key in a dict. The ratio says what
the incident bookkeeping (members, derived fields, history, immutable board) costs on
top of that: "cost vs baseline" is the baseline's rate over the workload's (how many
times more time a transition takes).
"""

from __future__ import annotations

import argparse
import random
import time
from collections.abc import Callable
from pathlib import Path

from ioc.incidents.correlate import correlate
from ioc.incidents.defaults import default_catalogue
from ioc.incidents.keys import assign
from ioc.incidents.state import AlertTransition, Board
from testkit.incident_factory import RULES, SILENT, tr

ROOT = Path(__file__).resolve().parents[1]

T0 = 1_800_000_000.0


def storm(n: int = 1000) -> list[AlertTransition]:
    domains = list(SILENT)
    return [
        tr(k, SILENT[domains[k % 4]], T0 + 10.0 * k / n, device=f"dev-{k}") for k in range(1, n + 1)
    ]


def city(alerts: int, seed: int = 1) -> list[AlertTransition]:
    rng = random.Random(seed)
    rules = sorted(RULES)
    districts = [f"D{i}" for i in range(20)]
    out = []
    for k in range(1, alerts + 1):
        rule, district = rng.choice(rules), rng.choice(districts)
        opened = T0 + rng.uniform(0, 4 * 3600)
        device = f"dev-{rng.randrange(2000)}"
        out.append(tr(k, rule, opened, device=device, district=district))
        if rng.random() < 0.7:
            out.append(
                tr(
                    k,
                    rule,
                    opened + rng.uniform(30, 600),
                    "acknowledged",
                    device=device,
                    district=district,
                )
            )
        if rng.random() < 0.9:
            out.append(
                tr(
                    k,
                    rule,
                    opened + rng.uniform(600, 3600),
                    "resolved",
                    device=device,
                    district=district,
                )
            )
    return sorted(out, key=lambda t: t.at)


def best(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def baseline(transitions: list[AlertTransition]) -> None:
    policies = default_catalogue().policies
    groups: dict[str, list[int]] = {}
    for t in transitions:
        _, key = assign(policies, t)
        groups.setdefault(key, []).append(t.alert_id)


def batched(transitions: list[AlertTransition], size: int) -> Board:
    catalogue = default_catalogue()
    board = Board()
    for k in range(0, len(transitions), size):
        board, _ = correlate(catalogue, board, transitions[k : k + size])
    return board


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--alerts", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    catalogue = default_catalogue()

    burst = storm()
    town = city(args.alerts)
    final = batched(town, args.batch)
    rows: list[tuple[str, int, float]] = [
        (
            "baseline: key + dict grouping (city)",
            len(town),
            best(args.repeat, lambda: baseline(town)),
        ),
        (
            "storm, one batch",
            len(burst),
            best(args.repeat, lambda: correlate(catalogue, Board(), burst)),
        ),
        ("storm, one per call", len(burst), best(args.repeat, lambda: batched(burst, 1))),
        (
            f"city, batches of {args.batch}",
            len(town),
            best(args.repeat, lambda: batched(town, args.batch)),
        ),
        ("city, one per call", len(town), best(args.repeat, lambda: batched(town, 1))),
        (
            "replay (all known)",
            len(town),
            best(args.repeat, lambda: correlate(catalogue, final, town)),
        ),
    ]
    base_rate = rows[0][1] / rows[0][2]
    print(f"incident correlation, best of {args.repeat} runs (perf_counter, one process)")
    print(
        f"city: {args.alerts} alerts, {len(town)} transitions, 20 districts, 4 h; "
        f"{len(final.incidents)} incidents; storm: 1,000 openings in 10 s"
    )
    print(
        f"{'workload':40} {'transitions':>11} {'seconds':>9} {'per second':>12}"
        f" {'cost vs baseline':>17}"
    )
    for name, n, seconds in rows:
        rate = n / seconds
        print(f"{name:40} {n:>11,} {seconds:>9.3f} {rate:>12,.0f} {base_rate / rate:>16.1f}x")
    worst = min(n / s for _, n, s in rows[1:])
    print(
        f"slowest correlating workload: {worst:,.0f} transitions/s (target >= 1,000/s): "
        f"{'met' if worst >= 1000 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
