"""Alert rules in the database: the one owner of ``alert_rules``.

Input is a validated :class:`~ioc.alerts.models.RuleSpec` (so it already fits the
catalog); output is a :class:`~ioc.alerts.models.Rule`. A duplicate name is a
:class:`ioc.errors.Conflict` that names the rule; an unknown id a
:class:`ioc.errors.NotFound`. This module knows nothing of alerts: deleting a rule
together with resolving its open alerts is :func:`ioc.alerts.store.delete_rule`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg.types.json import Jsonb

from ioc.alerts.models import Rule, RuleSpec
from ioc.errors import Conflict, NotFound
from ioc.storage.db import Connection, translated

_COLUMNS = (
    "id, name, kind, domain, metric, severity, scope, params, enabled, labels, description,"
    " sop, created_at, updated_at"
)
_FIELDS = [c.strip() for c in _COLUMNS.split(",")]
_WRITABLE = (
    "name",
    "kind",
    "domain",
    "metric",
    "severity",
    "scope",
    "params",
    "enabled",
    "labels",
    "description",
    "sop",
)


def _rule(row: Sequence[Any]) -> Rule:
    return Rule.model_validate(dict(zip(_FIELDS, row, strict=True)))


def _values(spec: RuleSpec) -> list[Any]:
    data = spec.model_dump(mode="json")
    return [
        Jsonb(data[f]) if f in ("scope", "params", "labels", "sop") else data[f] for f in _WRITABLE
    ]


def list_rules(
    conn: Connection, domain: str | None = None, enabled: bool | None = None
) -> list[Rule]:
    clauses: list[str] = []
    args: list[object] = []
    if domain is not None:
        clauses.append("domain = %s")
        args.append(domain)
    if enabled is not None:
        clauses.append("enabled = %s")
        args.append(enabled)
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    with translated():
        rows = conn.execute(f"SELECT {_COLUMNS} FROM alert_rules{where} ORDER BY id", args)
        return [_rule(r) for r in rows.fetchall()]


def get_rule(conn: Connection, rule_id: int) -> Rule:
    with translated():
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM alert_rules WHERE id = %s", (rule_id,)
        ).fetchone()
    if row is None:
        raise NotFound(f"rule {rule_id} does not exist")
    return _rule(row)


def _taken(spec: RuleSpec) -> Conflict:
    return Conflict(f"a rule named {spec.name!r} already exists")


def create_rule(conn: Connection, spec: RuleSpec) -> Rule:
    placeholders = ", ".join(["%s"] * len(_WRITABLE))
    with translated(), conn.transaction():
        row = conn.execute(
            f"INSERT INTO alert_rules ({', '.join(_WRITABLE)}) VALUES ({placeholders})"
            f" ON CONFLICT (name) DO NOTHING RETURNING {_COLUMNS}",
            _values(spec),
        ).fetchone()
    if row is None:
        raise _taken(spec)
    return _rule(row)


def update_rule(conn: Connection, rule_id: int, spec: RuleSpec) -> Rule:
    """Replace a rule's definition; its open alerts stay open under the new definition."""
    sets = ", ".join(f"{f} = %s" for f in _WRITABLE)
    try:
        with translated(), conn.transaction():
            row = conn.execute(
                f"UPDATE alert_rules SET {sets}, updated_at = clock_timestamp() WHERE id = %s"
                f" RETURNING {_COLUMNS}",
                [*_values(spec), rule_id],
            ).fetchone()
    except Conflict as exc:  # the only unique column is the name
        raise _taken(spec) from exc
    if row is None:
        raise NotFound(f"rule {rule_id} does not exist")
    return _rule(row)


def remove_rule(conn: Connection, rule_id: int) -> None:
    """Delete the rule row; NotFound for an unknown id. Its open alerts are the
    caller's to resolve in the same transaction (:func:`ioc.alerts.store.delete_rule`)."""
    with translated():
        row = conn.execute(
            "DELETE FROM alert_rules WHERE id = %s RETURNING id", (rule_id,)
        ).fetchone()
    if row is None:
        raise NotFound(f"rule {rule_id} does not exist")


def rules_signature(conn: Connection) -> tuple[object, ...]:
    """A cheap fingerprint that changes whenever a rule is added, edited or removed."""
    with translated():
        row = conn.execute("SELECT count(*), max(id), max(updated_at) FROM alert_rules").fetchone()
    return tuple(row or ())
