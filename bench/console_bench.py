"""Console benchmark: the wall with 10,000 devices and 500 open alerts, in a real browser.

    .venv/bin/python -m bench.console_bench
    .venv/bin/python -m bench.console_bench --devices 10000 --alerts 500 --rate 100 --seconds 5

A scratch database gets ``--devices`` devices spread over the demo city and
``--alerts`` open alerts; the API is served in this process (uvicorn, loopback) and
Debian's Chromium opens the wall, signed in with an operator key. It reports:

- first render and its data: navigation start → the inbox rendered and the map's devices
  loaded (in-page ``performance.now()``), with the navigation timing beside it;
- bytes transferred for the page and every asset (resource timing), against 1.5 MB;
- an alert change reaching the page: ``--rate`` acknowledgements/s for ``--seconds``,
  each timed from its commit (this process) to the event's arrival in the page (an
  EventSource the page holds), same clock; p50/p95/max; and when the inbox last
  re-rendered after the last change.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import threading
import time
from datetime import UTC, datetime

import psycopg
import uvicorn
from playwright.sync_api import sync_playwright

from ioc.alerts import lifecycle, store
from ioc.alerts.models import RuleSpec
from ioc.api.app import create_app
from ioc.config import Settings
from ioc.security.audit import Actor
from ioc.security.keys import create_key
from ioc.security.roles import Role
from ioc.storage.registry import NewDevice, register_devices
from testkit.broker import free_port, wait_for_port
from testkit.database import scratch_database

DISTRICTS = ("central", "riverside", "harbour", "north", "east", "west")
CENTRE = (10.0340, 105.7880)
BUDGET_BYTES = 1_500_000


def populate(url: str, devices: int, alerts: int) -> tuple[list[int], str]:
    """Devices, a (disabled) rule, open alerts on the first ``alerts`` devices; an operator key."""
    rng = random.Random(7)
    with psycopg.connect(url) as conn:
        register_devices(
            conn,
            [
                NewDevice(
                    f"bench-{i:05d}",
                    "health",
                    f"fridge {i}",
                    DISTRICTS[i % len(DISTRICTS)],
                    CENTRE[0] + rng.uniform(-0.1, 0.1),
                    CENTRE[1] + rng.uniform(-0.1, 0.1),
                )
                for i in range(devices)
            ],
        )
        conn.execute("UPDATE devices SET online = true, status_at = now()")
        rule = store.create_rule(
            conn,
            RuleSpec.model_validate(
                {
                    "name": "Bench fridge warm",
                    "kind": "threshold",
                    "domain": "health",
                    "metric": "fridge_temp_c",
                    "severity": "major",
                    "params": {"op": ">", "value": 8, "clear": 7.5},
                    "enabled": False,
                }
            ),
        )
        key, _ = create_key(conn, Role.OPERATOR, "bench")
    ids = []
    now = datetime.now(UTC)
    for i in range(alerts):
        with psycopg.connect(url) as conn:
            d = f"bench-{i:05d}"
            a = store.open_alert(conn, rule, d, d, DISTRICTS[i % len(DISTRICTS)], now, 9.0)
            assert a is not None
            ids.append(a.id)
    return ids, key


def serve(settings: Settings) -> tuple[str, uvicorn.Server]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    threading.Thread(target=server.run, daemon=True).start()
    wait_for_port(port)
    return f"http://127.0.0.1:{port}", server


LISTEN = """() => { window.__arrivals = {}; const s = new EventSource('/ui/events');
  s.addEventListener('alert.acknowledged', e => {
    const d = JSON.parse(e.data);
    window.__arrivals[d.id] = performance.timeOrigin + performance.now(); });
  window.__rendered = 0;
  new MutationObserver(() => { window.__rendered = performance.timeOrigin + performance.now(); })
    .observe(document.getElementById('inbox-list'), {childList: true});
  return new Promise(r => s.onopen = () => r(true)); }"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=10_000)
    parser.add_argument("--alerts", type=int, default=500)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with scratch_database() as url:
        t0 = time.perf_counter()
        ids, key = populate(url, args.devices, args.alerts)
        print(
            f"setup: {args.devices} devices, {len(ids)} open alerts in "
            f"{time.perf_counter() - t0:.1f} s"
        )
        base, server = serve(Settings(database_url=url, timezone="Asia/Ho_Chi_Minh"))
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(base + "/ui/login?next=/ui/")
            page.locator("summary").click()
            page.fill("#key", key)
            page.locator("form.signin button[type=submit]").click()
            page.wait_for_url(base + "/ui/")
            samples = []
            for _ in range(3):  # cold first, then warm: report each
                page.reload()
                page.wait_for_function(
                    "() => document.querySelector('#map').dataset.loaded === 'yes'"
                    " && document.querySelectorAll('#inbox-list .inbox-item').length > 0",
                    timeout=30_000,
                )
                ready = page.evaluate("() => performance.now()")
                nav = page.evaluate(
                    "() => { const n = performance.getEntriesByType('navigation')[0];"
                    " return {response: n.responseEnd, dcl: n.domContentLoadedEventEnd,"
                    " load: n.loadEventEnd}; }"
                )
                samples.append((ready, nav))
            for i, (ready, nav) in enumerate(samples):
                print(
                    f"wall {'cold' if i == 0 else 'warm'}: inbox+map ready {ready:.0f} ms"
                    f" (HTML {nav['response']:.0f} ms, DOMContentLoaded {nav['dcl']:.0f} ms,"
                    f" load {nav['load']:.0f} ms)"
                )
            page.context.clear_cookies()
            cdp = page.context.new_cdp_session(page)
            cdp.send("Network.enable")
            cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
            sizes: dict[str, int] = {}
            cdp.on(
                "Network.loadingFinished",
                lambda e: sizes.__setitem__(e["requestId"], int(e["encodedDataLength"])),
            )
            page.goto(base + "/ui/login?next=/ui/")
            page.locator("summary").click()
            page.fill("#key", key)
            sizes.clear()
            page.locator("form.signin button[type=submit]").click()
            page.wait_for_function(
                "() => document.querySelector('#map') && document.querySelector('#map')"
                ".dataset.loaded === 'yes'",
                timeout=30_000,
            )
            total = sum(sizes.values())
            print(
                f"transferred (uncached, page + data + assets): {total / 1e6:.2f} MB"
                f" in {len(sizes)} responses (budget {BUDGET_BYTES / 1e6:.1f} MB)"
            )

            page.evaluate(LISTEN)
            committed: dict[int, float] = {}
            actor = Actor("bench", "operator", None)
            n = min(len(ids), int(args.rate * args.seconds))
            start = time.time()
            with psycopg.connect(url) as conn:
                for i, alert_id in enumerate(ids[:n]):
                    due = start + i / args.rate
                    time.sleep(max(0.0, due - time.time()))
                    lifecycle.acknowledge(conn, actor, alert_id, None)
                    conn.commit()
                    committed[alert_id] = time.time() * 1000
            achieved = n / (time.time() - start)
            deadline = time.time() + 10
            while time.time() < deadline:
                arrivals = page.evaluate("() => window.__arrivals")
                if len(arrivals) >= n:
                    break
                time.sleep(0.1)
            lat = [float(arrivals[str(a)]) - committed[a] for a in committed if str(a) in arrivals]
            rendered = float(page.evaluate("() => window.__rendered"))
            print(
                f"alert changes: {n} at {achieved:.0f}/s; arrived {len(lat)}; commit → page "
                f"p50 {statistics.median(lat):.0f} ms, p95 {pct(lat, 0.95):.0f} ms,"
                f" max {max(lat):.0f} ms"
            )
            print(
                f"inbox re-rendered {rendered - max(committed.values()):.0f} ms after the"
                " last change's commit"
            )
            print(json.dumps({"ok": True}))
            browser.close()
        server.should_exit = True


if __name__ == "__main__":
    main()
