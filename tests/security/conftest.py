"""Web-security fixtures: a fresh app per test (so each has its own throttle), people
made straight in the database, and a browser-like client that signs in."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg
import pytest
from fastapi.testclient import TestClient

from ioc.api.app import create_app
from ioc.config import Settings
from ioc.security import users
from ioc.security.roles import Role
from ioc.security.sessions import csrf_token
from testkit.broker import Broker

PASSWORD = "a long test passphrase 7"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@dataclass(frozen=True)
class Person:
    login: str
    password: str
    role: Role
    district: str | None


@pytest.fixture
def web_settings(database_url: str, broker: Broker) -> Settings:
    return Settings(database_url=database_url, mqtt_url=broker.url, goc_url=None)


@pytest.fixture
def app_client(web_settings: Settings) -> Iterator[TestClient]:
    """The app with default security settings, as a browser on http://testserver."""
    app = create_app(web_settings, accounts=None, run_migrations=False)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def person(database_url: str, unique: Callable[[str], str]) -> Callable[..., Person]:
    def make(role: Role = Role.OPERATOR, district: str | None = None) -> Person:
        login = unique(f"p{role.value[:3]}").lower()
        with psycopg.connect(database_url) as conn:
            users.create_user(conn, login, PASSWORD, role, name=f"Test {login}", district=district)
        return Person(login, PASSWORD, role, district)

    return make


def sign_in(c: TestClient, who: Person, next_: str = "/ui/") -> str:
    """Sign in through the form; return the session token the cookie holds, and set
    the CSRF header the console's script would send."""
    r = c.post(
        "/ui/login",
        data={"login": who.login, "password": who.password, "next": next_},
        headers=FORM,
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    token = c.cookies["ioc_session"]
    c.headers["X-CSRF-Token"] = csrf_token(token)
    return token
