"""Background upkeep a service runs beside its main loop, on a connection of its own:
refreshing the rollups the database does not maintain itself, and enforcing retention
where it has no policies. Both take cluster-wide advisory locks, so any number of
replicas may run this; one does the work at a time.

It runs as its own :class:`~ioc.background.Worker` so that neither job waits for an idle
moment of the service (a busy city never gives ingest one) nor holds up its batches; a
database outage is logged once when it starts and once when it ends.
"""

from __future__ import annotations

import logging

from ioc.background import Backoff, Fatal, Worker, WorkerMetrics
from ioc.config import Settings
from ioc.errors import Unavailable
from ioc.storage.db import Connection, connect
from ioc.storage.maintenance import Maintenance
from ioc.storage.rollups import refresh

log = logging.getLogger("ioc.housekeeping")


class Housekeeping:
    def __init__(
        self,
        settings: Settings,
        retention_first_after_s: float = 60.0,
        *,
        metrics: WorkerMetrics | None = None,
        on_fatal: Fatal | None = None,
    ) -> None:
        self.settings = settings
        self.interval_s = settings.rollup_refresh_s
        self._retention = Maintenance(settings, first_after_s=retention_first_after_s)
        self._conn: Connection | None = None
        self._first = True
        self.worker = Worker(
            "housekeeping",
            self._step,
            log=log,
            metrics=metrics,
            backoff=Backoff(base_s=1.0, cap_s=max(self.interval_s, 1.0)),
            on_fatal=on_fatal,
            final=self._final,
        )

    def start(self) -> None:
        self.worker.start()

    def stop(self) -> None:
        self.worker.stop(30)

    def _step(self) -> float:
        if self._first:  # the first round after an interval, as before
            self._first = False
            return self.interval_s
        self.round()
        return self.interval_s

    def _final(self) -> None:
        self.run_once()  # what the last batches invalidated
        self.stop_connection()

    def stop_connection(self) -> None:
        """Close the connection (the worker does this itself when stopped)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.settings.database_url, application_name="ioc-upkeep")
        return self._conn

    def _maybe_connection(self) -> Connection | None:
        try:
            return self._connection()
        except Unavailable:
            return None

    def round(self) -> None:
        """Refresh, then retention when due; Unavailable when the database is down."""
        conn = self._connection()
        try:
            written = refresh(conn)
        except Unavailable:
            self.stop_connection()
            raise
        if written and any(written):
            log.debug("rollups refreshed", extra={"minute": written[0], "hour": written[1]})
        self._retention.maybe_run(self._maybe_connection)

    def run_once(self) -> None:
        """One round now; an outage postpones it (logged by the worker, not here)."""
        try:
            self.round()
        except Unavailable as exc:
            log.info("housekeeping round postponed", extra={"error": str(exc)})
