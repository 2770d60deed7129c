"""A private Mosquitto for a test: the project's own configuration, a free port, its own
state directory, so tests never share a broker (or a shared subscription) with anything.

It runs the build that deploy/local/infra.sh installs (Mosquitto 2.1 with the
persist-sqlite plugin, docs/broker.md), never whatever ``mosquitto`` is on PATH: Debian
12's 2.0.11 loses shared subscriptions across a restart, and the tests must see the
broker the project runs."""

from __future__ import annotations

import getpass
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONF_TEMPLATE = ROOT / "deploy" / "mosquitto" / "ioc.conf.in"
MOSQUITTO_HOME = Path(os.environ.get("IOC_MOSQUITTO_HOME", "/opt/ioc-mosquitto/current"))
MOSQUITTO = MOSQUITTO_HOME / "sbin" / "mosquitto"
PLUGIN_DIR = MOSQUITTO_HOME / "lib"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class Broker:
    """Start, stop, kill and restart one Mosquitto process on loopback."""

    def __init__(self, state_dir: Path, auth: str = "allow_anonymous true") -> None:
        self.state_dir = state_dir
        self.port = free_port()
        self.auth = auth
        self.process: subprocess.Popen[bytes] | None = None
        state_dir.mkdir(parents=True, exist_ok=True)
        self.conf = state_dir / "mosquitto.conf"
        self.conf.write_text(
            CONF_TEMPLATE.read_text()
            .replace("@PORT@", str(self.port))
            .replace("@STATE_DIR@", str(state_dir))
            .replace("@USER@", getpass.getuser())
            .replace("@AUTH@", auth)
            .replace("@PLUGIN_DIR@", str(PLUGIN_DIR))
        )

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> Broker:
        if not mosquitto_available():
            raise RuntimeError(f"{MOSQUITTO} is not installed: run deploy/local/infra.sh")
        self.process = subprocess.Popen(
            [str(MOSQUITTO), "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """SIGTERM saves the persistence file; SIGKILL is a crash."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=10)
        self.process = None

    def restart(self, sig: int = signal.SIGTERM) -> None:
        """A clean restart (SIGTERM), or a crash and a start (SIGKILL)."""
        self.stop(sig)
        self.start()

    def log(self) -> str:
        path = self.state_dir / "mosquitto.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def mosquitto_available() -> bool:
    return os.access(MOSQUITTO, os.X_OK) and os.path.exists(CONF_TEMPLATE)
