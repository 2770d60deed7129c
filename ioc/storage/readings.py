"""Write a batch of decoded messages in one transaction.

The batch is COPYed (binary) into a per-connection staging table, then moved into
``readings`` with ``ON CONFLICT DO NOTHING``; the same statement upserts the latest
values and, where the database does not keep the rollups itself, logs which device and
time range the rollups must recompute (:mod:`ioc.storage.rollups`), all from the rows
that were really inserted. Rows that were already stored come back as duplicates, per
message, so each can be dead-lettered with its reason. The caller commits, and only then
acknowledges the messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

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


class ReadingWriter:
    """Writes batches through one connection; knows whether it keeps the rollups."""

    def __init__(self, maintain_rollups: bool) -> None:
        self._move = _move_statement(maintain_rollups)

    @staticmethod
    def rollups_maintained(conn: Connection) -> bool:
        row = conn.execute(
            "SELECT value FROM storage_settings WHERE key = 'rollup_mode'"
        ).fetchone()
        return row is None or row[0] == "maintained"

    def write(self, conn: Connection, readings: Sequence[tuple[Reading, int]]) -> WriteResult:
        """Stage ``(reading, message index)`` pairs and move them; inside the caller's
        transaction. Keys must be unique within the batch (see :func:`dedupe`)."""
        result = WriteResult()
        if not readings:
            return result
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


def dedupe(
    readings: Sequence[tuple[Reading, int]],
) -> tuple[list[tuple[Reading, int]], dict[int, int]]:
    """Keep the first reading of each (device, metric, time); count the rest per message."""
    seen: set[tuple[str, str, datetime]] = set()
    kept: list[tuple[Reading, int]] = []
    dropped: dict[int, int] = {}
    for reading, msg in readings:
        key = (reading.device_id, reading.metric, reading.time)
        if key in seen:
            dropped[msg] = dropped.get(msg, 0) + 1
        else:
            seen.add(key)
            kept.append((reading, msg))
    return kept, dropped
