"""Console fixtures: the app served over real HTTP (the browser needs a socket), keys per
role, and a signed-in page client for the server-rendered checks."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import psycopg
import pytest
import uvicorn
from fastapi.testclient import TestClient

from ioc.api.app import create_app
from ioc.api.deps import COOKIE
from ioc.config import Settings
from ioc.security.keys import create_key
from ioc.security.roles import Role
from ioc.security.sessions import csrf_token
from testkit.broker import Broker, free_port, wait_for_port


@pytest.fixture(scope="session")
def console_settings(database_url: str, broker: Broker) -> Settings:
    return Settings(
        database_url=database_url,
        mqtt_url=broker.url,
        goc_url=None,
        timezone="Asia/Ho_Chi_Minh",
    )


@pytest.fixture(scope="session")
def role_keys(database_url: str) -> dict[Role, str]:
    out: dict[Role, str] = {}
    with psycopg.connect(database_url) as conn:
        for role in Role:
            out[role], _ = create_key(conn, role, f"console {role.value}")
    return out


@pytest.fixture(scope="session")
def pages(console_settings: Settings) -> Iterator[TestClient]:
    app = create_app(console_settings, accounts=None, run_migrations=False)
    with TestClient(app, follow_redirects=False) as c:
        yield c


def sign_in(c: TestClient, key: str) -> str:
    """Sign in through the form as a browser would; the session cookie's value."""
    r = c.post(
        "/ui/login",
        content=f"key={key}&next=/ui/",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": str(c.base_url).rstrip("/"),
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/ui/", r.text
    c.cookies.clear()
    return str(r.cookies[COOKIE])


@pytest.fixture(scope="session")
def signed_in(pages: TestClient, role_keys: dict[Role, str]) -> Callable[[Role], dict[str, str]]:
    """Headers of a browser signed in with a key of ``role`` (its session cookie)."""
    sessions = {role: sign_in(pages, key) for role, key in role_keys.items()}
    return lambda role: {
        "Cookie": f"{COOKIE}={sessions[role]}",
        "X-CSRF-Token": csrf_token(sessions[role]),
        "Origin": str(pages.base_url).rstrip("/"),
    }


@pytest.fixture(scope="session")
def served(console_settings: Settings) -> Iterator[str]:
    port = free_port()
    app = create_app(console_settings, accounts=None, run_migrations=False)
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
