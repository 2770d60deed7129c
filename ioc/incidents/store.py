"""Incidents in the database: the one owner of ``incidents``, ``incident_alerts``,
``incident_history``, ``incident_steps`` and ``incident_escalations`` (the policies and
procedures are :mod:`ioc.incidents.catalogue_store`'s; the service-level figures are
:mod:`ioc.kpis.service_levels`').

The core's values (:mod:`ioc.incidents.state`, times as epoch seconds) in and out;
callers hold the transaction. Two engine replicas correlating at once are serialised per
correlation key (:func:`lock_key`, an advisory lock held until commit) and per incident
(:func:`load` with ``lock``); the partial unique index ``incidents_one_open`` stays the
last word on one open incident per key. History is append-only: :func:`save` writes the
new entries and returns their row ids (outbox keys are built from them).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ioc.errors import NotFound
from ioc.incidents.state import Entry, Incident, Member, Step
from ioc.storage.db import Connection

_COLUMNS = (
    "id, key, policy, title, state, severity, opened_at, since, window_s, districts, domains,"
    " device_count, acknowledged_at, acknowledged_by, resolved_at, resolved_by, closed_at,"
    " closed_by, summary, procedure"
)
_MEMBER = (
    "alert_id, rule_id, rule_name, subject, device_id, domain, district, severity, state,"
    " since, at, value"
)
_TIMES = ("opened_at", "since", "acknowledged_at", "resolved_at", "closed_at")


def ts(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def now(conn: Connection) -> float:
    row = conn.execute("SELECT now()").fetchone()
    assert row is not None
    return float(row[0].timestamp())


# ---------------------------------------------------------------- correlation reads


def lock_key(conn: Connection, key: str) -> None:
    """Serialise correlation on one key until the transaction ends."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 11))", (key,))


def next_id(conn: Connection) -> int:
    row = conn.execute("SELECT nextval(pg_get_serial_sequence('incidents', 'id'))").fetchone()
    assert row is not None
    return int(row[0])


def holder(conn: Connection, alert_id: int) -> int | None:
    """The incident that holds the alert, if any."""
    row = conn.execute(
        "SELECT incident_id FROM incident_alerts WHERE alert_id = %s", (alert_id,)
    ).fetchone()
    return None if row is None else int(row[0])


def newest_of_key(conn: Connection, key: str) -> int | None:
    """The newest not-closed incident of ``key``, if any."""
    row = conn.execute(
        "SELECT id FROM incidents WHERE key = %s AND state <> 'closed' ORDER BY id DESC LIMIT 1",
        (key,),
    ).fetchone()
    return None if row is None else int(row[0])


def token(conn: Connection, incident_id: int, *, lock: bool = False) -> int:
    """The incident's change token (see :func:`save`); NotFound if there is none."""
    row = conn.execute(
        "SELECT token FROM incidents WHERE id = %s" + (" FOR UPDATE" if lock else ""),
        (incident_id,),
    ).fetchone()
    if row is None:
        raise NotFound(f"incident {incident_id} does not exist")
    return int(row[0])


def load(
    conn: Connection, incident_id: int, *, lock: bool = False, history: bool = False
) -> Incident:
    """One incident with its alerts, steps and escalations (and, if asked, its history);
    ``lock`` holds its row until the transaction ends. NotFound if there is none."""
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM incidents WHERE id = %s" + (" FOR UPDATE" if lock else ""),
        (incident_id,),
    ).fetchone()
    if row is None:
        raise NotFound(f"incident {incident_id} does not exist")
    return _incident(conn, row, history)


