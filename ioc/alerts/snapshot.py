"""What the engine reads from the database to (re)build its memory: the devices of its
partition with when each was last heard from, recent latest values, and a cheap
signature that tells when the rules changed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ioc.alerts.book import Device
from ioc.storage.db import Connection, translated
from ioc.telemetry.catalog import DOMAINS


@dataclass(frozen=True, slots=True)
class Partition:
    """The devices one engine replica evaluates: empty tuples mean "all"."""

    domains: tuple[str, ...] = DOMAINS
    districts: tuple[str, ...] = ()

    @classmethod
    def parse(cls, domains: str, districts: str) -> Partition:
        ds = tuple(d.strip() for d in domains.split(",") if d.strip()) or DOMAINS
        unknown = set(ds) - set(DOMAINS)
        if unknown:
            raise ValueError(f"unknown domains in IOC_ALERTS_DOMAINS: {sorted(unknown)}")
        return cls(ds, tuple(d.strip() for d in districts.split(",") if d.strip()))

    def admits(self, domain: str, district: str) -> bool:
        return domain in self.domains and (not self.districts or district in self.districts)


def load_devices(conn: Connection, partition: Partition) -> list[Device]:
    """Active devices of the partition. A device never heard from counts from its
    registration, so one that never sends anything is reported absent too."""
    with translated():
        rows = conn.execute(
            """SELECT d.device_id, d.domain, d.district,
                      greatest(l.seen, CASE WHEN d.online THEN d.status_at END, d.created_at),
                      d.online, d.status_at
               FROM devices d
               LEFT JOIN (SELECT device_id, max(time) AS seen FROM latest GROUP BY device_id) l
                 USING (device_id)
               WHERE d.decommissioned_at IS NULL AND d.domain = ANY(%s)""",
            (list(partition.domains),),
        ).fetchall()
    return [
        Device(
            str(r[0]),
            str(r[1]),
            str(r[2]),
            _ts(r[3]),
            None if r[4] is None else bool(r[4]),
            _ts(r[5]),
        )
        for r in rows
        if partition.admits(str(r[1]), str(r[2]))
    ]


def _ts(value: object) -> float | None:
    return value.timestamp() if isinstance(value, datetime) else None


def recent_latest(
    conn: Connection, device_ids: Sequence[str], since: datetime
) -> list[tuple[str, float, str, float]]:
    """(device, time, metric, value) of latest values newer than ``since``."""
    with translated():
        rows = conn.execute(
            "SELECT device_id, time, metric, value FROM latest"
            " WHERE device_id = ANY(%s) AND time > %s ORDER BY device_id, time",
            (list(device_ids), since),
        ).fetchall()
    return [(str(r[0]), r[1].timestamp(), str(r[2]), float(r[3])) for r in rows]


def rules_signature(conn: Connection) -> tuple[object, ...]:
    with translated():
        row = conn.execute("SELECT count(*), max(id), max(updated_at) FROM alert_rules").fetchone()
    return tuple(row or ())
