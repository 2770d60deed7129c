"""What an operator does to an incident, in the database: acknowledge, resolve, close,
tick a procedure step.

Each locks the incident, applies the pure move (:mod:`ioc.incidents.lifecycle`,
:mod:`ioc.incidents.procedures`), stores it with its history row and returns the
incident (with its history) and the notices to send. Callers hold the transaction and
add the outbox and audit rows (:mod:`ioc.alerts.lifecycle`, one layer up, since the
outbox and the audit log are this layer's siblings). A move the lifecycle does not allow
is :class:`~ioc.errors.Conflict`; an unknown incident or step :class:`~ioc.errors.NotFound`.
"""

from __future__ import annotations

from collections.abc import Callable

from ioc.errors import InvalidPayload
from ioc.incidents import lifecycle, procedures, store, sync
from ioc.incidents.notices import Notice
from ioc.incidents.state import Incident
from ioc.storage.db import Connection

Move = Callable[[Incident, float], Incident]


def _clean(note: str | None) -> str | None:
    if note is not None and "\x00" in note:
        raise InvalidPayload("note must not contain NUL characters")
    return note


def _do(conn: Connection, incident_id: int, move: Move) -> tuple[Incident, list[Notice]]:
    before = store.load(conn, incident_id, lock=True)
    after = move(before, store.now(conn))
    sent = sync.apply(conn, before, after)
    return store.load(conn, incident_id, history=True), sent


def acknowledge(
    conn: Connection, by: str, incident_id: int, note: str | None = None
) -> tuple[Incident, list[Notice]]:
    """open → acknowledged: ``by`` owns it, and it stops escalating."""
    text = _clean(note)
    return _do(conn, incident_id, lambda i, at: lifecycle.acknowledge(i, by, at, text))


def resolve(
    conn: Connection, by: str, incident_id: int, note: str | None = None
) -> tuple[Incident, list[Notice]]:
    """open/acknowledged → resolved by hand; the note says why (the contract makes it
    optional, the history always has one)."""
    text = _clean(note) or f"resolved by {by}"
    return _do(conn, incident_id, lambda i, at: lifecycle.resolve(i, by, at, text))


def close(
    conn: Connection, by: str, incident_id: int, note: str | None = None
) -> tuple[Incident, list[Notice]]:
    """resolved → closed after review; the note is the closing summary (required)."""
    text = _clean(note) or ""
    return _do(conn, incident_id, lambda i, at: lifecycle.close(i, by, at, text))


def tick(
    conn: Connection, by: str, incident_id: int, n: int, note: str | None = None
) -> tuple[Incident, list[Notice]]:
    """Step ``n`` of the incident's procedure done by ``by``."""
    text = _clean(note)
    return _do(conn, incident_id, lambda i, at: procedures.tick(i, n, by, at, text))
