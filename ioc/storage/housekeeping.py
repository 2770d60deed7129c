"""Background upkeep a service runs beside its main loop, on a connection of its own:
refreshing the rollups the database does not maintain itself, and enforcing retention
where it has no policies. Both take cluster-wide advisory locks, so any number of
replicas may run this; one does the work at a time.

It runs in its own thread so that neither job waits for an idle moment of the service
(a busy city never gives ingest one) nor holds up its batches.
"""

from __future__ import annotations

import logging
import threading

from ioc.config import Settings
from ioc.errors import Unavailable
from ioc.storage.db import Connection, connect
from ioc.storage.maintenance import Maintenance
from ioc.storage.rollups import refresh

log = logging.getLogger("ioc.housekeeping")


class Housekeeping:
    def __init__(self, settings: Settings, retention_first_after_s: float = 60.0) -> None:
        self.settings = settings
        self.interval_s = settings.rollup_refresh_s
        self._retention = Maintenance(settings, first_after_s=retention_first_after_s)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="housekeeping", daemon=True)
        self._conn: Connection | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.run_once()
        self.run_once()  # what the last batches invalidated
        self.stop_connection()

    def stop_connection(self) -> None:
        """Close the connection (the thread does this itself when stopped)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connection(self) -> Connection | None:
        try:
            if self._conn is None or self._conn.closed:
                self._conn = connect(self.settings.database_url, application_name="ioc-upkeep")
            return self._conn
        except Unavailable:
            return None

    def run_once(self) -> None:
        conn = self._connection()
        if conn is None:
            return
        try:
            written = refresh(conn)
            if written and any(written):
                log.debug("rollups refreshed", extra={"minute": written[0], "hour": written[1]})
        except Unavailable as exc:
            log.warning("rollup refresh postponed: database unavailable", extra={"error": str(exc)})
            conn.close()
            self._conn = None
            return
        self._retention.maybe_run(self._connection)
