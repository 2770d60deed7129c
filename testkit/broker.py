"""A private Mosquitto for a test: the project's own configuration, a free port, its own
state directory, so tests never share a broker (or a shared subscription) with anything.

It runs the build that deploy/local/infra.sh installs (Mosquitto 2.1 with the
persist-sqlite plugin, docs/broker.md), never whatever ``mosquitto`` is on PATH: Debian
12's 2.0.11 loses shared subscriptions across a restart, and the tests must see the
broker the project runs, with the retain-guard plugin that the same script builds."""

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
TLS_TEMPLATE = ROOT / "deploy" / "mosquitto" / "tls.listener.in"
DYNSEC_AUTH = ROOT / "deploy" / "mosquitto" / "dynsec.auth.in"
MOSQUITTO_HOME = Path(os.environ.get("IOC_MOSQUITTO_HOME", "/opt/ioc-mosquitto/current"))
MOSQUITTO = MOSQUITTO_HOME / "sbin" / "mosquitto"
PLUGIN_DIR = MOSQUITTO_HOME / "lib"
#: The project's own plugin (deploy/mosquitto/plugins), which ioc.conf.in loads: no
#: retained PUBLISH under ioc/v1/ except on status. infra.sh builds it beside the others.
RETAIN_GUARD = PLUGIN_DIR / "ioc_retain_guard.so"


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


def tls_listener(port: int, tls_dir: Path, bind: str = "127.0.0.1") -> str:
    """The shipped TLS listener block for ``port``, with the certificates in ``tls_dir``."""
    return (
        TLS_TEMPLATE.read_text()
        .replace("@TLS_PORT@", str(port))
        .replace("@TLS_BIND@", bind)
        .replace("@TLS_DIR@", str(tls_dir))
    )


def dynsec_auth(state_dir: Path, admin: str, password: str) -> str:
    """The shipped dynamic-security block, with a new plugin file whose admin is given."""
    state_dir.mkdir(parents=True, exist_ok=True)
    dynsec_file = state_dir / "dynamic-security.json"
    ctrl = str(MOSQUITTO_HOME / "bin" / "mosquitto_ctrl")
    subprocess.run(
        [ctrl, "dynsec", "init", str(dynsec_file), admin, password],
        check=True,
        capture_output=True,
    )
    return (
        DYNSEC_AUTH.read_text()
        .replace("@DYNSEC_FILE@", str(dynsec_file))
        .replace("@PLUGIN_DIR@", str(PLUGIN_DIR))
    )


class Broker:
    """Start, stop, kill and restart one Mosquitto process on loopback.

    With ``tls_dir`` (certificates from :func:`ioc.broker_admin.certs.ensure`) it also
    listens with TLS on :attr:`tls_port` (:attr:`tls_url`)."""

    def __init__(
        self, state_dir: Path, auth: str = "allow_anonymous true", tls_dir: Path | None = None
    ) -> None:
        self.state_dir = state_dir
        self.port = free_port()
        self.tls_port = free_port() if tls_dir is not None else None
        self.tls_dir = tls_dir
        self.auth = auth
        self.process: subprocess.Popen[bytes] | None = None
        state_dir.mkdir(parents=True, exist_ok=True)
        self.conf = state_dir / "mosquitto.conf"
        tls = (
            "" if tls_dir is None or self.tls_port is None else tls_listener(self.tls_port, tls_dir)
        )
        self.conf.write_text(
            CONF_TEMPLATE.read_text()
            .replace("@TLS_LISTENER@", tls)
            .replace("@PORT@", str(self.port))
            .replace("@STATE_DIR@", str(state_dir))
            .replace("@USER@", getpass.getuser())
            .replace("@AUTH@", auth)
            .replace("@PLUGIN_DIR@", str(PLUGIN_DIR))
        )

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        if self.tls_port is None:
            raise RuntimeError("this broker has no TLS listener (tls_dir=None)")
        return f"mqtts://localhost:{self.tls_port}"

    def start(self) -> Broker:
        if not mosquitto_available():
            raise RuntimeError(
                f"{MOSQUITTO} or {RETAIN_GUARD.name} is not installed: run deploy/local/infra.sh"
            )
        self.process = subprocess.Popen(
            [str(MOSQUITTO), "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        if self.tls_port is not None:
            wait_for_port(self.tls_port)
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
    return os.access(MOSQUITTO, os.X_OK) and RETAIN_GUARD.exists() and CONF_TEMPLATE.exists()
