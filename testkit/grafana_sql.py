"""Expand Grafana's SQL macros and variables the way Grafana does, to run panel SQL.

Documented semantics (PostgreSQL datasource, "Macros" and "Templates and variables"):

- ``$__timeFilter(col)`` → ``col BETWEEN '<from RFC 3339>' AND '<to RFC 3339>'``
- ``$__timeFrom()`` / ``$__timeTo()`` → the quoted range bounds
- ``$__interval_ms`` → the panel's interval in milliseconds; ``$__interval`` → e.g. ``1m``
- a multi-value variable → its values quoted and comma-separated (``'a','b'``); "All"
  with a custom all value → that value, raw; ``$name`` and ``${name}`` alike.

Anything else that looks like a macro or variable is an error: a query the expander
does not understand is a query the test cannot vouch for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

ALL = object()

_VAR = re.compile(r"\$\{(\w+)\}|\$(\w+)")


@dataclass(frozen=True)
class Context:
    start: datetime
    end: datetime
    interval_ms: int
    variables: dict[str, object] = field(default_factory=dict)  # name → list[str] | ALL
    all_values: dict[str, str] = field(default_factory=dict)  # name → custom all value


def _rfc3339(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _interval_text(ms: int) -> str:
    for unit, size in (("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def expand(sql: str, ctx: Context) -> str:
    frm, to = _quote(_rfc3339(ctx.start)), _quote(_rfc3339(ctx.end))
    sql = re.sub(
        r"\$__timeFilter\(([^)]+)\)", lambda m: f"{m[1].strip()} BETWEEN {frm} AND {to}", sql
    )
    sql = sql.replace("$__timeFrom()", frm).replace("$__timeTo()", to)
    sql = sql.replace("$__interval_ms", str(ctx.interval_ms))
    sql = sql.replace("$__interval", _interval_text(ctx.interval_ms))

    def variable(m: re.Match[str]) -> str:
        name = m[1] or m[2]
        if name not in ctx.variables:
            raise KeyError(f"query uses ${name}, which the expander was not given")
        value = ctx.variables[name]
        if value is ALL:
            return ctx.all_values[name]
        assert isinstance(value, list)
        return ",".join(_quote(v) for v in value)

    sql = _VAR.sub(variable, sql)
    if "$" in _without_literals(sql):
        raise ValueError(f"unexpanded macro left in: {sql}")
    return sql


def _without_literals(sql: str) -> str:
    return re.sub(r"'(?:[^']|'')*'", "''", sql)
