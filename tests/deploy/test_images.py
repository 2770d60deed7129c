"""The deployment as data: docker-compose.yml against the Compose specification's schema,
every image pinned to an exact version, every service with a health check, and a
Dockerfile that installs the wheel as a non-root user.

Docker cannot run here. The Compose schema is the one the ``check-jsonschema`` package
vendors (``check_jsonschema/builtin_schemas/vendor/compose-spec.json``, from the
compose-spec project, Apache-2.0; the licence ships beside it in the package).
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
#: Services that run once and exit: their exit status is their health.
ONE_SHOT = {"broker-setup", "certs"}
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
#: name:MAJOR.MINOR.PATCH[-suffix]: an exact release, never latest or a major-only tag.
EXACT = re.compile(r"^[a-z0-9][a-z0-9._/-]*:(\d+\.\d+\.\d+)([-.][A-Za-z0-9.-]+)?$")


def _compose_schema() -> dict[str, Any]:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    schema: dict[str, Any] = json.loads(vendor.joinpath("compose-spec.json").read_text())
    return schema


def _errors(document: dict[str, Any]) -> list[str]:
    schema = _compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(document)]


def test_compose_file_follows_the_compose_specification() -> None:
    assert _errors(COMPOSE) == []


def test_the_schema_check_catches_mistakes() -> None:
    broken = copy.deepcopy(COMPOSE)
    broken["services"]["api"]["healthchek"] = broken["services"]["api"].pop("healthcheck")
    broken["services"]["ingest"]["depends_on"] = "timescaledb"
    errors = _errors(broken)
    assert any("healthchek" in e for e in errors)
    assert any(e.startswith("services/ingest/depends_on") for e in errors)


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_image_has_an_exact_version(name: str) -> None:
    image = SERVICES[name].get("image")
    assert image, f"{name} names no image"
    assert EXACT.match(image), f"{name}: {image!r} is not pinned to an exact version"
    assert "latest" not in image


def test_the_project_image_carries_the_package_version() -> None:
    built = {s["image"] for n, s in SERVICES.items() if "build" in s and n != "mosquitto"}
    assert built == {f"ioc:{VERSION}"}


def test_the_broker_image_carries_its_mosquitto_version() -> None:
    """The broker is the official image plus the retain-guard plugin: its tag starts with
    the Mosquitto version its Dockerfile builds on (deploy/mosquitto/docker/Dockerfile)."""
    build = SERVICES["mosquitto"]["build"]
    text = (ROOT / build["context"] / build["dockerfile"]).read_text()
    base = [line.split()[1] for line in text.splitlines() if line.startswith("FROM ")][-1]
    name, _, version = base.partition(":")
    assert name == "eclipse-mosquitto"
    assert SERVICES["mosquitto"]["image"].startswith(f"ioc-mosquitto:{version.split('-')[0]}-")


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_health_check(name: str) -> None:
    check = SERVICES[name].get("healthcheck")
    assert check, f"{name} has no health check"
    if check.get("disable"):
        assert name in ONE_SHOT, f"{name} runs for long: its health check must not be off"
    else:
        assert check["test"] and check["test"][0] in {"CMD", "CMD-SHELL"}


def test_exact_version_pattern() -> None:
    for good in ("eclipse-mosquitto:2.0.20", "timescale/timescaledb:2.17.2-pg16", "ioc:0.1.0"):
        assert EXACT.match(good)
    for bad in ("eclipse-mosquitto:2", "timescale/timescaledb:latest-pg16", "grafana:11.3", "x"):
        assert not EXACT.match(bad)


def _from_lines() -> list[str]:
    text = (ROOT / "Dockerfile").read_text()
    return [line.split()[1] for line in text.splitlines() if line.startswith("FROM ")]


def test_dockerfile_is_multi_stage_with_pinned_bases() -> None:
    bases = _from_lines()
    assert len(bases) >= 2, "build the wheel in one stage, run it in another"
    for base in bases:
        assert EXACT.match(base), f"base image {base!r} is not pinned to an exact version"


def test_dockerfile_installs_the_wheel_and_runs_unprivileged() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert "pip wheel" in text and ".whl" in text
    assert "pip install ." not in text, "install the built wheel, not the source tree"
    users = [line.split()[1] for line in text.splitlines() if line.startswith("USER ")]
    assert users and users[-1] not in {"root", "0"}


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".git", ".venv"} <= set(ignored)
