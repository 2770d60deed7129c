"""Alerts in the database: the one owner of ``alerts`` and ``alert_history``: the
queries the API serves and the lifecycle writes (the KPIs' aggregate over alerts is
:mod:`ioc.kpis.service_levels`).

Every change of an alert — opened, acknowledged, resolved — happens in one transaction
with its history row, its live-stream event (:func:`ioc.storage.events.publish`) and
its outbox rows, so nobody hears of a change that did not commit, and no change goes
unheard. At most one open alert per (rule, subject) is the database's partial unique
index; :func:`open_alert` leans on it and never checks first.

Errors: :class:`ioc.errors.NotFound` for an unknown id, :class:`ioc.errors.Conflict`
for a change the alert's state does not allow (acknowledging a resolved alert). Rule
storage lives in :mod:`ioc.alerts.rules` and is re-exported here (the engine reads
both through this module); :func:`delete_rule` is here because it resolves alerts.
Use cases that also write an audit row are :mod:`ioc.alerts.lifecycle` and
:mod:`ioc.alerts.authoring`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

from psycopg.types.json import Jsonb

from ioc.alerts.models import Alert, AlertAction, AlertChange, AlertFilters, Page, Rule
from ioc.alerts.rules import (
    create_rule,
    get_rule,
    list_rules,
    remove_rule,
    rules_signature,
    update_rule,
)
from ioc.errors import Conflict, InvalidPayload, NotFound
from ioc.incidents import store as incident_store
from ioc.incidents import sync as incident_sync
from ioc.incidents.notices import Notice
from ioc.incidents.state import AlertTransition
from ioc.outbox.store import enqueue
from ioc.storage import events
from ioc.storage.db import Connection, translated
from ioc.types import EventKind

__all__ = [
    "acknowledge",
    "adopt_orphans",
    "count_alerts",
    "create_rule",
    "delete_rule",
    "get_alert",
    "get_rule",
    "list_alerts",
    "list_open",
    "list_rules",
    "open_alert",
    "resolve",
    "resolve_open",
    "rules_signature",
    "send",
    "silent_devices",
    "update_rule",
]

ENGINE = "engine"
#: What an alert's event and notification say of its incident.
INCIDENT_FIELDS = (
    "incident_id",
    "title",
    "state",
    "severity",
    "districts",
    "domains",
    "device_count",
    "alert_count",
)

_EVENT: dict[AlertAction, EventKind] = {
    "opened": "alert.opened",
    "acknowledged": "alert.acknowledged",
    "resolved": "alert.resolved",
}

_COLUMNS = (
    "id, rule_id, rule_name, subject, device_id, domain, district, metric, severity, state,"
    " started_at, acknowledged_at, acknowledged_by, resolved_at, resolved_by, value, labels, sop"
)
_FIELDS = [c.strip() for c in _COLUMNS.split(",")]


def _alert(row: Sequence[Any], history: list[AlertChange] | None = None) -> Alert:
    data = dict(zip(_FIELDS, row, strict=True))
    return Alert.model_validate({**data, "history": history or []})


def _where(filters: AlertFilters) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    if filters.state == "open":
        clauses.append("state <> 'resolved'")
    elif filters.state is not None:
        clauses.append("state = %s")
        args.append(filters.state)
    for column in ("domain", "severity", "district", "rule_id", "device_id"):
        value = getattr(filters, column)
        if isinstance(value, str) and "\x00" in value:
            clauses.append("false")  # nothing stored can contain NUL (PostgreSQL text)
        elif value is not None:
            clauses.append(f"{column} = %s")
            args.append(value)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def _histories(conn: Connection, ids: list[int]) -> dict[int, list[AlertChange]]:
    out: dict[int, list[AlertChange]] = {i: [] for i in ids}
    if not ids:
        return out
    rows = conn.execute(
        "SELECT alert_id, at, action, by, value, note FROM alert_history"
        " WHERE alert_id = ANY(%s) ORDER BY alert_id, id",
        (ids,),
    ).fetchall()
    for alert_id, at, action, by, value, note in rows:
        out[int(alert_id)].append(
            AlertChange.model_validate(
                {"at": at, "action": action, "by": by, "value": value, "note": note}
            )
        )
    return out


def list_alerts(
    conn: Connection, filters: AlertFilters | None = None, page: Page | None = None
) -> list[Alert]:
    """Newest first, each with its history."""
    filters, page = filters or AlertFilters(), page or Page()
    where, args = _where(filters)
    with translated():
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM alerts{where} ORDER BY started_at DESC, id DESC"
            " LIMIT %s OFFSET %s",
            [*args, page.limit, page.offset],
        ).fetchall()
        histories = _histories(conn, [int(r[0]) for r in rows])
    return [_alert(r, histories[int(r[0])]) for r in rows]


def count_alerts(conn: Connection, filters: AlertFilters | None = None) -> int:
    where, args = _where(filters or AlertFilters())
    with translated():
        row = conn.execute(f"SELECT count(*) FROM alerts{where}", args).fetchone()
    return int(row[0]) if row else 0


def get_alert(conn: Connection, alert_id: int) -> Alert:
    with translated():
        row = conn.execute(f"SELECT {_COLUMNS} FROM alerts WHERE id = %s", (alert_id,)).fetchone()
        if row is None:
            raise NotFound(f"alert {alert_id} does not exist")
        return _alert(row, _histories(conn, [alert_id])[alert_id])


def list_open(conn: Connection) -> list[Alert]:
    """Every firing or acknowledged alert, without history: what the engine restores."""
    with translated():
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM alerts WHERE state <> 'resolved' ORDER BY id"
        ).fetchall()
    return [_alert(r) for r in rows]


def _announce(
    conn: Connection,
    alert: Alert,
    action: AlertAction,
    by: str,
    at: datetime,
    note: str | None,
    rule_kind: str | None = None,
) -> None:
    conn.execute(
        "INSERT INTO alert_history (alert_id, at, action, by, value, note)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (alert.id, at, action, by, alert.value, note),
    )
    notices = incident_sync.place(conn, _transition(conn, alert, action, at, rule_kind))
    kind = _EVENT[action]
    payload = {**alert.model_dump(mode="json", exclude={"history"}), "by": by, "note": note}
    if notices:  # which incident holds it, as it is now (the GOC hears it at once)
        payload["incident"] = {k: notices[-1].payload[k] for k in INCIDENT_FIELDS}
    events.publish(conn, kind, payload)
    enqueue(conn, kind, f"alert-{alert.id}-{action}", payload, alert.severity)
    send(conn, notices)


def send(conn: Connection, notices: Iterable[Notice]) -> None:
    """Announce incident changes: live event and outbox rows (ordered per incident)."""
    for n in notices:
        events.publish(conn, n.kind, n.payload)
        enqueue(conn, n.kind, n.key, n.payload, n.severity, subject=n.subject)


def _transition(
    conn: Connection, alert: Alert, action: AlertAction, at: datetime, kind: str | None
) -> AlertTransition:
    """The incident core's view of an alert change."""
    if kind is None:
        row = conn.execute("SELECT kind FROM alert_rules WHERE id = %s", (alert.rule_id,))
        found = row.fetchone()
        kind = str(found[0]) if found else "deleted"
    return AlertTransition(
        alert_id=alert.id,
        rule_id=alert.rule_id,
        rule_name=alert.rule_name,
        rule_kind=kind,
        subject=alert.subject,
        device_id=alert.device_id,
        domain=alert.domain,
        district=alert.district,
        severity=alert.severity,
        action=action,
        at=at.timestamp(),
        value=alert.value,
    )


