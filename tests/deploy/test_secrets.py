"""Secrets for the compose stack: .env.example's one-liner makes a distinct random value
for each, and every service refuses a placeholder or a too-short one, naming the variable.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ioc.config import InvalidSettings, load_settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / ".env.example"


def _pairs(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in text.splitlines()
        if line and not line.startswith("#") and "=" in line
    )


def _secrets(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if "PASSWORD" in k or k.endswith("_KEY")}


def _one_liner() -> str:
    lines = [line for line in EXAMPLE.read_text().splitlines() if "> .env" in line]
    assert len(lines) == 1, "the .env.example header shows one command that makes .env"
    return lines[0].lstrip("#").strip()


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    where = tmp_path_factory.mktemp("env")
    shutil.copy(EXAMPLE, where / ".env.example")
    subprocess.run(["sh", "-c", _one_liner()], cwd=where, check=True, timeout=30)
    env_file = where / ".env"
    assert env_file.stat().st_mode & 0o077 == 0, ".env must be readable by its owner only"
    return _pairs(env_file.read_text())


def test_the_one_liner_makes_every_secret_distinct_and_real(generated: dict[str, str]) -> None:
    example = _pairs(EXAMPLE.read_text())
    secrets = _secrets(generated)
    assert set(secrets) == set(_secrets(example)) and len(secrets) >= 5
    assert len(set(secrets.values())) == len(secrets), "every secret gets its own value"
    for name, value in secrets.items():
        assert "change-me" not in value and len(value) >= 32, name
    # Everything that is not a secret is left as it was.
    assert {k: v for k, v in generated.items() if k not in secrets} == {
        k: v for k, v in example.items() if k not in secrets
    }


def _service_settings(env: dict[str, str]) -> dict[str, Any]:
    """What docker-compose.yml hands the API service, built from one .env."""
    return {
        "database_url": f"postgresql://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}"
        f"@timescaledb:5432/{env['POSTGRES_DB']}",
        "mqtt_url": f"mqtt://ingest:{env['MQTT_INGEST_PASSWORD']}@mosquitto:1883",
        "broker_admin_url": f"mqtt://admin:{env['MQTT_ADMIN_PASSWORD']}@mosquitto:1883",
        "bootstrap_admin_key": env["IOC_BOOTSTRAP_ADMIN_KEY"],
    }


def test_services_accept_the_generated_secrets(generated: dict[str, str]) -> None:
    settings = load_settings(**_service_settings(generated))
    assert settings.bootstrap_admin_key is not None


def test_services_refuse_the_placeholders_naming_each_variable() -> None:
    with pytest.raises(InvalidSettings) as refused:
        load_settings(**_service_settings(_pairs(EXAMPLE.read_text())))
    message = str(refused.value)
    for variable in (
        "IOC_DATABASE_URL",
        "IOC_MQTT_URL",
        "IOC_BROKER_ADMIN_URL",
        "IOC_BOOTSTRAP_ADMIN_KEY",
    ):
        assert f"{variable}:" in message
    assert "change-me" not in message, "the refused values are not echoed"


@pytest.mark.parametrize(
    ("field", "value", "accepted"),
    [
        ("bootstrap_admin_key", "", True),  # unset: the local default
        ("bootstrap_admin_key", "x" * 15, False),
        ("bootstrap_admin_key", "x" * 16, True),
        ("goc_secret", "CHANGE-ME-please-1234", False),
        ("alerts_grafana_token", "glsa_" + "a" * 32, True),
        ("database_url", "postgresql://postgres@127.0.0.1:5433/ioc", True),  # no password
        ("database_url", "postgresql://u:short@db/ioc", False),
        ("mqtt_url", "mqtt://ingest:ingest-pw@127.0.0.1:1883", True),
    ],
)
def test_secret_rules(field: str, value: str, accepted: bool) -> None:
    if accepted:
        load_settings(**{field: value})
    else:
        with pytest.raises(InvalidSettings, match=f"IOC_{field.upper()}:"):
            load_settings(**{field: value})


def _grafana_guard() -> list[str]:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    entrypoint: list[str] = compose["services"]["grafana"]["entrypoint"]
    # Compose turns $$ into $ before the container sees it.
    return [part.replace("$$", "$") for part in entrypoint]


@pytest.mark.parametrize("placeholder", ["GF_SECURITY_ADMIN_PASSWORD", "IOC_GRAFANA_DB_PASSWORD"])
def test_grafana_refuses_placeholders(placeholder: str) -> None:
    env = {
        "PATH": os.environ["PATH"],
        "GF_SECURITY_ADMIN_PASSWORD": "a" * 32,
        "IOC_GRAFANA_DB_PASSWORD": "b" * 32,
    }
    env[placeholder] = "change-me-grafana"
    refused = subprocess.run(_grafana_guard(), env=env, capture_output=True, text=True)
    assert refused.returncode == 1
    assert "placeholder" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1


def test_grafana_starts_with_real_passwords() -> None:
    env = {"PATH": os.environ["PATH"], "GF_SECURITY_ADMIN_PASSWORD": "a" * 32}
    env["IOC_GRAFANA_DB_PASSWORD"] = "b" * 32
    started = subprocess.run(_grafana_guard(), env=env, capture_output=True, text=True)
    # It went on to exec Grafana's own entrypoint, which is not on this machine.
    assert started.returncode == 127 and "/run.sh" in started.stderr
