"""The console's pages as the server renders them: each page answers for its role,
shows times in the center's zone, carries the CSRF token, offers actions only to
operators, and everything it needs is served by the app itself."""

from __future__ import annotations

import re
from collections.abc import Callable

import psycopg
from fastapi.testclient import TestClient

from ioc.security.roles import Role
from ioc.storage.registry import NewDevice, register_devices
from tests.api.helpers import make_rule, open_alert

Headers = Callable[[Role], dict[str, str]]
FOREIGN = re.compile(r"""(?:src|href)=["'](?:https?:)?//""")


def test_root_redirects_to_the_wall_and_the_wall_needs_sign_in(pages: TestClient) -> None:
    r = pages.get("/")
    assert r.status_code in (302, 303, 307) and r.headers["location"] == "/ui/"
    r = pages.get("/ui/")
    assert r.status_code in (303, 401)
    if r.status_code == 303:
        assert r.headers["location"].startswith("/ui/login?next=")


def test_the_wall_for_an_operator_and_a_viewer(pages: TestClient, signed_in: Headers) -> None:
    operator = pages.get("/ui/", headers=signed_in(Role.OPERATOR))
    assert operator.status_code == 200
    html = operator.text
    assert 'id="inbox-list"' in html and 'id="map"' in html and 'id="tiles"' in html
    assert 'data-can-act="yes"' in html and "Acknowledge selected" in html
    assert '<meta name="csrf-token"' in html and 'name="csrf_token"' in html
    assert "<style" not in html and " style=" not in html and "onclick" not in html
    assert not re.search(r"<script>\s*\S", html), "no inline script bodies"
    assert not FOREIGN.search(html), "every asset is the app's own"
    viewer = pages.get("/ui/", headers=signed_in(Role.VIEWER)).text
    assert 'data-can-act="no"' in viewer and "Acknowledge selected" not in viewer


def test_alert_list_page_and_actions_by_role(
    pages: TestClient, signed_in: Headers, database_url: str, unique: Callable[[str], str]
) -> None:
    rule = make_rule(database_url, unique("console-rule"))
    alert = open_alert(database_url, rule, unique("console-dev"), district="harbour")
    listing = pages.get("/ui/alerts?state=firing&district=harbour", headers=signed_in(Role.VIEWER))
    assert listing.status_code == 200 and f'href="/ui/alerts/{alert.id}"' in listing.text
    assert "critical" in listing.text and "⬣" in listing.text  # icon and word, not colour only
    other = pages.get("/ui/alerts?district=nowhere-at-all", headers=signed_in(Role.VIEWER))
    assert f'href="/ui/alerts/{alert.id}"' not in other.text and "No alerts match" in other.text

    page = pages.get(f"/ui/alerts/{alert.id}", headers=signed_in(Role.OPERATOR)).text
    assert "level</dt><dd>&gt; 8.0" in page and "clears at</dt><dd>7.5" in page
    assert f'action="/ui/alerts/{alert.id}/ack"' in page
    assert f'action="/ui/alerts/{alert.id}/resolve" data-confirm=' in page
    assert "+07" in page and "UTC" not in page.split("<h2>History")[0]
    seen_by_viewer = pages.get(f"/ui/alerts/{alert.id}", headers=signed_in(Role.VIEWER)).text
    assert "/ack" not in seen_by_viewer and "/resolve" not in seen_by_viewer


def test_inbox_and_map_data(
    pages: TestClient, signed_in: Headers, database_url: str, unique: Callable[[str], str]
) -> None:
    device = unique("map-dev")
    with psycopg.connect(database_url) as conn:
        register_devices(conn, [NewDevice(device, "health", "fridge", "east", 10.0, 105.7)])
    rule = make_rule(database_url, unique("map-rule"))
    alert = open_alert(database_url, rule, device, district="east")
    inbox = pages.get("/ui/data/inbox", headers=signed_in(Role.VIEWER)).json()
    mine = [i for i in inbox["alerts"] if i["id"] == alert.id]
    assert mine and mine[0]["level"] == 8 and mine[0]["op"] == ">" and mine[0]["value"] == 9.5
    states = {
        d[0]: d[3]
        for d in pages.get("/ui/data/map", headers=signed_in(Role.VIEWER)).json()["devices"]
    }
    assert states[device] == "alert"
    geo = pages.get("/ui/data/districts.geojson", headers=signed_in(Role.VIEWER)).json()
    names = {f["properties"]["name"] for f in geo["features"]}
    assert {"central", "riverside", "harbour", "north", "east", "west"} <= names
    assert pages.get("/ui/data/inbox").status_code in (303, 401)