def _incident(conn: Connection, row: Sequence[Any], history: bool) -> Incident:
    data = dict(zip([c.strip() for c in _COLUMNS.split(",")], row, strict=True))
    iid = int(data["id"])
    for name in _TIMES:
        data[name] = epoch(data[name])
    members = tuple(
        Member(
            int(r[0]),
            int(r[1]),
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            r[7],
            r[8],
            float(r[9].timestamp()),
            float(r[10].timestamp()),
            r[11],
        )
        for r in conn.execute(
            f"SELECT {_MEMBER} FROM incident_alerts WHERE incident_id = %s ORDER BY alert_id",
            (iid,),
        ).fetchall()
    )
    steps = tuple(
        Step(int(r[0]), r[1], r[2], r[3], epoch(r[4]), r[5], r[6])
        for r in conn.execute(
            "SELECT n, text, role, target_min, done_at, done_by, note FROM incident_steps"
            " WHERE incident_id = %s ORDER BY n",
            (iid,),
        ).fetchall()
    )
    escalated = tuple(
        str(r[0])
        for r in conn.execute(
            "SELECT tier FROM incident_escalations WHERE incident_id = %s ORDER BY at, tier",
            (iid,),
        ).fetchall()
    )
    entries: tuple[Entry, ...] = ()
    if history:
        entries = tuple(
            Entry(float(r[0].timestamp()), r[1], r[2], r[3])
            for r in conn.execute(
                "SELECT at, action, by, note FROM incident_history WHERE incident_id = %s"
                " ORDER BY id",
                (iid,),
            ).fetchall()
        )
    return Incident(
        **{
            **data,
            "id": iid,
            "districts": tuple(data["districts"]),
            "domains": tuple(data["domains"]),
        },
        members=members,
        steps=steps,
        escalated=escalated,
        history=entries,
    )


# ---------------------------------------------------------------- writes


def save(
    conn: Connection,
    before: Incident | None,
    after: Incident,
    entries: Sequence[Entry],
    change: int | None = None,
) -> list[int]:
    """Write ``after`` (new when ``before`` is None) and its new history ``entries``;
    only the alerts and steps that changed are written. Returns the entries' row ids.
    ``change`` is the new change token (random when not given): every change of an
    incident, whoever makes it, writes a new one."""
    values = {
        "token": secrets.randbits(62) if change is None else change,
        "id": after.id,
        "key": after.key,
        "policy": after.policy,
        "title": after.title,
        "state": after.state,
        "severity": after.severity,
        "opened_at": ts(after.opened_at),
        "since": ts(after.since),
        "window_s": after.window_s,
        "districts": list(after.districts),
        "domains": list(after.domains),
        "device_count": after.device_count,
        "alert_count": len(after.members),
        "acknowledged_at": ts(after.acknowledged_at),
        "acknowledged_by": after.acknowledged_by,
        "resolved_at": ts(after.resolved_at),
        "resolved_by": after.resolved_by,
        "closed_at": ts(after.closed_at),
        "closed_by": after.closed_by,
        "summary": after.summary,
        "procedure": after.procedure,
    }
    names = list(values)
    if before is None:
        conn.execute(
            f"INSERT INTO incidents ({', '.join(names)})"
            f" VALUES ({', '.join('%(' + n + ')s' for n in names)})",
            values,
        )
    else:
        sets = ", ".join(f"{n} = %({n})s" for n in names if n != "id")
        conn.execute(f"UPDATE incidents SET {sets}, updated_at = now() WHERE id = %(id)s", values)
    _save_members(conn, before, after)
    if before is None or before.steps != after.steps:
        _save_steps(conn, before, after)
    ids: list[int] = []
    for e in entries:
        row = conn.execute(
            "INSERT INTO incident_history (incident_id, at, action, by, note)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (after.id, ts(e.at), e.action, e.by, e.note),
        ).fetchone()
        assert row is not None
        ids.append(int(row[0]))
    return ids


def _save_members(conn: Connection, before: Incident | None, after: Incident) -> None:
    known = {} if before is None else {m.alert_id: m for m in before.members}
    changed = [m for m in after.members if known.get(m.alert_id) != m]
    if not changed:
        return
    with conn.cursor() as cur:
        cur.executemany(
            f"""INSERT INTO incident_alerts (incident_id, {_MEMBER})
                VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
                ON CONFLICT (alert_id) DO UPDATE SET severity = excluded.severity,
                  state = excluded.state, at = excluded.at, value = excluded.value
                WHERE incident_alerts.incident_id = excluded.incident_id""",
            [
                (
                    after.id,
                    m.alert_id,
                    m.rule_id,
                    m.rule_name,
                    m.subject,
                    m.device_id,
                    m.domain,
                    m.district,
                    m.severity,
                    m.state,
                    ts(m.since),
                    ts(m.at),
                    m.value,
                )
                for m in changed
            ],
        )


def _save_steps(conn: Connection, before: Incident | None, after: Incident) -> None:
    if before is not None:
        conn.execute("DELETE FROM incident_steps WHERE incident_id = %s", (after.id,))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO incident_steps (incident_id, n, text, role, target_min, done_at,"
            " done_by, note) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (after.id, s.n, s.text, s.role, s.target_min, ts(s.done_at), s.done_by, s.note)
                for s in after.steps
            ],
        )


