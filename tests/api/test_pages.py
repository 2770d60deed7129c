"""Pages for people: sign in once, see an alert with its history and procedure, press
acknowledge; a device with its latest values. Same keys and roles as the API."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from ioc.api.app import create_app
from ioc.config import Settings
from ioc.security.roles import Role
from ioc.security.sessions import csrf_token
from tests.api.helpers import make_rule, open_alert


def browser(settings: Settings) -> TestClient:
    return TestClient(
        create_app(settings, accounts=None, run_migrations=False, schedule_reports=False)
    )


def login(c: TestClient, key: str, next_: str) -> None:
    """Sign in with an API key in the form's ``key`` field; the cookie then holds a
    session token, and state-changing posts carry its CSRF token (:func:`csrf`)."""
    r = c.post(
        "/ui/login",
        content=f"key={key}&next={next_}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == next_
    assert "httponly" in r.headers["set-cookie"].lower()
    assert "samesite=strict" in r.headers["set-cookie"].lower()
    assert key not in r.headers["set-cookie"]
    c.headers["X-CSRF-Token"] = csrf_token(c.cookies["ioc_session"])


def test_alert_page_and_buttons(
    api_settings: Settings,
    keys: dict[Role, str],
    database_url: str,
    unique: Callable[[str], str],
) -> None:
    rule = make_rule(database_url, unique("page-rule"))
    alert = open_alert(database_url, rule, unique("pg-dev"))
    page = f"/ui/alerts/{alert.id}"
    with browser(api_settings) as c:
        anonymous = c.get(page, follow_redirects=False)
        assert anonymous.status_code == 303
        assert anonymous.headers["location"] == f"/ui/login?next=%2Fui%2Falerts%2F{alert.id}"
        assert c.post(f"{page}/ack", follow_redirects=False).status_code == 401

        login(c, keys[Role.VIEWER], page)
        shown = c.get(page)
        assert shown.status_code == 200 and rule.name in shown.text
        assert "Acknowledge" in shown.text and "opened" in shown.text
        refused = c.post(f"{page}/ack", follow_redirects=False)
        assert refused.status_code == 403 and "text/html" in refused.headers["content-type"]

        login(c, keys[Role.OPERATOR], page)
        acked = c.post(
            f"{page}/ack",
            content="note=crew+sent",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            follow_redirects=False,
        )
        assert acked.status_code == 303
        after = c.get(page).text
        assert "acknowledged" in after and "crew sent" in after
        assert c.post(f"{page}/resolve", follow_redirects=False).status_code == 303
        assert "resolved" in c.get(page).text
        assert c.post(f"{page}/ack", follow_redirects=False).status_code == 409
        assert c.get("/ui/alerts/999999999").status_code == 404


def test_device_page(
    api_settings: Settings,
    keys: dict[Role, str],
    client: TestClient,
    auth: Callable[[Role], dict[str, str]],
    database_url: str,
    unique: Callable[[str], str],
) -> None:
    import psycopg

    dev = unique("pgd")
    client.post(
        "/api/v1/devices",
        json={"device_id": dev, "domain": "energy", "name": "Feeder 7"},
        headers=auth(Role.ADMIN),
    )
    with psycopg.connect(database_url) as conn:
        conn.execute("INSERT INTO latest VALUES (%s, 'voltage_v', now(), 231.5)", (dev,))
    with browser(api_settings) as c:
        login(c, keys[Role.VIEWER], f"/ui/devices/{dev}")
        r = c.get(f"/ui/devices/{dev}")
        assert r.status_code == 200 and "Feeder 7" in r.text and "231.5" in r.text
        assert ">V<" in r.text  # unit from the catalog
        # A key that is not valid does not sign in; the login form refuses it.
        bad = c.post(
            "/ui/login",
            content="key=nope&next=/ui/devices/x",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert bad.status_code == 401