def adopt_orphans(conn: Connection) -> int:
    """Put open alerts that no incident holds (opened before incidents existed, say)
    into theirs; returns how many. Each in its own transaction, idempotent."""
    with translated():
        rows = conn.execute(
            f"SELECT {_COLUMNS} FROM alerts WHERE state <> 'resolved' ORDER BY id"
        ).fetchall()
        alerts = [_alert(r) for r in rows]
        held = incident_store.held(conn, [a.id for a in alerts])
        done = 0
        for alert in alerts:
            if alert.id in held:
                continue
            with conn.transaction():
                t = _transition(conn, alert, "opened", alert.started_at, None)
                send(conn, incident_sync.place(conn, t))
                done += 1
    return done


def _change(
    conn: Connection,
    alert_id: int,
    action: Literal["acknowledged", "resolved"],
    who: str,
    note: str | None,
    at: datetime | None,
) -> Alert:
    if note is not None and "\x00" in note:
        raise InvalidPayload("note must not contain NUL characters")
    allowed: tuple[str, ...]
    if action == "acknowledged":
        sets = "state = 'acknowledged', acknowledged_at = %s, acknowledged_by = %s"
        allowed = ("firing",)
    else:
        sets = "state = 'resolved', resolved_at = %s, resolved_by = %s"
        allowed = ("firing", "acknowledged")
    with translated(), conn.transaction():
        row = conn.execute(
            "SELECT state FROM alerts WHERE id = %s FOR UPDATE", (alert_id,)
        ).fetchone()
        if row is None:
            raise NotFound(f"alert {alert_id} does not exist")
        if row[0] not in allowed:
            raise Conflict(f"alert {alert_id} is {row[0]}; it cannot be {action}")
        when = at or conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        updated = conn.execute(
            f"UPDATE alerts SET {sets} WHERE id = %s RETURNING {_COLUMNS}",
            (when, who, alert_id),
        ).fetchone()
        assert updated is not None
        alert = _alert(updated)
        _announce(conn, alert, action, who, when, note)
        return get_alert(conn, alert_id)


