"""Write a batch of decoded messages in one transaction.

The fast way first: the batch is COPYed (binary) straight into ``readings`` inside a
savepoint, and the latest values and, where the database does not keep the rollups
itself, the rollup invalidations (:mod:`ioc.storage.rollups`: per device and metric,
the time range inserted) follow from the batch as computed here, one row per device
and metric. Should any row already be stored (a redelivery, a device repeating itself)
the COPY fails on the unique key, the savepoint is rolled back, and the batch takes the
staging path: COPY into a per-connection temporary table, then one statement moves it
with ``ON CONFLICT DO NOTHING`` and upserts, logs and reports (per message) from the
rows really inserted, so each duplicate can be dead-lettered with its reason. Either
way the caller commits, and only then acknowledges the messages.

Rows of ``latest`` are upserted in (device, metric) order, the same order in every
writer, so that two ingest processes never wait on each other in a cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import psycopg.errors
from psycopg import Cursor

from ioc.storage.db import Connection
from ioc.types import Reading, RejectReason

_STAGE = "ingest_stage"
_STAGE_DDL = f"""CREATE TEMP TABLE IF NOT EXISTS {_STAGE} (
                   time timestamptz NOT NULL,
                   device_id text NOT NULL,
                   metric text NOT NULL,
                   value double precision NOT NULL,
                   msg integer NOT NULL) ON COMMIT DELETE ROWS"""

_INVALIDATE = """
  inv AS (
    INSERT INTO rollup_invalidations (device_id, metric, lo, hi)
    SELECT device_id, metric, min(time), max(time) FROM ins GROUP BY device_id, metric
  ),"""


def _move_statement(maintain_rollups: bool) -> str:
    rollups = _INVALIDATE if maintain_rollups else ""
    return f"""
WITH ins AS (
    INSERT INTO readings (time, device_id, metric, value)
    SELECT time, device_id, metric, value FROM {_STAGE} ORDER BY device_id, metric, time
    ON CONFLICT DO NOTHING
    RETURNING time, device_id, metric, value
),
  lat AS (
    INSERT INTO latest (device_id, metric, time, value)
    SELECT DISTINCT ON (device_id, metric) device_id, metric, time, value
    FROM ins ORDER BY device_id, metric, time DESC
    ON CONFLICT (device_id, metric) DO UPDATE SET time = excluded.time, value = excluded.value
    WHERE latest.time < excluded.time
  ),{rollups}
  done AS (SELECT 1)
SELECT s.msg, count(*)::int
FROM {_STAGE} s LEFT JOIN ins
  ON ins.device_id = s.device_id AND ins.metric = s.metric AND ins.time = s.time
WHERE ins.time IS NULL
GROUP BY s.msg"""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One dead-letter row: a reason a message (or part of it) was refused."""

    received_at: datetime
    topic: str
    device_id: str | None
    reason: RejectReason
    count: int
    detail: str
    payload: bytes | None
    payload_bytes: int


@dataclass(slots=True)
class WriteResult:
    inserted: int = 0
    #: message index → readings of it that were already stored
    duplicates: dict[int, int] = field(default_factory=dict)


_COPY_READINGS = "COPY readings (time, device_id, metric, value) FROM STDIN (FORMAT BINARY)"
_READING_TYPES = ["timestamptz", "text", "text", "float8"]

#: A batch's newest reading and oldest time per device and metric, COPYed (binary):
#: COPY costs about a microsecond a row where array parameters cost six.
_SPANS = "ingest_spans"
_SPANS_DDL = f"""CREATE TEMP TABLE IF NOT EXISTS {_SPANS} (
                   device_id text NOT NULL,
                   metric text NOT NULL,
                   time timestamptz NOT NULL,
                   value double precision NOT NULL,
                   lo timestamptz NOT NULL) ON COMMIT DELETE ROWS"""
_SPAN_TYPES = ["text", "text", "timestamptz", "float8", "timestamptz"]

_UPSERT_LATEST = f"""
INSERT INTO latest (device_id, metric, time, value)
SELECT device_id, metric, time, value FROM {_SPANS} ORDER BY device_id, metric
ON CONFLICT (device_id, metric) DO UPDATE SET time = excluded.time, value = excluded.value
WHERE latest.time < excluded.time"""

