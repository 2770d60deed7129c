"""API fixtures: the app in-process against the session database, keys per role, and a
secured Mosquitto (dynamic-security plugin) for the device-credential tests."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from ioc.api.app import create_app
from ioc.broker_admin.accounts import DynsecAccounts
from ioc.broker_admin.dynsec import DynsecClient
from ioc.config import Settings, parse_mqtt_url
from ioc.security.keys import create_key
from ioc.security.roles import Role
from testkit.broker import ROOT, Broker

DYNSEC_AUTH = ROOT / "deploy" / "mosquitto" / "dynsec.auth.in"
ADMIN_PASSWORD = "dynsec-admin-test-pw"


@pytest.fixture(scope="session")
def api_settings(database_url: str, broker: Broker) -> Settings:
    # The role matrix sends a wrong key on purpose for every route, all from one test
    # client: the throttle is tested with its defaults in tests/security/test_throttling.py.
    return Settings(
        database_url=database_url, mqtt_url=broker.url, goc_url=None, auth_failure_burst=100_000
    )


@pytest.fixture(scope="session")
def client(api_settings: Settings) -> Iterator[TestClient]:
    app = create_app(api_settings, accounts=None, run_migrations=False, schedule_reports=False)
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="session")
def keys(database_url: str) -> dict[Role, str]:
    """One live key per role."""
    out: dict[Role, str] = {}
    with psycopg.connect(database_url) as conn:
        for role in Role:
            out[role], _ = create_key(conn, role, f"test {role.value}")
    return out


@pytest.fixture(scope="session")
def auth(keys: dict[Role, str]) -> Callable[[Role], dict[str, str]]:
    return lambda role: {"Authorization": f"Bearer {keys[role]}"}


def dynsec_broker(state_dir: Path) -> Broker:
    """A Mosquitto with the shipped dynsec auth block and an admin account."""
    state_dir.mkdir(parents=True, exist_ok=True)
    dynsec_file = state_dir / "dynamic-security.json"
    subprocess.run(
        ["mosquitto_ctrl", "dynsec", "init", str(dynsec_file), "admin", ADMIN_PASSWORD],
        check=True,
        capture_output=True,
    )
    auth = DYNSEC_AUTH.read_text().replace("@DYNSEC_FILE@", str(dynsec_file))
    return Broker(state_dir, auth=auth)


@pytest.fixture(scope="session")
def secured_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    with dynsec_broker(tmp_path_factory.mktemp("secured-broker")) as b:
        yield b


def admin_url(broker: Broker) -> str:
    return f"mqtt://admin:{ADMIN_PASSWORD}@127.0.0.1:{broker.port}"


@pytest.fixture(scope="session")
def dynsec_accounts(secured_broker: Broker) -> DynsecAccounts:
    return DynsecAccounts(DynsecClient(parse_mqtt_url(admin_url(secured_broker))))


@pytest.fixture(scope="session")
def secured_client(
    database_url: str, secured_broker: Broker, dynsec_accounts: DynsecAccounts
) -> Iterator[TestClient]:
    settings = Settings(database_url=database_url, mqtt_url=secured_broker.url)
    app = create_app(
        settings, accounts=dynsec_accounts, run_migrations=False, schedule_reports=False
    )
    with TestClient(app) as c:
        yield c
