"""Every query of every dashboard, with Grafana's macros expanded, runs against the real
database after a burst through the real ingest, and returns data.

Each query runs at three panel intervals (raw readings, per-minute and per-hour rollups)
and with the variables at All and narrowed to one district and device.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from dashboards.generate import boards
from dashboards.model import ALL as ALL_VALUE
from testkit.dashboard_walk import Query, queries
from testkit.grafana_sql import ALL, Context, expand
from tests.dashboards import burst as burst_mod

BOARDS = {b.model["uid"]: b.model for b in boards()}
INTERVALS = {"raw": 5_000, "1m": 120_000, "1h": 3_600_000}


def _cases() -> Iterator[Any]:
    for uid, model in BOARDS.items():
        for q in queries(model):
            yield pytest.param(uid, q, id=q.where)


def _domain(uid: str) -> str | None:
    name = uid.removeprefix("ioc-")
    return name if name in ("traffic", "energy", "agriculture", "health") else None


def _contexts(uid: str, burst: burst_mod.Burst) -> Iterator[tuple[str, Context]]:
    end = datetime.now(UTC) + timedelta(seconds=5)
    start = end - timedelta(hours=burst_mod.HOURS)
    domain = _domain(uid)
    narrowed: dict[str, object] = {}
    if domain:
        district = burst.districts[0]
        narrowed = {"district": [district], "device": [burst.device_in(domain, district)]}
    for label, ms in INTERVALS.items():
        every = {"district": ALL, "device": ALL}
        alls = {"district": ALL_VALUE, "device": ALL_VALUE}
        yield f"{label}/all", Context(start, end, ms, every, alls)
        if narrowed:
            yield f"{label}/narrowed", Context(start, end, ms, narrowed, alls)


@pytest.mark.parametrize(("uid", "query"), list(_cases()))
def test_query_returns_data(
    uid: str, query: Query, burst: burst_mod.Burst, conn: psycopg.Connection[tuple[Any, ...]]
) -> None:
    for label, ctx in _contexts(uid, burst):
        sql = expand(query.sql, ctx)
        cur = conn.execute(sql)  # type: ignore[call-overload]
        rows = cur.fetchall()
        columns = [c.name for c in cur.description or []]
        assert rows, f"{query.where} [{label}] returned no rows:\n{sql}"
        if query.format == "time_series":
            assert columns[0] == "time", f"{query.where}: a time series needs a time column first"
        assert not all(v is None for row in rows for v in row), f"{query.where} [{label}]: nulls"


def test_the_wall_shows_the_burst(
    burst: burst_mod.Burst, conn: psycopg.Connection[tuple[Any, ...]]
) -> None:
    """Beyond "returns rows": the map colours the alerting, offline and silent devices."""
    from dashboards.wall import map_sql

    ctx = Context(datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC), 5000)
    rows = conn.execute(expand(map_sql(), ctx)).fetchall()  # type: ignore[call-overload]
    state = {r[0]: r[6] for r in rows}
    energy = [d.device_id for d in burst.devices["energy"]]
    assert state[energy[0]] == 5  # critical alert wins over offline
    assert state[energy[1]] == 5
    assert state[energy[2]] == 0  # its alert was resolved
    assert state[burst.silent] == 1  # stale
    assert state[burst.device_in("traffic", burst.districts[1])] == 0
