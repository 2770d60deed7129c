"""Every link on every dashboard resolves to a real route of the operations center, and
opens the right page for a real device and alert."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient
from starlette.routing import Match

from dashboards.generate import boards
from dashboards.model import API_PREFIX
from ioc.api.app import create_app
from ioc.config import Settings
from ioc.security.keys import ensure_key
from ioc.security.roles import Role
from testkit.dashboard_walk import links
from tests.dashboards.burst import Burst

LINKS = [(where, url) for b in boards() for where, url in links(b.model)]
PREFIX = API_PREFIX


def _path(url: str, value: str = "x-1") -> str:
    assert url.startswith(PREFIX), f"{url} does not start with the API variable"
    path = url.removeprefix(PREFIX)
    return re.sub(r"\$\{__value\.raw\}", value, path)


def test_every_dashboard_carries_device_and_alert_links() -> None:
    paths = {_path(u, "{id}") for _, u in LINKS}
    assert paths == {"/ui/devices/{id}", "/ui/alerts/{id}", "/ui/login"}
    for b in boards():
        if b.model["uid"] != "ioc-pipeline":
            assert any("/ui/alerts/" in u for _, u in links(b.model)), b.model["uid"]
        assert any("/ui/devices/" in u for _, u in links(b.model)), b.model["uid"]


@pytest.mark.parametrize(("where", "url"), LINKS, ids=[w for w, _ in LINKS])
def test_link_matches_a_route_of_the_app(where: str, url: str) -> None:
    app = create_app(Settings(), accounts=None, run_migrations=False, schedule_reports=False)
    value = "1" if "/alerts/" in url else "dev-1"
    scope = {"type": "http", "method": "GET", "path": _path(url, value)}
    matched = [r for r in app.routes if r.matches(scope)[0] is Match.FULL]
    assert matched, f"{where}: {url} matches no GET route of ioc.api"


@pytest.fixture
def viewer(database_url: str) -> Iterator[TestClient]:
    key = secrets.token_urlsafe(24)
    with psycopg.connect(database_url) as conn:
        ensure_key(conn, key, Role.VIEWER, "dashboard links test")
    settings = Settings(database_url=database_url)
    app = create_app(settings, accounts=None, run_migrations=False, schedule_reports=False)
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as client:
        yield client


def test_links_open_the_pages_of_real_devices_and_alerts(burst: Burst, viewer: TestClient) -> None:
    device = burst.devices["energy"][0].device_id
    alert = burst.alert_ids[0]
    for _, url in LINKS:
        value = str(alert) if "/ui/alerts/" in url else device
        page = viewer.get(_path(url, value))
        assert page.status_code == 200, f"{url} → {page.status_code}"
        if "${__value.raw}" in url:
            assert value in page.text
