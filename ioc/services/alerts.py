"""``python -m ioc alerts``: the engine, the outbox drainer and the GOC report schedule
in one process.

The drainer delivers to every target the settings configure (webhook, Grafana, the
GOC); it can run in any number of processes, since rows are claimed with SKIP LOCKED.
The report schedule runs in every replica under a database lock
(:mod:`ioc.goc.schedule`): each period is enqueued once, and missed ones are caught up.

No failure stops the service silently: a background thread that dies sets the stop
event, the others are stopped, and :func:`run` exits the process with status 1, so
the supervisor (compose ``restart:``, systemd ``Restart=``) starts it afresh.
``/metrics`` shows every worker (``ioc_worker_up``), outages and retries.

Signals are handled here, at the entry point only: tests drive
:class:`~ioc.alerts.engine.AlertEngine` and :class:`~ioc.outbox.drainer.Drainer`
directly and stop them without signals.
"""

from __future__ import annotations

import logging
import signal
import threading
from functools import partial

import httpx
from prometheus_client import start_http_server

from ioc.alerts.engine import AlertEngine
from ioc.background import Failures
from ioc.config import Settings
from ioc.goc import schedule
from ioc.goc.target import make_target
from ioc.outbox import store as outbox_store
from ioc.outbox.drainer import Drainer, Target
from ioc.outbox.targets import TIMEOUT, GrafanaTarget, WebhookTarget
from ioc.storage.db import connect
from ioc.types import ALERT_EVENT_KINDS, EventKind

log = logging.getLogger("ioc.alerts")

#: The outbox target of incident escalations when ``IOC_INCIDENT_WEBHOOK_URL`` is set.
INCIDENTS = "incidents"
ESCALATION_KINDS: tuple[EventKind, ...] = ("incident.escalated",)


def targets_from_settings(settings: Settings, client: httpx.Client | None = None) -> list[Target]:
    """Every target the settings configure: webhook, Grafana, and the GOC connector."""
    http = client or httpx.Client(timeout=TIMEOUT)
    out: list[Target] = []
    if settings.alerts_webhook_url:
        out.append(WebhookTarget(settings.alerts_webhook_url, http))
    if settings.incident_webhook_url:
        out.append(WebhookTarget(settings.incident_webhook_url, http, name=INCIDENTS))
    if settings.alerts_grafana_url:
        token = settings.alerts_grafana_token
        out.append(
            GrafanaTarget(
                settings.alerts_grafana_url, token.get_secret_value() if token else None, http
            )
        )
    goc = make_target(settings, http)
    if goc is not None:
        out.append(goc)
    return out


def declare_escalation_route(settings: Settings) -> None:
    """Route incident escalations to a webhook: the incidents webhook if one is set,
    else the alerts webhook (whose new route then takes escalations beside alerts).
    Routes that exist are left as configured; the drainer declares the rest after."""
    if settings.incident_webhook_url:
        target, kinds = INCIDENTS, ESCALATION_KINDS
    elif settings.alerts_webhook_url:
        target, kinds = "webhook", (*ALERT_EVENT_KINDS, *ESCALATION_KINDS)
    else:
        return
    with connect(settings.database_url, autocommit=True) as conn:
        outbox_store.declare_routes(conn, [target], "info", kinds)


def run(settings: Settings, stop: threading.Event | None = None) -> None:
    """Run until ``stop`` is set (or SIGTERM/SIGINT when none is given); raises
    ``SystemExit(1)`` after shutting down when a background thread died."""
    if stop is None:
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    failures = Failures(stop)
    engine = AlertEngine(settings, on_fatal=failures)
    workers = engine.metrics.workers
    drainer = Drainer(
        settings.database_url,
        targets_from_settings(settings),
        metrics=workers,
        on_fatal=failures,
    )
    reports = schedule.worker(
        schedule.ReportScheduler(settings.center_id, settings.goc_report_interval_s),
        partial(connect, settings.database_url, application_name="ioc-goc-schedule"),
        every_s=min(30.0, settings.goc_report_interval_s / 4),
        metrics=workers,
        on_fatal=failures,
    )
    engine.start()  # migrates first
    declare_escalation_route(settings)
    drainer.declare_routes()
    drainer.start()
    reports.start()
    if settings.alerts_metrics_port:
        start_http_server(
            settings.alerts_metrics_port,
            addr=settings.alerts_metrics_host,
            registry=engine.metrics.registry,
        )
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
        reports.stop()
        engine.stop()
        drainer.stop()
    if failures.first is not None:
        log.critical(
            "alerts service exits: a worker thread died", extra={"worker": failures.first[0]}
        )
        raise SystemExit(1)
