"""The package as a deployer gets it: build the wheel, install it into a fresh virtual
environment outside the checkout, and run every service from there.

The Dockerfile installs this same wheel, so what passes here is what the image runs:
the package must carry its own data (metric catalog, default rules, templates, static
files); nothing may be read from the checkout. To stay offline and quick, the fresh
environment gets the wheel alone (``--no-deps``) and sees the project's installed
dependencies through a path entry (the same effect as ``--system-site-packages``),
while the checkout itself stays off ``sys.path``: the editable install's hook is not
loaded there, and every command runs from a directory outside the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import tomllib
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from ioc.storage.registry import NewDevice, register_devices
from testkit.broker import Broker, free_port
from testkit.database import scratch_database
from testkit.mqtt import Publisher
from testkit.services import wait_for

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
SOURCES = ("pyproject.toml", "README.md", "ioc", "ingest", "devices", "dashboards")


@dataclass(frozen=True)
class Installed:
    venv: Path
    elsewhere: Path  # a working directory outside the checkout
    wheel: Path

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def env(self, **extra: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("IOC_", "PYTHON"))}
        return {**base, "PATH": f"{self.venv / 'bin'}:{base.get('PATH', '')}", **extra}

    def run(
        self, *args: str, timeout: float = 60, **extra: str
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(args),
            cwd=self.elsewhere,
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=timeout,
        )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("wheel")
    src = work / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    for name in SOURCES:  # what the Dockerfile copies, so the build sees the same tree
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=ignore)
        else:
            shutil.copy(ROOT / name, src / name)
    dist = work / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(dist), str(src)], check=True, timeout=300)
    (wheel,) = dist.glob("ioc-*.whl")

    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    target = venv / "bin" / "python"
    subprocess.run(
        [*pip, "--python", str(target), "install", "--no-deps", str(wheel)], check=True, timeout=300
    )
    purelib = subprocess.run(
        [str(target), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The dependencies, as installed for the project (a plain path: its .pth hooks,
    # among them the editable install of the checkout, are not run).
    Path(purelib, "project-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    return Installed(venv=venv, elsewhere=elsewhere, wheel=wheel)


def test_the_wheel_carries_the_data_the_code_reads(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    for data in (ROOT / "ioc").rglob("*"):
        if data.is_file() and data.suffix in {".toml", ".html", ".json", ".geojson", ".sql"}:
            assert data.relative_to(ROOT).as_posix() in names, f"{data} is not in the wheel"
    for static in (ROOT / "ioc" / "api" / "static").rglob("*"):
        if static.is_file():
            assert static.relative_to(ROOT).as_posix() in names, f"{static} is not in the wheel"
    assert "ioc/telemetry/catalog.toml" in names
    assert any(n.startswith("ioc/api/templates/") for n in names)
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    scripts = zipfile.ZipFile(installed.wheel).read(entry_points).decode()
    assert "ioc = ioc.cli:main" in scripts and "ioc-sim = devices.simulator.cli:main" in scripts


def test_imports_come_from_the_wheel_and_dependencies_are_met(installed: Installed) -> None:
    probe = installed.run(
        installed.python,
        "-c",
        "import json, ioc, ingest, devices, dashboards, importlib.metadata as m;"
        "from packaging.requirements import Requirement;"
        "reqs = [Requirement(r) for r in m.requires('ioc') if 'extra' not in r];"
        "bad = [str(r) for r in reqs if not r.specifier.contains(m.version(r.name), True)];"
        "print(json.dumps({'files': [p.__file__ for p in (ioc, ingest, devices, dashboards)],"
        " 'unmet': bad}))",
    )
    assert probe.returncode == 0, probe.stderr
    report = json.loads(probe.stdout)
    for path in report["files"]:
        assert Path(path).is_relative_to(installed.venv), f"{path} is not the installed copy"
    assert report["unmet"] == []


def test_console_scripts_print_the_version(installed: Installed) -> None:
    for script in ("ioc", "ioc-sim"):
        done = installed.run(str(installed.venv / "bin" / script), "--version")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"{script} {VERSION}"


def test_simulator_dry_run_and_dashboards_check(installed: Installed) -> None:
    dry = installed.run(
        installed.python, "-m", "devices.simulator", "--dry-run", "--per-domain", "1",
        "--duration", "20",
    )  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    lines = [json.loads(line) for line in dry.stdout.splitlines()]
    assert len(lines) > 4 and all(line["topic"].startswith("ioc/v1/") for line in lines)

    shutil.copytree(ROOT / "deploy" / "grafana", installed.elsewhere / "deploy" / "grafana")
    check = installed.run(installed.python, "-m", "dashboards", "check")
    assert check.returncode == 0, check.stderr
    assert "up to date" in check.stdout


@contextmanager
def _service(installed: Installed, log: Path, *args: str, **env: str) -> Iterator[Path]:
    """``python -m ARGS`` from the installed package, stopped afterwards; yields its log."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            [installed.python, "-m", *args],
            cwd=installed.elsewhere,
            env=installed.env(**env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield log
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""
    except OSError:
        return 0, ""


def test_services_run_from_the_wheel(installed: Installed, broker: Broker, tmp_path: Path) -> None:
    token = f"wheel-{time.monotonic_ns()}"
    with scratch_database(migrated=False) as url:
        migrated = installed.run(installed.python, "-m", "ioc", "migrate", IOC_DATABASE_URL=url)
        assert migrated.returncode == 0, migrated.stderr
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT to_regclass('readings')").fetchone() != (None,)
            register_devices(conn, [NewDevice(token, "traffic", district="central")])

        common = {"IOC_DATABASE_URL": url, "IOC_MQTT_URL": broker.url}
        port = free_port()
        with (
            _service(installed, tmp_path / "api.log", "ioc", "api", "--port", str(port), **common),
            _service(
                installed,
                tmp_path / "ingest.log",
                "ingest",
                IOC_INGEST_METRICS_PORT="0",
                IOC_INGEST_CLIENT_ID=token,
                IOC_INGEST_GROUP=token,
                **common,
            ),  # fmt: skip
            _service(
                installed,
                tmp_path / "alerts.log",
                "ioc",
                "alerts",
                IOC_ALERTS_METRICS_PORT="0",
                IOC_ALERTS_CLIENT_ID=token,
                **common,
            ) as alerts_log,  # fmt: skip
        ):
            api = f"http://127.0.0.1:{port}"
            wait_for(lambda: _get(f"{api}/health")[0] == 200, timeout=30)
            assert _get(f"{api}/ready")[0] == 200
            status, page = _get(f"{api}/ui/login")
            assert status == 200 and 'name="key"' in page  # rendered from the wheel's templates
            # The console's assets and the offline /docs come from the wheel too.
            status, script = _get(f"{api}/static/vendor/leaflet/leaflet.js")
            assert status == 200 and "Leaflet" in script
            status, docs = _get(f"{api}/docs")
            assert status == 200 and "/static/vendor/swagger-ui-dist/" in docs

            # Ingest subscribes in its own time: publish until a reading is stored.
            topic = f"ioc/v1/traffic/{token}/telemetry"
            with Publisher(broker.url) as device, psycopg.connect(url, autocommit=True) as db:

                def stored() -> int:
                    now = datetime.now(UTC).isoformat()
                    device.send(topic, {"ts": now, "readings": {"vehicle_count": 7}})
                    row = db.execute(
                        "SELECT count(*) FROM readings WHERE device_id = %s", (token,)
                    ).fetchone()
                    return int(row[0]) if row else 0

                assert wait_for(stored, timeout=30, interval=0.5) >= 1

            wait_for(lambda: "alert engine started" in alerts_log.read_text(), timeout=30)
