"""Use cases of a device's enrolment: register it (with broker credentials, shown once,
bound to its id and its domain's two topics) and decommission it (its credentials stop
working at once, and its retained status is cleared from the broker).

Each writes the registry rows (:mod:`ioc.storage.registry`) and the audit entry in one
transaction, and calls the broker inside it: if the broker refuses, nothing is
registered. Only the hash of a broker password is stored.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

from ioc.broker_admin.accounts import BrokerAccounts, new_password
from ioc.security import audit
from ioc.security.audit import Actor
from ioc.storage import registry
from ioc.storage.db import Connection, translated
from ioc.storage.registry import NewDevice


@dataclass(frozen=True, slots=True)
class Enrolled:
    """The registered device as the registry shows it, and its broker password (None
    when the broker is open: no account to create)."""

    device: dict[str, Any]
    password: str | None


def password_hash(password: str) -> str:
    """Broker passwords are 192-bit random tokens: SHA-256 is enough to keep them unread."""
    return hashlib.sha256(password.encode()).hexdigest()


def register(
    conn: Connection, actor: Actor, device: NewDevice, accounts: BrokerAccounts | None
) -> Enrolled:
    """Conflict ("device 'x' is already registered") when the id is taken."""
    password = new_password() if accounts is not None else None
    with translated(), conn.transaction():
        row = registry.register(conn, device, None if password is None else password_hash(password))
        audit.record(
            conn,
            actor,
            "device.register",
            f"device:{device.device_id}",
            {**asdict(device), "broker_account": password is not None},
        )
        if accounts is not None and password is not None:
            accounts.create_device(device.device_id, password, device.domain)
    return Enrolled(row, password)


def decommission(
    conn: Connection, actor: Actor, device_id: str, accounts: BrokerAccounts | None
) -> dict[str, Any]:
    """NotFound for an unknown device, Conflict for one decommissioned already."""
    with translated(), conn.transaction():
        row = registry.retire(conn, device_id)
        audit.record(conn, actor, "device.decommission", f"device:{device_id}")
        if accounts is not None:  # also clears its retained status on the broker
            accounts.remove_device(device_id, str(row["domain"]))
    return row
