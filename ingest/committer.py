"""The database side of a batch: plan it against the registry, write it in one
transaction (readings, latest values, rollup bookkeeping, dead letters, statuses and
their events), or dead-letter one message the database itself refuses.

Errors arrive translated (:func:`ioc.storage.db.translated`): ``Unavailable`` means
retry the batch, ``InvalidInput`` means the data is at fault, ``RetryableConflict``
means another writer got in the way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ingest.batch import BatchPlan, dead_letter, device_of_topic, duplicate_letters, plan_batch
from ingest.registry_cache import RegistryCache
from ioc.errors import InvalidInput
from ioc.mqtt.types import Delivery
from ioc.storage import events
from ioc.storage.db import Connection, connect, translated
from ioc.storage.readings import ReadingWriter
from ioc.storage.registry import apply_status
from ioc.telemetry.decoder import DecodePolicy
from ioc.types import Rejection, RejectReason


@dataclass(frozen=True, slots=True)
class Outcome:
    inserted: int
    dead_letters: int
    duplicates: int
    redelivered: int


class Committer:
    def __init__(self, database_url: str, policy: DecodePolicy) -> None:
        self.database_url = database_url
        self.policy = policy
        self.registry = RegistryCache()
        self._conn: Connection | None = None
        self._writer: ReadingWriter | None = None

    def connection(self) -> Connection:
        if self._conn is None or self._conn.closed:
            self._conn = connect(self.database_url, application_name="ioc-ingest")
            self._writer = ReadingWriter(ReadingWriter.rollups_maintained(self._conn))
            self._conn.commit()
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def plan(self, batch: Sequence[Delivery]) -> BatchPlan:
        """Decode the batch; a device unknown to the cache is looked up once."""
        conn = self.connection()
        with translated():
            if self.registry.due():
                self.registry.refresh(conn)
                conn.commit()
            plan = plan_batch(batch, self.registry.lookup, self.policy)
            unknown = {
                d.device_id
                for d in plan.dead_letters
                if d.reason is RejectReason.UNKNOWN_DEVICE and d.device_id
            }
            if unknown:
                found = self.registry.fill(conn, unknown)
                conn.commit()
                if found:
                    plan = plan_batch(batch, self.registry.lookup, self.policy)
        return plan

    def commit(self, batch: Sequence[Delivery], plan: BatchPlan) -> Outcome:
        """One transaction: readings, latest, rollups, dead letters, statuses, events."""
        conn = self.connection()
        assert self._writer is not None
        with translated(), conn.transaction():
            result = self._writer.write(conn, plan.readings)
            duplicates = dict(plan.in_batch_duplicates)
            for index, count in result.duplicates.items():
                duplicates[index] = duplicates.get(index, 0) + count
            letters, redelivered = duplicate_letters(batch, duplicates)
            self._writer.write_dead_letters(conn, plan.dead_letters + letters)
            for update in apply_status(conn, plan.statuses):
                events.publish(
                    conn,
                    "device.online" if update.online else "device.offline",
                    {
                        "device_id": update.device_id,
                        "domain": update.domain,
                        "ts": update.ts.isoformat(),
                    },
                )
        return Outcome(
            inserted=result.inserted,
            dead_letters=len(plan.dead_letters) + len(letters),
            duplicates=sum(letter.count for letter in letters),
            redelivered=redelivered,
        )

    def refuse(self, msg: Delivery, exc: InvalidInput) -> None:
        """Dead-letter one message the database would not take (raises IOCError when
        even that fails)."""
        why = Rejection(RejectReason.INVALID_PAYLOAD, f"the database refused it: {exc.detail}")
        letter = dead_letter(msg, device_of_topic(msg.topic), RejectReason.INVALID_PAYLOAD, [why])
        conn = self.connection()
        with translated(), conn.transaction():
            ReadingWriter.write_dead_letters(conn, [letter])
