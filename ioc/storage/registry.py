"""The device registry: the one owner of ``devices``, ``device_events`` and
``device_credentials``.

Who may send telemetry, in which domain, whether it is online; the registry as the API
shows it (with last seen); the broker credential records (hashes only); and the rows
the alert engine starts from. Nothing else writes these tables.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ioc.errors import Conflict, NotFound
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


@dataclass(frozen=True, slots=True)
class DeviceFilter:
    domain: str | None = None
    district: str | None = None
    decommissioned: bool = False


@dataclass(frozen=True, slots=True)
class HeardDevice:
    """An active device and when it was last heard from (newest reading, or an online
    status, or else its registration: one never heard from counts from then)."""

    device_id: str
    domain: str
    district: str
    heard: datetime | None
    online: bool | None
    status_at: datetime | None


_SELECT = """
SELECT d.device_id, d.domain, d.name, d.district, d.lat, d.lon, d.created_at,
       d.decommissioned_at, d.online, d.status_at,
       (SELECT max(l.time) FROM latest l WHERE l.device_id = d.device_id) AS last_seen
FROM devices d"""

#: The keys of a device as the API shows it (``ioc.api.models.Device``).
FIELDS = (
    "device_id",
    "domain",
    "name",
    "district",
    "lat",
    "lon",
    "created_at",
    "decommissioned_at",
    "online",
    "status_at",
    "last_seen",
)

_FILTER = """ WHERE (%(domain)s::text IS NULL OR d.domain = %(domain)s)
                AND (%(district)s::text IS NULL OR d.district = %(district)s)
                AND (%(dec)s OR d.decommissioned_at IS NULL)"""


def _as_dict(row: Sequence[object]) -> dict[str, Any]:
    return dict(zip(FIELDS, row, strict=True))


def load_devices(conn: Connection, only: Iterable[str] | None = None) -> dict[str, DeviceRecord]:
    """All devices, or ``only`` those ids: what ingest checks a message against."""
    sql = "SELECT device_id, domain, decommissioned_at IS NOT NULL FROM devices"
    if only is None:
        rows = conn.execute(sql).fetchall()
    else:
        rows = conn.execute(sql + " WHERE device_id = ANY(%s)", (list(only),)).fetchall()
    return {str(r[0]): DeviceRecord(str(r[0]), str(r[1]), bool(r[2])) for r in rows}


def register_devices(conn: Connection, devices: Iterable[NewDevice]) -> None:
    """Insert devices in bulk (fixtures, benchmarks, the simulator's provisioning); an
    existing id raises :class:`ioc.errors.Conflict` via :func:`ioc.storage.db.translated`.
    One device with a readable conflict is :func:`register`."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO devices (device_id, domain, name, district, lat, lon)"
            " VALUES (%s, %s, %s, %s, %s, %s)",
            [(d.device_id, d.domain, d.name, d.district, d.lat, d.lon) for d in devices],
        )


def register(conn: Connection, device: NewDevice, password_hash: str | None) -> dict[str, Any]:
    """Insert one device (and its broker credential record when ``password_hash`` is
    given); the caller commits. An id taken already, even by a decommissioned device,
    is a :class:`Conflict` that says so."""
    row = conn.execute(
        "INSERT INTO devices (device_id, domain, name, district, lat, lon)"
        " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (device_id) DO NOTHING"
        " RETURNING device_id",
        (device.device_id, device.domain, device.name, device.district, device.lat, device.lon),
    ).fetchone()
    if row is None:
        raise Conflict(f"device {device.device_id!r} is already registered")
    if password_hash is not None:
        conn.execute(
            "INSERT INTO device_credentials (device_id, username, password_hash)"
            " VALUES (%s, %s, %s)",
            (device.device_id, device.device_id, password_hash),
        )
    return get_device(conn, device.device_id)


def decommission(conn: Connection, device_id: str, at: datetime | None = None) -> bool:
    """Mark a device decommissioned; False when it is unknown or was already."""
    cur = conn.execute(
        "UPDATE devices SET decommissioned_at = coalesce(%s, now())"
        " WHERE device_id = %s AND decommissioned_at IS NULL",
        (at, device_id),
    )
    return cur.rowcount == 1


def retire(conn: Connection, device_id: str) -> dict[str, Any]:
    """Decommission and revoke the credential record; the caller commits."""
    if get_device(conn, device_id)["decommissioned_at"] is not None:
        raise Conflict(f"device {device_id!r} is already decommissioned")
    decommission(conn, device_id)
    conn.execute(
        "UPDATE device_credentials SET revoked_at = now()"
        " WHERE device_id = %s AND revoked_at IS NULL",
        (device_id,),
    )
    return get_device(conn, device_id)


