"""Every command line turns a person's mistake into one line on stderr and exit code 2.

The line names the flag or the environment variable (never pydantic's field name) and
what it accepts; there is no traceback unless ``--debug``. An unreachable dependency is
one line too, with exit code 1. Most cases run in-process through the same runner the
console scripts use; a few run as ``python -m …`` to prove the wiring.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from devices.simulator import cli as simulator_cli
from ingest.__main__ import main as ingest_main
from ioc import cli as ioc_cli
from ioc.console import package_version
from ioc.errors import NotFound
from testkit.broker import free_port

ROOT = Path(__file__).resolve().parents[1]


def _one_line(err: str, *needles: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got:\n{err}"
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No IOC_* variable from the caller's shell leaks into these cases."""
    for name in list(os.environ):
        if name.startswith("IOC_"):
            monkeypatch.delenv(name)


def test_revoking_an_unknown_key(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IOC_DATABASE_URL", database_url)
    assert ioc_cli.main(["keys", "revoke", "nope"]) == 2
    _one_line(capsys.readouterr().err, "ioc: error:", "'nope'", "keys list")


def test_debug_shows_the_traceback(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IOC_DATABASE_URL", database_url)
    with pytest.raises(NotFound):
        ioc_cli.main(["--debug", "keys", "revoke", "nope"])


@pytest.mark.parametrize(
    ("variable", "value", "needles"),
    [
        ("IOC_MQTT_URL", "http://x", ["mqtt://[user:pass@]host:port", "'http://x'"]),
        ("IOC_MQTT_URL", "mqtt://host:notaport", ["port must be a number"]),
        ("IOC_DATABASE_URL", "nonsense", ["postgresql://"]),
        ("IOC_GOC_REPORT_INTERVAL_S", "soon", ["integer"]),
        ("IOC_BOOTSTRAP_ADMIN_KEY", "change-me-admin-key", ["placeholder"]),
        ("IOC_BOOTSTRAP_ADMIN_KEY", "short", ["at least 16 characters"]),
        ("IOC_GOC_SECRET", "changeme-secret-value", ["placeholder"]),
        ("IOC_DATABASE_URL", "postgresql://ioc:change-me-postgres@db/ioc", ["password"]),
        ("IOC_BROKER_ADMIN_URL", "mqtt://admin:pw@broker:1883", ["password", "at least 8"]),
    ],
)
def test_a_bad_variable_is_named(
    variable: str,
    value: str,
    needles: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(variable, value)
    assert ioc_cli.main(["migrate"]) == 2
    line = _one_line(capsys.readouterr().err, f"{variable}:", *needles)
    field = variable.removeprefix("IOC_").lower()
    assert field not in line, "the message names the pydantic field, not the variable"
    if "change-me" in value:
        assert value not in line, "a secret's value must never be echoed"


def test_an_unreachable_database_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("IOC_DATABASE_URL", f"postgresql://postgres@127.0.0.1:{free_port()}/x")
    assert ioc_cli.main(["keys", "list"]) == 1
    _one_line(capsys.readouterr().err, "IOC_DATABASE_URL", "cannot be reached")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["keys", "create", "--role", "boss"], ["'--role'", "viewer"]),
        (["api", "--port", "0"], ["'--port'"]),
        (["broker", "bootstrap"], ["IOC_BROKER_ADMIN_URL", "mqtt://"]),
        (["nonsense"], ["nonsense"]),
    ],
)
def test_ioc_usage_errors(
    args: list[str], needles: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert ioc_cli.main(args) == 2
    _one_line(capsys.readouterr().err, *needles)


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--interval", "0"], ["'--interval'", "more than 0"]),
        (["--interval", "-5"], ["'--interval'", "more than 0"]),
        (["--interval", "nan"], ["'--interval'"]),
        (["--mqtt-url", "http://x"], ["'--mqtt-url'", "mqtt://"]),
        (["--duration", "-1"], ["'--duration'", "more than 0"]),
        (["--utc-offset", "99"], ["'--utc-offset'", "-12", "+14"]),
        (["--connections", "0"], ["'--connections'"]),
        (["--api-url", "ftp://x"], ["'--api-url'", "http://"]),
        (["--provision"], ["'--provision'", "--dry-run"]),
    ],
)
def test_simulator_usage_errors(
    args: list[str], needles: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert simulator_cli.main(["--dry-run", "--per-domain", "1", *args]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    _one_line(err, "ioc-sim: error:", *needles)


def test_a_dry_run_does_not_claim_acknowledgements(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--dry-run", "--per-domain", "1", "--duration", "60", "--progress-every", "0.001"]
    assert simulator_cli.main(args) == 0
    err = capsys.readouterr().err
    assert "messages  " in err
    assert "acked" not in err


def test_versions(capsys: pytest.CaptureFixture[str]) -> None:
    assert ioc_cli.main(["--version"]) == 0
    assert simulator_cli.main(["--version"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"ioc {package_version()}", f"ioc-sim {package_version()}"]
    assert package_version() != "unknown"


def _run(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("IOC_")}
    return subprocess.run(
        [sys.executable, *args],
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_python_dash_m_entry_points(database_url: str, tmp_path: Path) -> None:
    revoke = _run(
        "-m", "ioc", "keys", "revoke", "nope", env={"IOC_DATABASE_URL": database_url}, cwd=tmp_path
    )
    assert revoke.returncode == 2
    _one_line(revoke.stderr, "python -m ioc: error:", "'nope'")

    bad_env = _run("-m", "ioc", "migrate", env={"IOC_MQTT_URL": "http://x"}, cwd=tmp_path)
    assert bad_env.returncode == 2
    _one_line(bad_env.stderr, "IOC_MQTT_URL:")

    sim = _run("-m", "devices.simulator", "--interval", "0", env={}, cwd=tmp_path)
    assert sim.returncode == 2
    _one_line(sim.stderr, "python -m devices.simulator: error:", "'--interval'")

    dashboards = _run("-m", "dashboards", "check", "--dir", "nowhere", env={}, cwd=tmp_path)
    assert dashboards.returncode == 2
    _one_line(dashboards.stderr, "'--dir'", "nowhere")


@pytest.mark.parametrize(
    ("argv", "variable", "needles"),
    [
        ([], ("IOC_MQTT_URL", "http://x"), ["IOC_MQTT_URL", "'http://x'"]),
        (["--workers", "0"], None, ["--workers"]),
        (["--wrokers", "2"], None, ["--wrokers"]),
    ],
)
def test_ingest_mistakes_are_one_line(
    argv: list[str],
    variable: tuple[str, str] | None,
    needles: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if variable is not None:
        monkeypatch.setenv(*variable)
    assert ingest_main(argv) == 2
    _one_line(capsys.readouterr().err, "python -m ingest: error:", *needles)
