"""Enrolling and decommissioning a device: registry rows, credential record and audit
entry in one transaction with the broker's answer; a refusal leaves nothing behind."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from ioc.errors import BrokerUnavailable, Conflict, NotFound
from ioc.security import enrolment
from ioc.security.audit import Actor, entries
from ioc.storage import registry
from ioc.storage.registry import NewDevice

Conn = psycopg.Connection[tuple[object, ...]]
ADMIN = Actor("key:adm00001", "admin", "127.0.0.1")


class Broker:
    """Broker accounts as the API sees them, recording calls; ``refuse`` makes it fail."""

    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse
        self.created: dict[str, str] = {}
        self.removed: list[str] = []

    def create_device(self, device_id: str, password: str, domain: str | None = None) -> None:
        if self.refuse:
            raise BrokerUnavailable("broker says no")
        self.created[device_id] = password

    def remove_device(self, device_id: str, domain: str | None = None) -> None:
        if self.refuse:
            raise BrokerUnavailable("broker says no")
        self.removed.append(device_id)


def credential(db: Conn, device_id: str) -> tuple[object, ...] | None:
    return db.execute(
        "SELECT password_hash, revoked_at IS NOT NULL FROM device_credentials WHERE device_id = %s",
        (device_id,),
    ).fetchone()


def test_register_and_decommission(db: Conn, unique: Callable[[str], str]) -> None:
    dev, broker = unique("enrol"), Broker()
    enrolled = enrolment.register(db, ADMIN, NewDevice(dev, "energy", district="d1"), broker)
    assert enrolled.device["device_id"] == dev and enrolled.device["district"] == "d1"
    assert enrolled.password is not None and broker.created == {dev: enrolled.password}
    assert credential(db, dev) == (enrolment.password_hash(enrolled.password), False)

    with pytest.raises(Conflict, match=f"device '{dev}' is already registered"):
        enrolment.register(db, ADMIN, NewDevice(dev, "energy"), broker)

    retired = enrolment.decommission(db, ADMIN, dev, broker)
    assert retired["decommissioned_at"] is not None and broker.removed == [dev]
    assert credential(db, dev) == (enrolment.password_hash(enrolled.password), True)
    with pytest.raises(Conflict, match="already decommissioned"):
        enrolment.decommission(db, ADMIN, dev, broker)
    with pytest.raises(NotFound):
        enrolment.decommission(db, ADMIN, unique("nobody"), broker)

    log = list(reversed(entries(db, target=f"device:{dev}")))
    assert [e.action for e in log] == ["device.register", "device.decommission"]
    assert log[0].detail["broker_account"] is True
    assert enrolled.password not in str(log[0].detail)  # never a secret in the log


def test_an_open_broker_gets_no_credentials(db: Conn, unique: Callable[[str], str]) -> None:
    dev = unique("open")
    enrolled = enrolment.register(db, ADMIN, NewDevice(dev, "health"), None)
    assert enrolled.password is None and credential(db, dev) is None
    assert entries(db, target=f"device:{dev}")[0].detail["broker_account"] is False


def test_a_broker_refusal_registers_nothing(db: Conn, unique: Callable[[str], str]) -> None:
    dev = unique("refused")
    with pytest.raises(BrokerUnavailable):
        enrolment.register(db, ADMIN, NewDevice(dev, "traffic"), Broker(refuse=True))
    with pytest.raises(NotFound):
        registry.get_device(db, dev)
    assert credential(db, dev) is None and entries(db, target=f"device:{dev}") == []