def get_device(conn: Connection, device_id: str) -> dict[str, Any]:
    """One device as the API shows it, or :class:`NotFound`."""
    row = conn.execute(f"{_SELECT} WHERE d.device_id = %s", (device_id,)).fetchone()
    if row is None:
        raise NotFound(f"no device {device_id!r}")
    return _as_dict(row)


def domain_of(conn: Connection, device_id: str) -> str:
    row = conn.execute("SELECT domain FROM devices WHERE device_id = %s", (device_id,)).fetchone()
    if row is None:
        raise NotFound(f"no device {device_id!r}")
    return str(row[0])


def list_devices(
    conn: Connection, f: DeviceFilter, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """A page of the registry in id order, and the number of devices matching."""
    params: dict[str, Any] = {
        "domain": f.domain,
        "district": f.district,
        "dec": f.decommissioned,
        "limit": limit,
        "offset": offset,
    }
    rows = conn.execute(
        f"{_SELECT}{_FILTER} ORDER BY d.device_id LIMIT %(limit)s OFFSET %(offset)s", params
    ).fetchall()
    total = conn.execute(f"SELECT count(*) FROM devices d{_FILTER}", params).fetchone()
    assert total is not None
    return [_as_dict(r) for r in rows], int(total[0])


def heard_devices(conn: Connection, domains: Sequence[str]) -> list[HeardDevice]:
    """Active devices of ``domains`` with when each was last heard from."""
    rows = conn.execute(
        """SELECT d.device_id, d.domain, d.district,
                  greatest(l.seen, CASE WHEN d.online THEN d.status_at END, d.created_at),
                  d.online, d.status_at
           FROM devices d
           LEFT JOIN (SELECT device_id, max(time) AS seen FROM latest GROUP BY device_id) l
             USING (device_id)
           WHERE d.decommissioned_at IS NULL AND d.domain = ANY(%s)""",
        (list(domains),),
    ).fetchall()
    return [
        HeardDevice(
            str(r[0]), str(r[1]), str(r[2]), r[3], None if r[4] is None else bool(r[4]), r[5]
        )
        for r in rows
    ]


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


def device_ids_in(conn: Connection, district: str) -> frozenset[str]:
    """Every device of a district, decommissioned ones too (their last events are
    still the district's): what a district-scoped live stream lets through."""
    rows = conn.execute("SELECT device_id FROM devices WHERE district = %s", (district,))
    return frozenset(str(r[0]) for r in rows.fetchall())


def positions(
    conn: Connection,
) -> list[tuple[str, str, str, float | None, float | None, bool | None]]:
    """(device, domain, district, lat, lon, online) of every active device: the console's
    map, one light query for ten thousand devices."""
    rows = conn.execute(
        "SELECT device_id, domain, district, lat, lon, online FROM devices"
        " WHERE decommissioned_at IS NULL ORDER BY device_id"
    ).fetchall()
    return [
        (
            str(r[0]),
            str(r[1]),
            str(r[2]),
            None if r[3] is None else float(r[3]),
            None if r[4] is None else float(r[4]),
            None if r[5] is None else bool(r[5]),
        )
        for r in rows
    ]


def search_devices(
    conn: Connection, text: str, f: DeviceFilter, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Like :func:`list_devices`, narrowed to ids or names containing ``text``."""
    params: dict[str, Any] = {
        "domain": f.domain,
        "district": f.district,
        "dec": f.decommissioned,
        "like": "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",
        "limit": limit,
        "offset": offset,
    }
    where = f"{_FILTER} AND (d.device_id ILIKE %(like)s OR coalesce(d.name, '') ILIKE %(like)s)"
    rows = conn.execute(
        f"{_SELECT}{where} ORDER BY d.device_id LIMIT %(limit)s OFFSET %(offset)s", params
    ).fetchall()
    total = conn.execute(f"SELECT count(*) FROM devices d{where}", params).fetchone()
    assert total is not None
    return [_as_dict(r) for r in rows], int(total[0])


def status_history(conn: Connection, device_id: str, limit: int = 50) -> list[tuple[Any, bool]]:
    """(time, online) of the device's last status changes, newest first."""
    rows = conn.execute(
        "SELECT time, online FROM device_events WHERE device_id = %s ORDER BY time DESC LIMIT %s",
        (device_id, limit),
    ).fetchall()
    return [(r[0], bool(r[1])) for r in rows]
