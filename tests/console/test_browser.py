"""The console in a real browser (Playwright driving Debian's Chromium): sign in lands
on the wall; a breach appears in the inbox live; an acknowledgement reaches a second
browser; the map colours the device; a viewer sees no action; a cut stream catches up;
no request leaves the app; axe-core finds nothing serious. Screenshots of each main page
go to ``$IOC_TEST_ARTIFACTS`` (CI uploads it) or the test's temporary directory."""

from __future__ import annotations

import os
import pathlib
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from ioc.alerts import store
from ioc.alerts.models import RuleSpec
from ioc.config import Settings
from ioc.security.roles import Role
from ioc.storage.registry import NewDevice, register_devices
from testkit.broker import Broker
from testkit.mqtt import Publisher
from testkit.services import running_ingest
from tests.alerts.conftest import running_engine

CHROMIUM = pathlib.Path("/usr/bin/chromium")
AXE = pathlib.Path(__file__).resolve().parents[2] / "testkit" / "vendor" / "axe-core" / "axe.min.js"
LIVE_MS = 2000

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium is not installed (deploy/local/browser.sh)"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    where = os.environ.get("IOC_TEST_ARTIFACTS")
    path = pathlib.Path(where) / "console" if where else tmp_path_factory.mktemp("screens")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def pipeline(console_settings: Settings, broker: Broker) -> Iterator[None]:
    """Ingest and the alert engine, so a published reading becomes an alert."""
    with (
        running_ingest(console_settings.database_url, broker.url),
        running_engine(console_settings.database_url, broker.url),
    ):
        yield


class Visit:
    """A signed-in browser context that records every request it makes."""

    def __init__(self, browser: Browser, base: str, key: str, **options: Any) -> None:
        self.base = base
        self.requests: list[str] = []
        self.context: BrowserContext = browser.new_context(
            viewport={"width": 1920, "height": 1080}, **options
        )
        self.context.on("request", lambda r: self.requests.append(r.url))
        self.page: Page = self.context.new_page()
        self.page.goto(base + "/ui/")
        assert "/ui/login" in self.page.url  # not signed in: sent to sign-in, and back
        self.page.locator("summary").click()
        self.page.fill("#key", key)
        self.page.locator("form.signin button[type=submit]").click()
        self.page.wait_for_url(base + "/ui/")

    def foreign(self) -> list[str]:
        own = urlsplit(self.base).netloc
        return [
            u
            for u in self.requests
            if urlsplit(u).scheme in ("http", "https", "ws", "wss") and urlsplit(u).netloc != own
        ]

    def close(self) -> None:
        assert self.foreign() == [], self.foreign()
        self.context.close()


def breach_rule(database_url: str, name: str, device: str) -> int:
    spec = RuleSpec.model_validate(
        {
            "name": name,
            "kind": "threshold",
            "domain": "health",
            "metric": "fridge_temp_c",
            "severity": "critical",
            "scope": {"districts": [], "devices": [device]},
            "params": {"op": ">", "value": 8, "clear": 7.5, "for_s": 0},
            "sop": ["Call the clinic", "Move the vaccines to the spare fridge"],
        }
    )
    with psycopg.connect(database_url) as conn:
        return store.create_rule(conn, spec).id


def breach(broker: Broker, device: str, value: float = 12.5) -> None:
    with Publisher(broker.url) as pub:
        pub.send(
            f"ioc/v1/health/{device}/telemetry",
            {"ts": datetime.now(UTC).isoformat(), "readings": {"fridge_temp_c": value}},
        )


def fridge(database_url: str, device: str, district: str = "central") -> None:
    with psycopg.connect(database_url) as conn:
        register_devices(conn, [NewDevice(device, "health", "fridge", district, 10.034, 105.788)])


