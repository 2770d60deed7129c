"""The monitoring team's view: /ui/security lists recent security events to admins,
/metrics serves the counters to an admin key, and the first admin comes from the
set-up."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from fastapi.testclient import TestClient

from ioc.api.app import create_app
from ioc.config import Settings
from ioc.security.keys import create_key
from ioc.security.roles import Role
from tests.security.conftest import FORM, Person, sign_in


def test_admins_read_recent_events_and_operators_may_not(
    app_client: TestClient, person: Callable[..., Person], unique: Callable[[str], str]
) -> None:
    ghost = unique("ghost")
    app_client.post("/ui/login", data={"login": ghost, "password": "whatever it is"}, headers=FORM)
    sign_in(app_client, person(Role.OPERATOR))
    assert app_client.get("/ui/security").status_code == 403
    sign_in(app_client, person(Role.ADMIN))
    page = app_client.get("/ui/security", params={"event": "signin.failed"})
    assert page.status_code == 200
    assert "signin.failed" in page.text and ghost in page.text
    assert "whatever it is" not in page.text  # never the password tried


def test_metrics_for_admin_keys(
    app_client: TestClient, database_url: str, unique: Callable[[str], str]
) -> None:
    with psycopg.connect(database_url) as conn:
        admin, _ = create_key(conn, Role.ADMIN, unique("prometheus"))
    r = app_client.get("/metrics", headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 200
    assert 'ioc_security_events_total{event="csrf.refused"}' in r.text


def test_bootstrap_admin_person(fresh_database_url: str) -> None:
    settings = Settings(
        database_url=fresh_database_url,
        bootstrap_admin_login="chief",
        bootstrap_admin_password="first admin passphrase",
    )
    for _ in range(2):  # idempotent across restarts
        with TestClient(create_app(settings, accounts=None)) as c:
            r = c.post(
                "/ui/login",
                data={"login": "chief", "password": "first admin passphrase"},
                headers=FORM,
                follow_redirects=False,
            )
            assert r.status_code == 303
            assert c.get("/ui/security").status_code == 200
