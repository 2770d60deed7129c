"""``python -m ioc alerts``: the engine and the outbox drainer in one process.

The drainer delivers to every target the settings configure (webhook, Grafana, the
GOC); it can run in any number of processes, since rows are claimed with SKIP LOCKED.
Signals are handled here, at the entry point only: tests drive
:class:`~ioc.alerts.engine.AlertEngine` and :class:`~ioc.outbox.drainer.Drainer`
directly and stop them without signals.
"""

from __future__ import annotations

import logging
import signal
import threading

from prometheus_client import start_http_server

from ioc.alerts.engine import AlertEngine
from ioc.config import Settings
from ioc.outbox.drainer import Drainer
from ioc.outbox.targets import targets_from_settings

log = logging.getLogger("ioc.alerts")


def run(settings: Settings, stop: threading.Event | None = None) -> None:
    """Run until ``stop`` is set (or SIGTERM/SIGINT when none is given)."""
    if stop is None:
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    engine = AlertEngine(settings)
    drainer = Drainer(settings.database_url, targets_from_settings(settings))
    engine.start()  # migrates first
    drainer.declare_routes()
    drainer.start()
    if settings.alerts_metrics_port:
        start_http_server(settings.alerts_metrics_port, registry=engine.metrics.registry)
    log.info(
        "alerts service running",
        extra={
            "domains": list(engine.partition.domains),
            "districts": list(engine.partition.districts),
            "targets": sorted(drainer.targets),
        },
    )
    try:
        stop.wait()
    finally:
        engine.stop()
        drainer.stop()
