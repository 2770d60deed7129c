"""``python -m ingest``: run the MQTT → TimescaleDB ingest service until SIGTERM/SIGINT.

``--workers N`` runs N ingest processes under one supervisor, each a member of the same
shared-subscription group with its own client id (``<id>-<n>``) and persistent session.
paho parses MQTT in pure Python, so one process tops out at one core; workers are how
one machine uses its cores, exactly as replicas on several machines would.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType
from typing import Annotated
from urllib.parse import urlsplit, urlunsplit

import typer

from ingest.service import IngestService
from ioc import logs
from ioc.background import Failures
from ioc.config import Settings, load_settings
from ioc.console import DEBUG_HELP, run_app, version_option

cli = typer.Typer(add_completion=False)
log = logging.getLogger("ingest")


def _run_one(settings: Settings, metrics_port: int | None) -> None:
    """Run until SIGTERM/SIGINT; exit 1 when a worker thread died, so that the
    supervisor (compose ``restart:``, systemd ``Restart=``) starts a whole one again."""
    done = threading.Event()
    failures = Failures(done)
    service = IngestService(settings, metrics_port=metrics_port, on_fatal=failures)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    service.start()
    done.wait()
    service.stop()
    if failures.first is not None:
        log.critical("ingest exits: a worker thread died", extra={"worker": failures.first[0]})
        raise typer.Exit(1)


def worker_mqtt_url(url: str, index: int) -> str:
    """Worker ``index``'s broker URL: on a secured broker every account is bound to one
    client id, so worker n logs in as ``<user>-<n>`` (its client id is ``<id>-<n>``; the
    bootstrap's ``--service ingest=ACCOUNT:N`` makes those accounts, one password)."""
    parts = urlsplit(url)
    if not parts.username:
        return url
    user = f"{parts.username}-{index}"
    auth = f"{user}:{parts.password}" if parts.password is not None else user
    return urlunsplit(parts._replace(netloc=f"{auth}@{parts.netloc.rsplit('@', 1)[1]}"))


def _supervise(settings: Settings, workers: int, metrics_port: int | None) -> None:
    """Start the workers, restart one that dies, pass SIGTERM on and wait for them."""
    base_id = settings.ingest_client_id or f"ioc-ingest-{socket.gethostname()}"
    base_port = settings.ingest_metrics_port if metrics_port is None else metrics_port
    stopping = threading.Event()

    def spawn(index: int) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "IOC_INGEST_CLIENT_ID": f"{base_id}-{index}",
            "IOC_MQTT_URL": worker_mqtt_url(settings.mqtt_url, index),
            "IOC_INGEST_METRICS_PORT": str(base_port + index if base_port else 0),
        }
        return subprocess.Popen([sys.executable, "-m", "ingest"], env=env)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    procs = {i: spawn(i) for i in range(workers)}
    log.info("ingest workers started", extra={"workers": workers, "client_id": base_id})
    while not stopping.wait(1.0):
        for index, proc in list(procs.items()):
            if proc.poll() is not None:
                log.error(
                    "ingest worker exited; restarting it",
                    extra={"worker": index, "returncode": proc.returncode},
                )
                time.sleep(1.0)
                procs[index] = spawn(index)
    for proc in procs.values():
        proc.send_signal(signal.SIGTERM)
    for proc in procs.values():
        proc.wait()


@cli.command()
def serve(
    workers: int = typer.Option(1, min=1, help="ingest processes sharing the subscription"),
    metrics_port: int | None = typer.Option(
        None,
        help="Prometheus /metrics port on 127.0.0.1 (0: off; default"
        " IOC_INGEST_METRICS_PORT); worker n listens on port + n",
    ),
    version: Annotated[bool, version_option("python -m ingest")] = False,
    debug: Annotated[bool, typer.Option("--debug", help=DEBUG_HELP)] = False,
) -> None:
    """Store every telemetry reading exactly once; dead-letter what is bad, with its reason."""
    settings = load_settings()
    logs.configure(settings.log_level)
    if workers > 1:
        _supervise(settings, workers, metrics_port)
    else:
        _run_one(settings, metrics_port)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ingest; a setting or flag a person got wrong is one line (:mod:`ioc.console`)."""
    return run_app(cli, "python -m ingest", argv)


if __name__ == "__main__":
    sys.exit(main())