def acknowledge(
    conn: Connection, alert_id: int, who: str, note: str | None = None, at: datetime | None = None
) -> Alert:
    """firing → acknowledged; Conflict when it is acknowledged or resolved already."""
    return _change(conn, alert_id, "acknowledged", who, note, at)


def resolve(
    conn: Connection, alert_id: int, who: str, note: str | None = None, at: datetime | None = None
) -> Alert:
    """firing/acknowledged → resolved by an operator; Conflict when already resolved."""
    return _change(conn, alert_id, "resolved", who, note, at)


def open_alert(
    conn: Connection,
    rule: Rule,
    subject: str,
    device_id: str | None,
    district: str | None,
    at: datetime,
    value: float | None,
    by: str = ENGINE,
) -> Alert | None:
    """Open an alert unless one is open for (rule, subject); None when one was.

    Safe under any concurrency: the partial unique index decides, not a prior SELECT.
    Nor does it open one for a moment an alert already covered and that has since been
    resolved: a replica that lags behind its twin must not reopen an episode the twin
    has already seen end.
    """
    with translated(), conn.transaction():
        row = conn.execute(
            f"""INSERT INTO alerts (rule_id, rule_name, subject, device_id, domain, district,
                                    metric, severity, state, started_at, value, labels, sop)
                SELECT %s, %s, %s, %s, %s, %s, %s, %s, 'firing', %s, %s, %s, %s
                WHERE NOT EXISTS (
                    SELECT 1 FROM alerts WHERE rule_id = %s AND subject = %s
                      AND state = 'resolved' AND started_at <= %s AND resolved_at >= %s)
                ON CONFLICT (rule_id, subject) WHERE state <> 'resolved' DO NOTHING
                RETURNING {_COLUMNS}""",
            (
                rule.id,
                rule.name,
                subject,
                device_id,
                rule.domain,
                district,
                rule.metric,
                rule.severity,
                at,
                value,
                Jsonb(rule.labels),
                Jsonb(rule.sop),
                rule.id,
                subject,
                at,
                at,
            ),
        ).fetchone()
        if row is None:
            return None
        alert = _alert(row)
        _announce(conn, alert, "opened", by, at, None, rule.kind)
        return alert


def resolve_open(
    conn: Connection,
    rule_id: int,
    subject: str,
    at: datetime,
    value: float | None,
    by: str = ENGINE,
    note: str | None = None,
) -> Alert | None:
    """Resolve the open alert of (rule, subject), if any: the condition cleared at
    ``at``. An alert opened after ``at`` (by a replica further ahead) is left alone."""
    with translated(), conn.transaction():
        row = conn.execute(
            f"""UPDATE alerts SET state = 'resolved', resolved_at = greatest(%s, started_at),
                                  resolved_by = %s
                WHERE rule_id = %s AND subject = %s AND state <> 'resolved' AND started_at <= %s
                RETURNING {_COLUMNS}""",
            (at, by, rule_id, subject, at),
        ).fetchone()
        if row is None:
            return None
        alert = _alert(row)
        _announce(conn, alert.model_copy(update={"value": value}), "resolved", by, at, note)
        return alert


def delete_rule(conn: Connection, rule_id: int, who: str = "api") -> None:
    """Delete a rule and resolve its open alerts in the same transaction: nothing is
    left firing for a rule nobody can see any more."""
    with translated(), conn.transaction():
        remove_rule(conn, rule_id)
        open_alerts = conn.execute(
            "SELECT subject, greatest(started_at, now()) FROM alerts"
            " WHERE rule_id = %s AND state <> 'resolved'",
            (rule_id,),
        ).fetchall()
        for subject, at in open_alerts:
            resolve_open(conn, rule_id, str(subject), at, None, by=who, note="rule deleted")


def silent_devices(conn: Connection) -> list[str]:
    """Devices with an open alert of an absence rule: heard too little, or offline."""
    absence = [r.id for r in list_rules(conn) if r.kind == "absence"]
    with translated():
        rows = conn.execute(
            "SELECT DISTINCT device_id FROM alerts WHERE rule_id = ANY(%s)"
            " AND state <> 'resolved' AND device_id IS NOT NULL",
            (absence,),
        ).fetchall()
    return [str(r[0]) for r in rows]
