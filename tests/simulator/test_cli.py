"""The command line: dry-run output, determinism, and clear refusals."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from devices.simulator.cli import app
from ioc.telemetry.payloads import Sample, Status

DRY = ["--dry-run", "--per-domain", "2", "--interval", "30", "--duration", "120"]
START = ["--start", "2026-11-23T00:00:00Z"]


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_dry_run_writes_json_lines_and_a_summary() -> None:
    code, out, err = _invoke(*DRY, *START, "--seed", "4")
    assert code == 0, err
    lines = [json.loads(line) for line in out.splitlines()]
    # 8 online, 4 steps × 8 samples, 8 offline at the end.
    assert len(lines) == 8 + 4 * 8 + 8
    assert {tuple(sorted(line)) for line in lines} == {("payload", "qos", "retain", "topic")}
    for line in lines:
        if line["topic"].endswith("/status"):
            assert line["retain"] is True
            Status.model_validate_json(line["payload"])
        else:
            Sample.model_validate_json(line["payload"])
    assert "messages  48" in err and "faults    none" in err


def test_same_seed_same_output() -> None:
    assert _invoke(*DRY, *START, "--seed", "4")[1] == _invoke(*DRY, *START, "--seed", "4")[1]
    assert _invoke(*DRY, *START, "--seed", "4")[1] != _invoke(*DRY, *START, "--seed", "5")[1]


def test_scenario_and_faults_from_the_command_line() -> None:
    code, out, err = _invoke(
        *DRY,
        *START,
        "--scenario",
        "power_cut",
        "--scenario-at",
        "30",
        "--fault",
        "nan=0.2",
        "--districts",
        "2",
    )
    assert code == 0, err
    assert "scenarios power_cut" in err and "nan " in err
    offline = [json.loads(line) for line in out.splitlines() if '\\"offline\\"' in line]
    # Half the fleet (district "central" of two) drops off, then everyone at the end.
    assert len(offline) == 4 + 8


def test_list_scenarios_shows_expected_alerts() -> None:
    code, out, _ = _invoke("--list-scenarios")
    assert code == 0
    listed = json.loads(out)
    assert listed["fridge_failure"]["expected_alerts"][0]["condition"] == "> 8"
    # the power cut: one incident holding the district's four silent devices
    assert listed["power_cut"]["expected_incidents"] == [
        {"policy": "district-silence", "procedure": "power_cut", "alerts": 4}
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "earthquake"], "unknown scenario"),
        (["--fault", "gremlins=0.1"], "unknown fault"),
        (["--domains", "water"], "unknown domains"),
        (["--start", "yesterday"], "RFC 3339"),
        (["--scenario", "power_cut", "--scenario-district", "atlantis"], "atlantis"),
    ],
)
def test_bad_options_are_refused_clearly(args: list[str], message: str) -> None:
    code, _out, err = _invoke(*DRY, *args)
    assert code == 2
    assert message in err


def test_provision_explains_an_unreachable_api() -> None:
    code, _out, err = _invoke(
        "--provision",
        "--per-domain",
        "1",
        "--api-url",
        "http://127.0.0.1:9",
        "--api-key",
        "k",
        "--duration",
        "10",
    )
    assert code == 1
    assert "cannot be reached" in err and "python -m ioc api" in err


def test_provision_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IOC_API_KEY", raising=False)
    code, _out, err = _invoke("--provision", "--per-domain", "1", "--duration", "10")
    assert code == 1
    assert "IOC_API_KEY" in err
