"""The README's one command, run as a new user runs it: within two minutes data flows, an
alert from the simulator's scenario appears in the API, and the wall's queries show it.

``scripts/up`` runs unchanged (``deploy/local/infra.sh`` included); only where it puts
things is moved, so that parallel test runs never share a database, broker, port or
state directory: a fresh, unmigrated database (the script must create the schema), a
private broker with the project's configuration, a free API port. Everything the script
started is stopped with ``scripts/down`` and checked to be gone.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from dashboards.wall import build as build_wall
from dashboards.wall import map_sql
from devices.simulator.fleet import Fleet
from devices.simulator.scenarios import SCENARIOS
from testkit.broker import Broker, free_port
from testkit.dashboard_walk import queries
from testkit.database import scratch_database
from testkit.grafana_sql import Context, expand
from testkit.services import wait_for

ROOT = Path(__file__).resolve().parents[1]
BUDGET_S = 120.0
SERVICES = ("ingest", "alerts", "api", "simulator")
#: Nothing to show yet two minutes in: no bad input sent, no alert resolved.
MAY_BE_EMPTY = ("Rejected input by reason / A", "annotation Alerts resolved")
RANK = {"critical": 5, "major": 4, "minor": 3}
#: The scenario scripts/up runs unless told otherwise.
DEFAULT_SCENARIO = re.search(  # type: ignore[union-attr]
    r"IOC_SIM_SCENARIO:-(\w+)", (ROOT / "scripts/up").read_text()
).group(1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return (
        Path(f"/proc/{pid}").exists()
        and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    )


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    run_dir = tmp_path / "run"
    with scratch_database(migrated=False) as db_url, Broker(tmp_path / "broker") as broker:
        port = free_port()
        env = dict(
            os.environ,
            IOC_DATABASE_URL=db_url,
            IOC_MQTT_URL=broker.url,
            IOC_API_PORT=str(port),
            IOC_RUN_DIR=str(run_dir),
            IOC_INGEST_METRICS_PORT="0",
            IOC_ALERTS_METRICS_PORT="0",
            IOC_SIM_PER_DOMAIN="3",
        )
        started = time.monotonic()
        closing: list[Any] = []
        try:
            up = subprocess.run(
                [str(ROOT / "scripts/up")],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=BUDGET_S,
            )
            yield {
                "up": up,
                "db": db_url,
                "api": f"http://127.0.0.1:{port}",
                "run_dir": run_dir,
                "started": started,
                "env": env,
                "closing": closing,
            }
        finally:
            for close in closing:
                close()
            pids = [int(p.read_text()) for p in run_dir.glob("*.pid")]
            down = subprocess.run(
                [str(ROOT / "scripts/down")],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert down.returncode == 0, down.stderr
            assert not [p for p in pids if _alive(p)], "scripts/down left processes running"
            assert not list(run_dir.glob("*.pid"))


def test_one_command_brings_up_the_center(stack: dict[str, Any]) -> None:
    up = stack["up"]
    assert up.returncode == 0, f"scripts/up failed:\n{up.stdout}\n{up.stderr}"
    run_dir: Path = stack["run_dir"]
    key = (run_dir / "admin.key").read_text().strip()
    assert oct((run_dir / "admin.key").stat().st_mode & 0o777) == "0o600"
    assert f"{stack['api']}/docs" in up.stdout and key in up.stdout and "scripts/down" in up.stdout
    for name in SERVICES:
        assert (run_dir / f"{name}.pid").exists(), f"{name} was not started"
    deadline = stack["started"] + BUDGET_S

    def left() -> float:
        return max(deadline - time.monotonic(), 0.1)

    # Data flows: readings of every domain are stored.
    def domains_with_data() -> bool:
        with psycopg.connect(stack["db"]) as conn:
            row = conn.execute(
                "SELECT count(DISTINCT d.domain) FROM latest l JOIN devices d USING (device_id)"
            ).fetchone()
        return bool(row and row[0] == 4)

    wait_for(domains_with_data, timeout=left(), interval=0.5)
    data_at = time.monotonic() - stack["started"]

    # An alert the scenario is expected to raise appears in the API.
    fleet = Fleet.build(3)
    scenario = SCENARIOS[DEFAULT_SCENARIO](fleet, fleet.districts[0], datetime.now(UTC))
    expected = {e.rule for e in scenario.expected_alerts()}
    assert expected
    api = httpx.Client(base_url=stack["api"], headers={"Authorization": f"Bearer {key}"}, timeout=5)
    stack["closing"].append(api.close)

    def scenario_alert() -> dict[str, Any] | None:
        response = api.get("/api/v1/alerts", params={"state": "firing"})
        response.raise_for_status()
        body = response.json()
        items = body["items"] if isinstance(body, dict) else body
        return next((a for a in items if a.get("rule_name", a.get("rule")) in expected), None)

    alert = wait_for(scenario_alert, timeout=left(), interval=1.0)
    alert_at = time.monotonic() - stack["started"]
    assert api.get(f"/api/v1/alerts/{alert['id']}").status_code == 200
    assert api.get(f"/ui/alerts/{alert['id']}").status_code == 200  # the wall's link target

    # The wall's queries show it: every query returns rows, the alert is in the table
    # and its device is red on the map.
    end = datetime.now(UTC)
    ctx = Context(end - timedelta(hours=1), end, 5000)
    with psycopg.connect(stack["db"]) as conn:
        for q in queries(build_wall()):
            rows = conn.execute(expand(q.sql, ctx)).fetchall()  # type: ignore[call-overload]
            if not q.where.endswith(MAY_BE_EMPTY):
                assert rows, f"{q.where} shows nothing"
            if q.where.endswith("/ Open alerts / A"):
                assert alert["id"] in [r[0] for r in rows]
        states = dict(
            (r[0], r[6])
            for r in conn.execute(expand(map_sql(), ctx)).fetchall()  # type: ignore[call-overload]
        )
    assert states[alert["device_id"]] >= RANK[alert["severity"]]
    print(
        f"\nquickstart: data in all domains after {data_at:.1f}s, scenario alert "
        f"{alert.get('rule_name')!r} on {alert['device_id']} after {alert_at:.1f}s"
    )
