"""The live stream over real HTTP: events arrive as they are published, and a client
reconnecting with Last-Event-ID gets what it missed."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import httpx
import psycopg
import pytest
import uvicorn

from ioc.api.app import create_app
from ioc.config import Settings
from ioc.security.keys import create_key
from ioc.security.roles import Role
from ioc.storage.events import publish
from ioc.storage.registry import NewDevice, register_devices
from testkit.broker import free_port, wait_for_port


@pytest.fixture(scope="module")
def served(api_settings: Settings) -> Iterator[str]:
    port = free_port()
    app = create_app(api_settings, accounts=None, run_migrations=False, schedule_reports=False)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port(port)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)


def events(lines: Iterator[str], count: int) -> list[dict[str, str]]:
    """Parse server-sent events until ``count`` have arrived."""
    out: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in lines:
        if not line:
            if "data" in current:
                out.append(current)
                if len(out) == count:
                    return out
            current = {}
        elif not line.startswith(":") and ":" in line:
            field, _, value = line.partition(":")
            current[field] = value.strip()
    raise AssertionError("stream ended")


def emit(url: str, kind: str, payload: dict[str, object]) -> int:
    with psycopg.connect(url) as conn:
        return publish(conn, kind, payload)


def test_live_then_resume(served: str, keys: dict[Role, str], database_url: str) -> None:
    headers = {"Authorization": f"Bearer {keys[Role.VIEWER]}"}
    before = emit(database_url, "device.offline", {"device_id": "old"})  # not replayed
    with httpx.Client(base_url=served, timeout=10) as http:
        with http.stream("GET", "/api/v1/events", headers=headers) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            lines = r.iter_lines()
            first = emit(database_url, "alert.opened", {"id": 1, "severity": "critical"})
            second = emit(database_url, "device.online", {"device_id": "d-1"})
            got = events(lines, 2)
        assert [int(e["id"]) for e in got] == [first, second]
        assert [e["event"] for e in got] == ["alert.opened", "device.online"]
        assert '"severity":"critical"' in got[0]["data"]
        assert before < first

        # Missed while disconnected: replayed from Last-Event-ID, in order.
        third = emit(database_url, "alert.resolved", {"id": 1})
        with http.stream(
            "GET", "/api/v1/events", headers={**headers, "Last-Event-ID": str(first)}
        ) as r:
            got = events(r.iter_lines(), 2)
        assert [int(e["id"]) for e in got] == [second, third]

        bad = http.get("/api/v1/events", headers={**headers, "Last-Event-ID": "abc"})
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"


def test_a_district_key_hears_only_its_district(
    served: str, database_url: str, unique: Callable[[str], str]
) -> None:
    """Alerts, incidents and devices of another district never reach a stream limited to
    one district; its own do, in order."""
    mine, theirs = unique("ev-mine"), unique("ev-theirs")
    here, there = unique("ev-here"), unique("ev-there")
    with psycopg.connect(database_url) as conn:
        register_devices(
            conn,
            [NewDevice(here, "energy", district=mine), NewDevice(there, "energy", district=theirs)],
        )
        key, _ = create_key(conn, Role.VIEWER, unique("district stream"), district=mine)
    start = emit(database_url, "device.offline", {"device_id": "before"})
    sent = [
        ("alert.opened", {"id": 1, "district": theirs}),
        ("alert.opened", {"id": 2, "district": mine}),
        ("device.offline", {"device_id": there}),
        ("device.online", {"device_id": here}),
        ("incident.opened", {"incident_id": 3, "districts": [theirs]}),
        ("incident.opened", {"incident_id": 4, "districts": [theirs, mine]}),
        ("alert.resolved", {"id": 5, "district": None}),  # a domain-wide group alert
        ("alert.resolved", {"id": 2, "district": mine}),  # the marker: last
    ]
    ids = [emit(database_url, kind, payload) for kind, payload in sent]
    headers = {"Authorization": f"Bearer {key}", "Last-Event-ID": str(start)}
    with (
        httpx.Client(base_url=served, timeout=10) as http,
        http.stream("GET", "/api/v1/events", headers=headers) as r,
    ):
        assert r.status_code == 200
        got = events(r.iter_lines(), 4)
    assert [int(e["id"]) for e in got] == [ids[1], ids[3], ids[5], ids[7]]
    assert [e["event"] for e in got] == [
        "alert.opened",
        "device.online",
        "incident.opened",
        "alert.resolved",
    ]
