"""What the database can do, asked of the database itself.

TimescaleDB comes in two editions. The Apache edition (what Debian builds) has
hypertables, ``time_bucket`` and ``drop_chunks``; continuous aggregates, compression and
the policy/job scheduler need the Timescale License edition. Plain PostgreSQL has none
of them. The storage layer adapts to each and never assumes.
"""

from __future__ import annotations

from dataclasses import dataclass

from ioc.storage.db import Connection


@dataclass(frozen=True, slots=True)
class Features:
    #: The server has the extension's files and preloads its library (a prerequisite:
    #: creating the extension without it kills the session).
    timescaledb_loadable: bool
    timescaledb_version: str | None
    license: str | None

    @property
    def timescaledb(self) -> bool:
        """The extension is installed in this database."""
        return self.timescaledb_version is not None

    @property
    def tsl(self) -> bool:
        """Timescale License features: continuous aggregates, compression, policies, jobs."""
        return self.timescaledb and self.license == "timescale"

    @property
    def continuous_aggregates(self) -> bool:
        return self.tsl

    @property
    def compression(self) -> bool:
        return self.tsl

    @property
    def policies(self) -> bool:
        return self.tsl

    def describe(self) -> str:
        if not self.timescaledb:
            return "plain PostgreSQL (no TimescaleDB): rollups and retention kept by the IOC"
        if self.tsl:
            return (
                f"TimescaleDB {self.timescaledb_version} (full): continuous aggregates and policies"
            )
        return (
            f"TimescaleDB {self.timescaledb_version} ({self.license} edition): hypertables; "
            "rollups and retention kept by the IOC"
        )


def detect(conn: Connection) -> Features:
    row = conn.execute(
        """
        SELECT
          EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
            AND current_setting('shared_preload_libraries') ~ '(^|[ ,])timescaledb($|[ ,])',
          (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'),
          current_setting('timescaledb.license', true)
        """
    ).fetchone()
    assert row is not None
    loadable, version, license_ = row
    return Features(bool(loadable), version and str(version), license_ and str(license_))