def test_device_district_and_list_pages(
    pages: TestClient, signed_in: Headers, database_url: str, unique: Callable[[str], str]
) -> None:
    device = unique("page-dev")
    with psycopg.connect(database_url) as conn:
        register_devices(conn, [NewDevice(device, "traffic", "crossing", "west", 10.0, 105.7)])
    h = signed_in(Role.VIEWER)
    found = pages.get(f"/ui/devices?q={device[:-2]}", headers=h)
    assert found.status_code == 200 and f'href="/ui/devices/{device}"' in found.text
    assert (
        f'href="/ui/devices/{device}"' not in pages.get("/ui/devices?q=zz-none-zz", headers=h).text
    )
    page = pages.get(f"/ui/devices/{device}", headers=h)
    assert page.status_code == 200 and 'data-metric="vehicle_count"' in page.text
    district = pages.get("/ui/districts/west", headers=h)
    assert district.status_code == 200 and 'data-district="west"' in district.text
    assert pages.get("/ui/incidents", headers=h).status_code == 200
    series = pages.get(f"/ui/data/series?device={device}&metric=vehicle_count", headers=h)
    assert series.status_code == 200 and series.json()["t"] == []


def test_docs_work_offline_and_assets_are_served(pages: TestClient) -> None:
    for path, asset in (
        ("/docs", "/static/vendor/swagger-ui-dist/swagger-ui-bundle.js"),
        ("/redoc", "/static/vendor/redoc/redoc.standalone.js"),
    ):
        html = pages.get(path).text
        assert asset in html and not FOREIGN.search(html)
        assert pages.get(asset).status_code == 200
    for asset in (
        "/static/vendor/leaflet/leaflet.js",
        "/static/vendor/uplot/uPlot.iife.min.js",
        "/static/console/wall.js",
        "/static/map/demo-city.geojson",
    ):
        assert pages.get(asset).status_code == 200, asset


def test_resolve_from_the_page_asks_first_and_bulk_ack_takes_several(
    pages: TestClient, signed_in: Headers, database_url: str, unique: Callable[[str], str]
) -> None:
    rule = make_rule(database_url, unique("confirm-rule"))
    one, two = (open_alert(database_url, rule, unique(f"cf-dev-{i}")) for i in (1, 2))
    form = {**signed_in(Role.OPERATOR), "Content-Type": "application/x-www-form-urlencoded"}
    asked = pages.post(f"/ui/alerts/{one.id}/resolve", content="confirm=&note=x", headers=form)
    assert asked.status_code == 200 and 'name="confirm" value="yes"' in asked.text
    assert "firing" in pages.get(f"/ui/alerts/{one.id}", headers=form).text
    done = pages.post(f"/ui/alerts/{one.id}/resolve", content="confirm=yes&note=x", headers=form)
    assert done.status_code == 303
    assert "state-resolved" in pages.get(f"/ui/alerts/{one.id}", headers=form).text

    bulk = pages.post(
        "/ui/alerts/ack",
        content=f"ids={one.id}&ids={two.id}",
        headers={**form, "Accept": "application/json"},
    )
    assert bulk.status_code == 200 and bulk.json()["acknowledged"] == 1  # one was resolved
    assert "state-acknowledged" in pages.get(f"/ui/alerts/{two.id}", headers=form).text
    viewer = {**signed_in(Role.VIEWER), "Content-Type": "application/x-www-form-urlencoded"}
    assert pages.post("/ui/alerts/ack", content=f"ids={two.id}", headers=viewer).status_code == 403