_LOG_INVALIDATIONS = f"""
INSERT INTO rollup_invalidations (device_id, metric, lo, hi)
SELECT device_id, metric, lo, time FROM {_SPANS}"""


class ReadingWriter:
    """Writes batches through one connection; knows whether it keeps the rollups."""

    def __init__(self, maintain_rollups: bool) -> None:
        self._maintain_rollups = maintain_rollups
        self._move = _move_statement(maintain_rollups)

    @staticmethod
    def rollups_maintained(conn: Connection) -> bool:
        row = conn.execute(
            "SELECT value FROM storage_settings WHERE key = 'rollup_mode'"
        ).fetchone()
        return row is None or row[0] == "maintained"

    def write(self, conn: Connection, readings: Sequence[tuple[Reading, int]]) -> WriteResult:
        """Write ``(reading, message index)`` pairs inside the caller's transaction.
        Keys must be unique within the batch (ingest's plan makes them so)."""
        if not readings:
            return WriteResult()
        try:
            with conn.transaction(), conn.cursor() as cur:  # a savepoint
                with cur.copy(_COPY_READINGS) as copy:
                    copy.set_types(_READING_TYPES)
                    for reading, _ in readings:
                        copy.write_row(reading)
                self._follow(cur, readings)
        except psycopg.errors.UniqueViolation:
            return self._write_staged(conn, readings)
        return WriteResult(inserted=len(readings))

    def _follow(self, cur: Cursor, readings: Sequence[tuple[Reading, int]]) -> None:
        """Latest values and rollup invalidations of a batch stored whole: one row per
        device and metric (its newest reading, and the oldest one's time)."""
        newest: dict[tuple[str, str], Reading] = {}
        oldest: dict[tuple[str, str], datetime] = {}
        for reading, _ in readings:
            key = (reading.device_id, reading.metric)
            seen = newest.get(key)
            if seen is None:
                newest[key] = reading
                oldest[key] = reading.time
            elif reading.time > seen.time:
                newest[key] = reading
            elif reading.time < oldest[key]:
                oldest[key] = reading.time
        cur.execute(_SPANS_DDL)  # once per connection; a no-op after that
        with cur.copy(f"COPY {_SPANS} FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(_SPAN_TYPES)
            for key, reading in newest.items():
                copy.write_row((*key, reading.time, reading.value, oldest[key]))
        cur.execute(_UPSERT_LATEST)
        if self._maintain_rollups:
            cur.execute(_LOG_INVALIDATIONS)
        cur.execute(f"DELETE FROM {_SPANS}")  # ON COMMIT clears it too

    def _write_staged(
        self, conn: Connection, readings: Sequence[tuple[Reading, int]]
    ) -> WriteResult:
        """The path for a batch with rows already stored: stage, move what is new,
        report the rest per message."""
        result = WriteResult()
        with conn.cursor() as cur:
            cur.execute(_STAGE_DDL)  # once per connection; a no-op after that
            with cur.copy(
                f"COPY {_STAGE} (time, device_id, metric, value, msg) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["timestamptz", "text", "text", "float8", "int4"])
                for reading, msg in readings:
                    copy.write_row((*reading, msg))
            cur.execute(self._move)
            for msg, count in cur.fetchall():
                result.duplicates[int(msg)] = int(count)
            # ON COMMIT clears it too; this keeps two writes in one transaction apart
            cur.execute(f"DELETE FROM {_STAGE}")
        result.inserted = len(readings) - sum(result.duplicates.values())
        return result

    @staticmethod
    def write_dead_letters(conn: Connection, letters: Sequence[DeadLetter]) -> None:
        if not letters:
            return
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY dead_letters (received_at, topic, device_id, reason, count, detail,"
                " payload, payload_bytes) FROM STDIN"
            ) as copy,
        ):
            for d in letters:
                copy.write_row(
                    (
                        d.received_at,
                        d.topic,
                        d.device_id,
                        d.reason.value,
                        d.count,
                        d.detail,
                        d.payload,
                        d.payload_bytes,
                    )
                )
