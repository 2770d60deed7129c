"""Wrong API keys and failed sign-ins are throttled per client: a burst gets 429 with
Retry-After, a security event says so once, and the counter counts every refusal."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from fastapi.testclient import TestClient
from prometheus_client import generate_latest

from ioc.security import monitor
from ioc.security.keys import create_key
from ioc.security.roles import Role
from tests.security.conftest import FORM, Person


def _throttled_total() -> float:
    value = monitor.REGISTRY.get_sample_value(
        "ioc_security_events_total", {"event": "client.throttled"}
    )
    return value or 0.0


def test_forty_wrong_keys_in_a_burst_are_throttled(
    app_client: TestClient, database_url: str, unique: Callable[[str], str]
) -> None:
    with psycopg.connect(database_url) as conn:
        good, _ = create_key(conn, Role.VIEWER, unique("throttle"))
    before = _throttled_total()
    answers = [
        app_client.get("/api/v1/catalog", headers={"Authorization": f"Bearer wrong-{i}"})
        for i in range(40)
    ]
    statuses = [r.status_code for r in answers]
    assert statuses[:10] == [401] * 10  # the default burst
    assert set(statuses[10:]) == {429}
    retry = int(answers[-1].headers["retry-after"])
    assert 1 <= retry <= 60
    assert answers[-1].headers["content-type"].startswith("application/problem+json")
    # While refused, even a right key waits: guessing cannot go on between good calls.
    assert (
        app_client.get("/api/v1/catalog", headers={"Authorization": f"Bearer {good}"}).status_code
        == 429
    )
    assert _throttled_total() - before >= 30
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT event, count(*) FROM security_events WHERE time > now() - interval '1 min'"
            " AND event IN ('apikey.rejected', 'client.throttled') GROUP BY event"
        ).fetchall()
    counts: dict[str, int] = dict(rows)
    assert counts.get("apikey.rejected", 0) >= 10 and counts.get("client.throttled", 0) >= 1
    assert b"ioc_security_events_total" in generate_latest(monitor.REGISTRY)


def test_failed_sign_ins_are_throttled(
    app_client: TestClient, person: Callable[..., Person]
) -> None:
    who = person(Role.VIEWER)
    answers = [
        app_client.post(
            "/ui/login", data={"login": who.login, "password": f"guess number {i}"}, headers=FORM
        )
        for i in range(12)
    ]
    assert [r.status_code for r in answers[:10]] == [401] * 10
    assert answers[10].status_code == 429 and "retry-after" in answers[10].headers
    # The right password now also waits for the throttle.
    right = app_client.post(
        "/ui/login", data={"login": who.login, "password": who.password}, headers=FORM
    )
    assert right.status_code == 429
