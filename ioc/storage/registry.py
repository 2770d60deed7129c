"""The device registry: who may send telemetry, in which domain, and whether it is online."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ioc.storage.db import Connection
from ioc.telemetry.decoder import DeviceRecord, StatusUpdate


@dataclass(frozen=True, slots=True)
class NewDevice:
    device_id: str
    domain: str
    name: str = ""
    district: str = ""
    lat: float | None = None
    lon: float | None = None


def load_devices(conn: Connection, only: Iterable[str] | None = None) -> dict[str, DeviceRecord]:
    """All devices, or ``only`` those ids."""
    sql = "SELECT device_id, domain, decommissioned_at IS NOT NULL FROM devices"
    if only is None:
        rows = conn.execute(sql).fetchall()
    else:
        rows = conn.execute(sql + " WHERE device_id = ANY(%s)", (list(only),)).fetchall()
    return {str(r[0]): DeviceRecord(str(r[0]), str(r[1]), bool(r[2])) for r in rows}


def register_devices(conn: Connection, devices: Iterable[NewDevice]) -> None:
    """Insert devices; an existing id raises :class:`ioc.errors.Conflict` (via the caller's
    :func:`ioc.storage.db.translated`)."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO devices (device_id, domain, name, district, lat, lon)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            [(d.device_id, d.domain, d.name, d.district, d.lat, d.lon) for d in devices],
        )


def decommission(conn: Connection, device_id: str, at: datetime | None = None) -> bool:
    cur = conn.execute(
        "UPDATE devices SET decommissioned_at = coalesce(%s, now())"
        " WHERE device_id = %s AND decommissioned_at IS NULL",
        (at, device_id),
    )
    return cur.rowcount == 1


def apply_status(conn: Connection, updates: Iterable[StatusUpdate]) -> list[StatusUpdate]:
    """Record status messages; return those that changed a device's state.

    An older status never overwrites a newer one; every message is kept in
    ``device_events`` for availability figures.
    """
    changed: list[StatusUpdate] = []
    with conn.cursor() as cur:
        for u in updates:
            cur.execute(
                "SELECT online, status_at FROM devices WHERE device_id = %s FOR UPDATE",
                (u.device_id,),
            )
            row = cur.fetchone()
            if row is None:
                continue
            was_online, status_at = row
            if status_at is None or status_at <= u.ts:
                cur.execute(
                    "UPDATE devices SET online = %s, status_at = %s WHERE device_id = %s",
                    (u.online, u.ts, u.device_id),
                )
                if was_online is not u.online:
                    changed.append(u)
            cur.execute(
                "INSERT INTO device_events (time, device_id, online) VALUES (%s, %s, %s)",
                (u.ts, u.device_id, u.online),
            )
    return changed
