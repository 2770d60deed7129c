"""docker-compose.yml, read as data: Docker cannot run here, so check what can be checked.

Every file it mounts or builds from exists, every command it runs exists in this
checkout, every variable it needs is in .env.example, long-running services have health
checks, state lives in named volumes, the simulator is opt-in, and nothing secret is
written into the file itself.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from ioc.cli import app as ioc_cli

ROOT = Path(__file__).resolve().parents[2]
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
ONE_SHOT = {"broker-setup", "certs"}


def _env_example() -> dict[str, str]:
    pairs = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            pairs[key] = value
    return pairs


def test_the_stack_has_every_part() -> None:
    assert {
        "timescaledb",
        "mosquitto",
        "grafana",
        "ingest",
        "alerts",
        "api",
        "simulator",
    } <= set(SERVICES)
    assert "timescaledb" in SERVICES["timescaledb"]["image"]  # the full edition
    # the official Mosquitto 2 image plus the project's retain guard (built, its own tag)
    assert SERVICES["mosquitto"]["image"].startswith("ioc-mosquitto:2.")
    broker_dockerfile = ROOT / "deploy/mosquitto/docker/Dockerfile"
    assert "\nFROM eclipse-mosquitto:2." in broker_dockerfile.read_text()
    assert SERVICES["grafana"]["image"].startswith("grafana/grafana-oss:")
    assert SERVICES["simulator"]["profiles"] == ["simulator"]


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_mounted_and_built_files_exist(name: str) -> None:
    service = SERVICES[name]
    if "build" in service:
        build = service["build"]
        context = ROOT / (build if isinstance(build, str) else build["context"])
        dockerfile = (
            "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        )
        assert (context / dockerfile).is_file()
    for volume in service.get("volumes", []):
        source = volume.split(":")[0]
        if source.startswith("."):
            assert (ROOT / source).exists(), f"{name} mounts {source}, which does not exist"
        else:
            assert source in COMPOSE["volumes"], f"{name} uses undeclared volume {source}"


def _commands() -> list[tuple[str, list[str]]]:
    return [(n, s["command"]) for n, s in SERVICES.items() if isinstance(s.get("command"), list)]


@pytest.mark.parametrize(("name", "command"), _commands(), ids=[n for n, _ in _commands()])
def test_commands_exist_in_this_checkout(name: str, command: list[str]) -> None:
    assert command[0] == "python"
    if command[1] == "-m":
        module = command[2]
        assert importlib.util.find_spec(module) is not None, f"{name}: no module {module}"
        if module == "ioc":
            registered = {c.name or c.callback.__name__ for c in ioc_cli.registered_commands}  # type: ignore[union-attr]
            assert command[3] in registered, f"{name}: `python -m ioc {command[3]}` does not exist"
    else:
        assert (ROOT / command[1]).is_file(), f"{name}: {command[1]} is missing"
        dockerfile = (ROOT / "Dockerfile").read_text()
        if SERVICES[name].get("build"):
            assert command[1] in dockerfile, f"{name}: the image does not contain {command[1]}"


def test_every_required_variable_is_in_the_env_example() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    required = set(re.findall(r"\$\{(\w+):\?", text))
    example = _env_example()
    missing = required - set(example)
    assert not missing, f".env.example lacks {sorted(missing)}"
    secrets = {k for k in example if "PASSWORD" in k or k.endswith("_KEY")}
    assert secrets <= required, "every secret must be required, never defaulted"
    assert all(example[k].startswith("change-me") for k in secrets)


def test_no_secret_is_written_into_the_compose_file() -> None:
    for name, service in SERVICES.items():
        env = service.get("environment", {})
        for key, value in env.items() if isinstance(env, dict) else ():
            if any(word in key for word in ("PASSWORD", "SECRET", "KEY")) and value:
                assert str(value).startswith("${"), f"{name}.{key} is not from the environment"


@pytest.mark.parametrize("name", sorted(set(SERVICES) - ONE_SHOT - {"simulator"}))
def test_long_running_services_have_health_checks(name: str) -> None:
    check = SERVICES[name].get("healthcheck")
    assert check and check["test"], f"{name} has no health check"


def test_services_wait_for_what_they_need() -> None:
    for name in ("ingest", "alerts", "api"):
        needs = SERVICES[name]["depends_on"]
        assert needs["timescaledb"]["condition"] == "service_healthy"
        assert needs["broker-setup"]["condition"] == "service_completed_successfully"
    assert SERVICES["broker-setup"]["depends_on"]["mosquitto"]["condition"] == "service_healthy"


def test_ingest_replicas_share_one_group_with_their_own_sessions() -> None:
    replicas = [s for n, s in SERVICES.items() if n.startswith("ingest")]
    assert len(replicas) >= 2
    assert {r["environment"]["IOC_INGEST_GROUP"] for r in replicas} == {"ingest"}
    ids = [r["environment"]["IOC_INGEST_CLIENT_ID"] for r in replicas]
    assert len(set(ids)) == len(ids)


def test_grafana_gets_the_generated_provisioning() -> None:
    grafana = SERVICES["grafana"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in grafana["volumes"]}
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/dashboards/ioc.yaml").read_text()
    )
    dashboards_mount = mounts["./deploy/grafana/dashboards"]
    for p in provider["providers"]:
        assert p["options"]["path"].startswith(dashboards_mount + "/")
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (ROOT / "deploy/grafana/dashboards" / Path(home).relative_to(dashboards_mount)).is_file()
    datasource = (ROOT / "deploy/grafana/provisioning/datasources/ioc.yaml").read_text()
    settings = "\n".join(line for line in datasource.splitlines() if not line.startswith("#"))
    for var in re.findall(r"\$\{(\w+)\}", settings):
        assert var in grafana["environment"], f"the datasource needs {var}"