def test_live_inbox_ack_map_and_catch_up(
    browser: Browser,
    served: str,
    pipeline: None,
    role_keys: dict[Role, str],
    database_url: str,
    broker: Broker,
    unique: Callable[[str], str],
    shots: pathlib.Path,
) -> None:
    device, later = unique("ui-fridge"), unique("ui-fridge-b")
    fridge(database_url, device)
    fridge(database_url, later)
    name = unique("Fridge warm")
    breach_rule(database_url, name, device)
    breach_rule(database_url, name + " (b)", later)
    a = Visit(browser, served, role_keys[Role.OPERATOR])
    b = Visit(browser, served, role_keys[Role.OPERATOR])
    for v in (a, b):
        expect(v.page.locator("#freshness")).to_contain_text("live")

    breach(broker, device)
    item = a.page.locator(".inbox-item", has_text=name).first
    expect(item).to_be_visible(timeout=LIVE_MS)  # no reload: the stream brought it
    expect(item).to_contain_text("critical")
    expect(item).to_contain_text("level > 8")
    a.page.screenshot(path=str(shots / "wall.png"))

    # The alert leads its incident (or stands alone): acknowledge the inbox item.
    item.locator("input[type=checkbox]").check()
    a.page.locator("#ack-selected").click()
    other = b.page.locator(".inbox-item", has_text=name).first
    expect(other).to_have_attribute("data-state", "acknowledged", timeout=LIVE_MS)
    expect(other).to_contain_text("acknowledged")

    a.page.goto(served + f"/ui/?focus={device}")
    marker = a.page.locator(f'.dev[data-device="{device}"]')
    expect(marker).to_have_class("dev dev-alert", timeout=5000)
    colour = marker.evaluate("e => getComputedStyle(e).backgroundColor")
    critical = a.page.evaluate(
        "() => { const s = document.createElement('span'); s.className = 'dev dev-alert';"
        " document.body.appendChild(s); const c = getComputedStyle(s).backgroundColor;"
        " s.remove(); return c; }"
    )
    assert colour == critical and colour != "rgba(0, 0, 0, 0)"
    a.page.screenshot(path=str(shots / "map-focus.png"))

    # The stream is cut: the page says so, and what happens meanwhile appears after.
    b.page.route("**/ui/events*", lambda route: route.abort())
    b.page.evaluate("() => window.IOC.wall.reconnect()")
    expect(b.page.locator("#freshness")).to_contain_text("connection lost", timeout=LIVE_MS)
    b.page.screenshot(path=str(shots / "wall-connection-lost.png"))
    breach(broker, later)
    with psycopg.connect(database_url) as conn:  # committed while the page was cut off
        deadline = time.monotonic() + 10
        while not conn.execute("SELECT 1 FROM alerts WHERE device_id = %s", (later,)).fetchone():
            assert time.monotonic() < deadline, "the engine did not open the alert"
            time.sleep(0.05)
    assert b.page.locator(".inbox-item", has_text=name + " (b)").count() == 0
    b.page.unroute("**/ui/events*")
    expect(b.page.locator(".inbox-item", has_text=name + " (b)")).to_be_visible(timeout=8000)
    expect(b.page.locator("#freshness")).to_contain_text("live")
    a.close()
    b.close()


def test_viewer_sees_no_action_control(
    browser: Browser,
    served: str,
    role_keys: dict[Role, str],
    database_url: str,
    unique: Callable[[str], str],
) -> None:
    device = unique("ui-view")
    fridge(database_url, device)
    rule = breach_rule(database_url, unique("Viewer rule"), device)
    with psycopg.connect(database_url) as conn:
        r = store.get_rule(conn, rule)
        alert = store.open_alert(conn, r, device, device, "central", datetime.now(UTC), 11.0)
    assert alert is not None
    v = Visit(browser, served, role_keys[Role.VIEWER])
    expect(v.page.locator(".inbox-item", has_text="Viewer rule").first).to_be_visible()
    for page in ("/ui/", f"/ui/alerts/{alert.id}"):
        v.page.goto(served + page)
        v.page.wait_for_load_state("networkidle")
        assert v.page.get_by_role("button", name="Acknowledge").count() == 0
        assert v.page.get_by_role("button", name="Resolve…").count() == 0
        assert v.page.locator("input[type=checkbox]").count() == 0
    v.close()


MAIN_PAGES = ("/ui/", "/ui/alerts", "/ui/devices", "/ui/incidents", "/ui/districts/central")


def test_main_pages_are_accessible_and_self_contained(
    browser: Browser,
    served: str,
    role_keys: dict[Role, str],
    database_url: str,
    unique: Callable[[str], str],
    shots: pathlib.Path,
) -> None:
    device = unique("ui-axe")
    fridge(database_url, device)
    rule = breach_rule(database_url, unique("Axe rule"), device)
    with psycopg.connect(database_url) as conn:
        r = store.get_rule(conn, rule)
        alert = store.open_alert(conn, r, device, device, "central", datetime.now(UTC), 11.0)
    assert alert is not None
    # axe is injected as a script, which the page's CSP rightly refuses: this context
    # bypasses CSP for the audit only (the tests above run under the real policy).
    v = Visit(browser, served, role_keys[Role.OPERATOR], bypass_csp=True)
    problems: dict[str, list[str]] = {}
    for path in (*MAIN_PAGES, f"/ui/alerts/{alert.id}", f"/ui/devices/{device}"):
        v.page.goto(served + path)
        v.page.wait_for_load_state("networkidle")
        name = path.strip("/").replace("/", "-") or "wall"
        v.page.screenshot(path=str(shots / f"{name}.png"))
        v.page.add_script_tag(path=str(AXE))
        found = v.page.evaluate(
            "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
            ".map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))"
        )
        if found:
            problems[path] = found
    v.page.goto(served + "/docs")
    expect(v.page.locator(".swagger-ui .info")).to_be_visible(timeout=10000)
    v.page.screenshot(path=str(shots / "docs.png"))
    v.close()  # asserts no request left the app, /docs included
    assert problems == {}