def record_escalation(conn: Connection, incident_id: int, tier: str, at: float) -> bool:
    """True if this call recorded the tier; False if it was recorded before (by another
    replica, or before a restart): the unique key decides who escalates."""
    cur = conn.execute(
        "INSERT INTO incident_escalations (incident_id, tier, at) VALUES (%s, %s, %s)"
        " ON CONFLICT DO NOTHING",
        (incident_id, tier, ts(at)),
    )
    return cur.rowcount == 1


def escalation_candidates(conn: Connection, severities: Sequence[str], older: float) -> list[int]:
    """Open incidents of these severities that opened (last) before ``older``."""
    rows = conn.execute(
        "SELECT id FROM incidents WHERE state = 'open' AND severity = ANY(%s) AND since <= %s"
        " ORDER BY id",
        (list(severities), ts(older)),
    ).fetchall()
    return [int(r[0]) for r in rows]


def held(conn: Connection, alert_ids: Sequence[int]) -> set[int]:
    """Which of these alerts an incident holds."""
    rows = conn.execute(
        "SELECT alert_id FROM incident_alerts WHERE alert_id = ANY(%s)", (list(alert_ids),)
    ).fetchall()
    return {int(r[0]) for r in rows}


# ---------------------------------------------------------------- queries


def _where(filters: dict[str, str | None]) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    for name, value in filters.items():
        if value is None:
            continue
        if "\x00" in value:
            clauses.append("false")
        elif name == "state" and value == "live":
            clauses.append("state IN ('open', 'acknowledged')")
        elif name in ("state", "severity"):
            clauses.append(f"{name} = %s")
            args.append(value)
        elif name == "domain":
            clauses.append("%s = ANY(domains)")
            args.append(value)
        elif name == "district":
            clauses.append("%s = ANY(districts)")
            args.append(value)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", args


def list_incidents(
    conn: Connection, filters: dict[str, str | None], limit: int, offset: int
) -> tuple[list[Incident], int]:
    """Incidents, newest first, with their steps and escalations but neither their alerts
    (:func:`alert_ids_of`) nor their history; and how many match in all."""
    where, args = _where(filters)
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM incidents{where} ORDER BY opened_at DESC, id DESC"
        " LIMIT %s OFFSET %s",
        [*args, limit, offset],
    ).fetchall()
    total = conn.execute(f"SELECT count(*) FROM incidents{where}", args).fetchone()
    found = [_summary(r) for r in rows]
    ids = [i.id for i in found]
    steps: dict[int, list[Step]] = {i: [] for i in ids}
    for r in conn.execute(
        "SELECT incident_id, n, text, role, target_min, done_at, done_by, note"
        " FROM incident_steps WHERE incident_id = ANY(%s) ORDER BY incident_id, n",
        (ids,),
    ).fetchall():
        steps[int(r[0])].append(Step(int(r[1]), r[2], r[3], r[4], epoch(r[5]), r[6], r[7]))
    tiers: dict[int, list[str]] = {i: [] for i in ids}
    for iid, tier in conn.execute(
        "SELECT incident_id, tier FROM incident_escalations WHERE incident_id = ANY(%s)"
        " ORDER BY incident_id, at, tier",
        (ids,),
    ).fetchall():
        tiers[int(iid)].append(str(tier))
    out = [replace(i, steps=tuple(steps[i.id]), escalated=tuple(tiers[i.id])) for i in found]
    return out, int(total[0]) if total else 0


def _summary(row: Sequence[Any]) -> Incident:
    """An incident row without its alerts' details (the list view): members empty."""
    data = dict(zip([c.strip() for c in _COLUMNS.split(",")], row, strict=True))
    for name in _TIMES:
        data[name] = epoch(data[name])
    data["districts"], data["domains"] = tuple(data["districts"]), tuple(data["domains"])
    return Incident(**data)


def alert_ids_of(conn: Connection, ids: Sequence[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {i: [] for i in ids}
    for iid, aid in conn.execute(
        "SELECT incident_id, alert_id FROM incident_alerts WHERE incident_id = ANY(%s)"
        " ORDER BY incident_id, alert_id",
        (list(ids),),
    ).fetchall():
        out[int(iid)].append(int(aid))
    return out


def history_ids(conn: Connection, incident_id: int) -> list[int]:
    rows = conn.execute(
        "SELECT id FROM incident_history WHERE incident_id = %s ORDER BY id", (incident_id,)
    ).fetchall()
    return [int(r[0]) for r in rows]
