"""A district operator sees and acts on their own district only: another district's
alert and device are a 404 in the API and in the console, lists are limited to their
district, and what they do is recorded under their name."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from fastapi.testclient import TestClient

from ioc.security import monitor
from ioc.security.keys import create_key
from ioc.security.roles import Role
from ioc.storage.registry import NewDevice
from tests.api.helpers import make_rule, open_alert
from tests.security.conftest import Person, sign_in


def _world(
    database_url: str, unique: Callable[[str], str], register: Callable[..., None]
) -> dict[str, str | int]:
    mine, theirs = unique("d-mine"), unique("d-theirs")
    here, there = unique("dev-here"), unique("dev-there")
    register(NewDevice(here, "health", district=mine), NewDevice(there, "health", district=theirs))
    rule = make_rule(database_url, unique("scope-rule"))
    return {
        "mine": mine,
        "theirs": theirs,
        "here": here,
        "there": there,
        "alert_here": open_alert(database_url, rule, here, district=mine).id,
        "alert_there": open_alert(database_url, rule, there, district=theirs).id,
    }


def test_console_404_for_another_districts_alert_and_device(
    app_client: TestClient,
    person: Callable[..., Person],
    database_url: str,
    unique: Callable[[str], str],
    register: Callable[..., None],
) -> None:
    w = _world(database_url, unique, register)
    operator = person(Role.OPERATOR, district=str(w["mine"]))
    sign_in(app_client, operator)
    assert app_client.get(f"/ui/alerts/{w['alert_here']}").status_code == 200
    assert app_client.get(f"/ui/devices/{w['here']}").status_code == 200
    assert app_client.get(f"/ui/alerts/{w['alert_there']}").status_code == 404
    assert app_client.get(f"/ui/devices/{w['there']}").status_code == 404
    refused = app_client.post(f"/ui/alerts/{w['alert_there']}/ack", follow_redirects=False)
    assert refused.status_code == 404
    with psycopg.connect(database_url) as conn:
        state = conn.execute("SELECT state FROM alerts WHERE id = %s", (w["alert_there"],))
        assert state.fetchone() == ("firing",)
        seen = [
            e
            for e in monitor.recent(conn, event="access.out_of_scope", limit=50)
            if e.actor == operator.login
        ]
    assert len(seen) == 3

    # The operator's own alert: acknowledged, and the history and audit name them.
    acked = app_client.post(f"/ui/alerts/{w['alert_here']}/ack", follow_redirects=False)
    assert acked.status_code == 303
    with psycopg.connect(database_url) as conn:
        audit = conn.execute(
            "SELECT actor, actor_name, role FROM audit_log WHERE target = %s",
            (f"alert:{w['alert_here']}",),
        ).fetchall()
        history = conn.execute(
            "SELECT by FROM alert_history WHERE alert_id = %s AND action = 'acknowledged'",
            (w["alert_here"],),
        ).fetchall()
    assert audit == [(operator.login, f"Test {operator.login}", "operator")]
    assert history == [(operator.login,)]


def test_api_404_and_lists_limited_for_a_district_key(
    app_client: TestClient,
    database_url: str,
    unique: Callable[[str], str],
    register: Callable[..., None],
) -> None:
    w = _world(database_url, unique, register)
    with psycopg.connect(database_url) as conn:
        key, _ = create_key(conn, Role.OPERATOR, unique("district wall"), district=str(w["mine"]))
    auth = {"Authorization": f"Bearer {key}"}
    get = app_client.get
    assert get(f"/api/v1/alerts/{w['alert_here']}", headers=auth).status_code == 200
    assert get(f"/api/v1/alerts/{w['alert_there']}", headers=auth).status_code == 404
    assert get(f"/api/v1/devices/{w['here']}", headers=auth).status_code == 200
    assert get(f"/api/v1/devices/{w['there']}", headers=auth).status_code == 404
    assert get(f"/api/v1/devices/{w['there']}/latest", headers=auth).status_code == 404
    post = app_client.post
    assert post(f"/api/v1/alerts/{w['alert_there']}/resolve", headers=auth).status_code == 404

    # Lists: without a district they show the key's own; another district is a 404.
    alerts = get("/api/v1/alerts", params={"limit": 1000}, headers=auth).json()["items"]
    assert {a["district"] for a in alerts} == {w["mine"]}
    devices = get("/api/v1/devices", params={"limit": 1000}, headers=auth).json()["items"]
    assert {d["device_id"] for d in devices} == {w["here"]}
    theirs = {"district": w["theirs"]}
    assert get("/api/v1/alerts", params=theirs, headers=auth).status_code == 404
    kpis = get("/api/v1/kpis", headers=auth).json()["groups"]
    assert kpis and {g["district"] for g in kpis} == {w["mine"]}


def test_admins_see_every_district(
    app_client: TestClient,
    person: Callable[..., Person],
    database_url: str,
    unique: Callable[[str], str],
    register: Callable[..., None],
) -> None:
    w = _world(database_url, unique, register)
    sign_in(app_client, person(Role.ADMIN))
    assert app_client.get(f"/ui/alerts/{w['alert_there']}").status_code == 200
    assert app_client.get(f"/ui/devices/{w['there']}").status_code == 200


def test_console_data_and_bulk_actions_stay_in_the_district(
    app_client: TestClient,
    person: Callable[..., Person],
    database_url: str,
    unique: Callable[[str], str],
    register: Callable[..., None],
) -> None:
    w = _world(database_url, unique, register)
    sign_in(app_client, person(Role.OPERATOR, district=str(w["mine"])))

    inbox = app_client.get("/ui/data/inbox").json()
    assert {a["district"] for a in inbox["alerts"]} == {w["mine"]}
    assert all(w["mine"] in i["districts"] for i in inbox["incidents"])
    assert app_client.get(f"/ui/districts/{w['mine']}").status_code == 200
    assert app_client.get(f"/ui/districts/{w['theirs']}").status_code == 404

    # Positions come from the registry: give both devices a place on the map.
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "UPDATE devices SET lat = 10.8, lon = 106.7 WHERE device_id = ANY(%s)",
            ([w["here"], w["there"]],),
        )
    shown = {row[0] for row in app_client.get("/ui/data/map").json()["devices"]}
    assert w["here"] in shown and w["there"] not in shown

    # Acknowledging several at once: another district's alert is passed over.
    r = app_client.post(
        "/ui/alerts/ack",
        data={"ids": [str(w["alert_there"]), str(w["alert_here"])]},
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 200 and r.json()["acknowledged"] == 1
    with psycopg.connect(database_url) as conn:
        states = dict(
            conn.execute(
                "SELECT id, state FROM alerts WHERE id = ANY(%s)",
                ([w["alert_here"], w["alert_there"]],),
            ).fetchall()
        )
    assert states == {w["alert_here"]: "acknowledged", w["alert_there"]: "firing"}
