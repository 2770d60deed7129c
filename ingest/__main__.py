"""``python -m ingest``: run the MQTT → TimescaleDB ingest service until SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import typer

from ingest.service import IngestService
from ioc import logs
from ioc.config import Settings

cli = typer.Typer(add_completion=False)


@cli.command()
def main(
    metrics_port: int | None = typer.Option(
        None, help="Prometheus /metrics port on 127.0.0.1 (0: off; default IOC_INGEST_METRICS_PORT)"
    ),
) -> None:
    """Store every telemetry reading exactly once; dead-letter what is bad, with its reason."""
    settings = Settings()
    logs.configure(settings.log_level)
    service = IngestService(settings, metrics_port=metrics_port)
    done = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    service.start()
    done.wait()
    service.stop()


if __name__ == "__main__":
    cli()
