"""Devices as the API shows them, and registration with broker credentials.

Registration goes through :mod:`ioc.storage.registry` (one place inserts devices); this
adds the credential record and the reads with online state and last seen.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ioc.errors import Conflict, NotFound
from ioc.storage.db import Connection
from ioc.storage.registry import NewDevice, decommission, register_devices

_SELECT = """
SELECT d.device_id, d.domain, d.name, d.district, d.lat, d.lon, d.created_at,
       d.decommissioned_at, d.online, d.status_at,
       (SELECT max(l.time) FROM latest l WHERE l.device_id = d.device_id) AS last_seen
FROM devices d"""

_FIELDS = (
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


def _as_dict(row: tuple[object, ...]) -> dict[str, Any]:
    return dict(zip(_FIELDS, row, strict=True))


def get_device(conn: Connection, device_id: str) -> dict[str, Any]:
    row = conn.execute(f"{_SELECT} WHERE d.device_id = %s", (device_id,)).fetchone()
    if row is None:
        raise NotFound(f"no device {device_id!r}")
    return _as_dict(row)


@dataclass(frozen=True, slots=True)
class DeviceFilter:
    domain: str | None = None
    district: str | None = None
    decommissioned: bool = False


def list_devices(
    conn: Connection, f: DeviceFilter, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    where = """ WHERE (%(domain)s::text IS NULL OR d.domain = %(domain)s)
                  AND (%(district)s::text IS NULL OR d.district = %(district)s)
                  AND (%(dec)s OR d.decommissioned_at IS NULL)"""
    params: dict[str, Any] = {
        "domain": f.domain,
        "district": f.district,
        "dec": f.decommissioned,
        "limit": limit,
        "offset": offset,
    }
    rows = conn.execute(
        f"{_SELECT}{where} ORDER BY d.device_id LIMIT %(limit)s OFFSET %(offset)s", params
    ).fetchall()
    total = conn.execute(f"SELECT count(*) FROM devices d{where}", params).fetchone()
    assert total is not None
    return [_as_dict(r) for r in rows], int(total[0])


def password_hash(password: str) -> str:
    """Broker passwords are 192-bit random tokens: SHA-256 is enough to keep them unread."""
    return hashlib.sha256(password.encode()).hexdigest()


def register(conn: Connection, device: NewDevice, password: str | None) -> dict[str, Any]:
    """Insert the device (and the hash of its broker password); the caller commits."""
    register_devices(conn, [device])
    if password is not None:
        conn.execute(
            "INSERT INTO device_credentials (device_id, username, password_hash)"
            " VALUES (%s, %s, %s)",
            (device.device_id, device.device_id, password_hash(password)),
        )
    return get_device(conn, device.device_id)


def retire(conn: Connection, device_id: str) -> dict[str, Any]:
    """Decommission and revoke the credential record; the caller commits."""
    current = get_device(conn, device_id)
    if current["decommissioned_at"] is not None:
        raise Conflict(f"device {device_id!r} is already decommissioned")
    decommission(conn, device_id)
    conn.execute(
        "UPDATE device_credentials SET revoked_at = now()"
        " WHERE device_id = %s AND revoked_at IS NULL",
        (device_id,),
    )
    return get_device(conn, device_id)


def latest(conn: Connection, device_id: str) -> dict[str, dict[str, Any]]:
    get_device(conn, device_id)
    rows = conn.execute(
        "SELECT metric, value, time FROM latest WHERE device_id = %s ORDER BY metric",
        (device_id,),
    ).fetchall()
    return {str(m): {"value": v, "ts": t} for m, v, t in rows}


def domain_of(conn: Connection, device_id: str) -> str:
    return str(get_device(conn, device_id)["domain"])


def when(value: object) -> datetime | None:
    return value if isinstance(value, datetime) else None
