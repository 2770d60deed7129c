"""What the engine reads from the database to (re)build its memory: the devices of its
partition with when each was last heard from, recent latest values, and a cheap
signature that tells when the rules changed. Each read goes through its table's owner
(:mod:`ioc.storage.registry`, :mod:`ioc.storage.series`, :mod:`ioc.alerts.rules`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ioc.alerts.book import Device
from ioc.alerts.rules import rules_signature
from ioc.storage import registry, series
from ioc.storage.db import Connection, translated
from ioc.telemetry.topics import CHANNELS, PREFIX
from ioc.types import DOMAINS

__all__ = ["Partition", "load_devices", "recent_latest", "rules_signature"]


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

    def topics(self) -> list[tuple[str, int]]:
        """The telemetry and status filters of its domains, at QoS 1."""
        return [(f"{PREFIX}/{d}/+/{channel}", 1) for d in self.domains for channel in CHANNELS]


def load_devices(conn: Connection, partition: Partition) -> list[Device]:
    """Active devices of the partition. A device never heard from counts from its
    registration, so one that never sends anything is reported absent too."""
    with translated():
        rows = registry.heard_devices(conn, partition.domains)
    return [
        Device(d.device_id, d.domain, d.district, _ts(d.heard), d.online, _ts(d.status_at))
        for d in rows
        if partition.admits(d.domain, d.district)
    ]


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def recent_latest(
    conn: Connection, device_ids: Sequence[str], since: datetime
) -> list[tuple[str, float, str, float]]:
    """(device, time, metric, value) of latest values newer than ``since``."""
    with translated():
        return series.recent_latest(conn, device_ids, since)
