"""API keys: random, shown once, stored as a SHA-256 hash, revocable.

A key looks like ``ioc_<prefix>_<secret>``; the prefix is stored in clear so a key can
be named in the audit log and revoked without ever showing its secret. Keys are 256-bit
random values, so a plain SHA-256 is the right hash (a slow password hash buys nothing
against a search space of 2^256 and would cost every request).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from ioc.errors import InvalidInput, NotFound, Unauthorized
from ioc.security.roles import Role
from ioc.storage.db import Connection


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    prefix: str
    role: Role
    name: str
    created_at: datetime
    revoked_at: datetime | None
    #: Limits a viewer or operator key to one district, as for a person; None: all.
    district: str | None = None

    @property
    def label(self) -> str:
        """How the key appears in the audit log: never its secret."""
        return f"key:{self.prefix}"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh key and its prefix."""
    prefix = secrets.token_hex(4)
    return f"ioc_{prefix}_{secrets.token_urlsafe(32)}", prefix


def prefix_of(key: str) -> str:
    parts = key.split("_")
    if len(parts) >= 3 and parts[0] == "ioc" and len(parts[1]) == 8:
        return parts[1]
    return "bootstrap"


def row_to_key(r: tuple[object, ...]) -> ApiKey:
    """An ``api_keys`` row (:data:`COLUMNS` order) as an :class:`ApiKey`."""
    return ApiKey(
        id=int(r[0]),  # type: ignore[call-overload]
        prefix=str(r[1]),
        role=Role(str(r[2])),
        name=str(r[3]),
        created_at=r[4],  # type: ignore[arg-type]
        revoked_at=r[5],  # type: ignore[arg-type]
        district=None if r[6] is None else str(r[6]),
    )


COLUMNS = "id, prefix, role, name, created_at, revoked_at, district"


def create_key(
    conn: Connection, role: Role, name: str = "", *, district: str | None = None
) -> tuple[str, ApiKey]:
    """Store a new key; return the key itself (to show once) and its record. Only a
    viewer or operator key may be limited to a ``district``."""
    if district is not None and role not in (Role.VIEWER, Role.OPERATOR):
        raise InvalidInput(
            f"{role.value} keys see every district: only viewers and operators have one"
        )
    key, prefix = new_key()
    row = conn.execute(
        f"INSERT INTO api_keys (prefix, key_hash, role, name, district)"
        f" VALUES (%s, %s, %s, %s, %s) RETURNING {COLUMNS}",
        (prefix, hash_key(key), role.value, name, district),
    ).fetchone()
    assert row is not None
    return key, row_to_key(row)


def ensure_key(conn: Connection, key: str, role: Role, name: str) -> None:
    """Make ``key`` valid with ``role`` (the bootstrap admin key); idempotent."""
    conn.execute(
        "INSERT INTO api_keys (prefix, key_hash, role, name) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (key_hash) DO UPDATE SET role = excluded.role, revoked_at = NULL",
        (prefix_of(key), hash_key(key), role.value, name),
    )


def authenticate(conn: Connection, key: str) -> ApiKey:
    """The live key with this value, or :class:`Unauthorized`."""
    row = conn.execute(
        f"SELECT {COLUMNS}, key_hash FROM api_keys WHERE key_hash = %s AND revoked_at IS NULL",
        (hash_key(key),),
    ).fetchone()
    if row is None or not hmac.compare_digest(str(row[7]), hash_key(key)):
        raise Unauthorized("the API key is not valid")
    return row_to_key(row)


def revoke_key(conn: Connection, prefix: str) -> ApiKey:
    row = conn.execute(
        f"UPDATE api_keys SET revoked_at = now() WHERE prefix = %s AND revoked_at IS NULL"
        f" RETURNING {COLUMNS}",
        (prefix,),
    ).fetchone()
    if row is None:
        raise NotFound(f"no live API key with prefix {prefix!r}")
    return row_to_key(row)


def list_keys(conn: Connection) -> list[ApiKey]:
    rows = conn.execute(f"SELECT {COLUMNS} FROM api_keys ORDER BY id").fetchall()
    return [row_to_key(r) for r in rows]
