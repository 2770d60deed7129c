"""The outbox: backoff, per-target draining against the real database (a slow target does
not hold back a fast one; failures retry, then succeed or die), and the webhook and
Grafana targets against their documented HTTP contracts (httpx.MockTransport)."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest

from ioc.alerts import store
from ioc.alerts.models import RuleSpec
from ioc.config import Settings
from ioc.errors import Unavailable
from ioc.outbox.drainer import Drainer, backoff
from ioc.outbox.store import OutboxItem, declare_routes, enqueue
from ioc.outbox.targets import GrafanaTarget, WebhookTarget
from ioc.services.alerts import targets_from_settings
from testkit.services import wait_for

Conn = psycopg.Connection[tuple[object, ...]]
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("attempts", [1, 2, 3, 5, 8, 20, 60])
def test_backoff_grows_with_jitter_and_is_capped(attempts: int) -> None:
    rng = random.Random(attempts)
    ceiling = min(300.0, 2.0 ** (attempts - 1))
    delays = [backoff(attempts, rng) for _ in range(200)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert len(set(delays)) > 100  # jittered: replicas retrying together spread out


class Recorder:
    """A target that records deliveries; fails its first ``fail`` calls; may block."""

    def __init__(self, name: str, fail: int = 0, gate: threading.Event | None = None) -> None:
        self.name = name
        self.fail = fail
        self.gate = gate
        self.items: list[OutboxItem] = []
        self.calls = 0

    def deliver(self, item: OutboxItem) -> None:
        self.calls += 1
        if self.gate is not None:
            self.gate.wait(30)
        if self.calls <= self.fail:
            raise Unavailable(f"down (call {self.calls})")
        self.items.append(item)


@pytest.fixture
def routes(db: Conn) -> Iterator[Callable[..., list[str]]]:
    declared: list[str] = []

    def _declare(*names: str) -> list[str]:
        declare_routes(db, names, kinds=("test.event",))
        declared.extend(names)
        return list(names)

    yield _declare
    db.execute("DELETE FROM outbox_routes WHERE target = ANY(%s)", (declared,))


def put(db: Conn, key: str, severity: str = "major") -> int:
    return enqueue(db, "test.event", key, {"key": key}, severity)


def states(db: Conn, target: str) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT key, state, attempts, last_error IS NOT NULL FROM outbox WHERE target = %s"
        " ORDER BY id",
        (target,),
    ).fetchall()


def test_each_routed_target_gets_its_row_once(db: Conn, routes: Any, unique: Any) -> None:
    a, b = routes(unique("a"), unique("b"))
    key = unique("k")
    assert put(db, key) == 2
    assert put(db, key) == 0  # the same notification again: nothing new
    assert [r[:2] for r in states(db, a)] == [(key, "pending")]
    assert [r[:2] for r in states(db, b)] == [(key, "pending")]


def test_a_slow_target_does_not_delay_the_others(
    db: Conn, database_url: str, routes: Any, unique: Any
) -> None:
    slow_name, fast_name = routes(unique("slow"), unique("fast"))
    gate = threading.Event()
    slow, fast = Recorder(slow_name, gate=gate), Recorder(fast_name)
    for i in range(5):
        put(db, unique(f"n{i}"))
    drainer = Drainer(database_url, [slow, fast], poll_s=0.05)
    drainer.start()
    try:
        wait_for(lambda: len(fast.items) == 5, timeout=10)
        assert slow.items == [] and slow.calls == 1  # stuck on its first delivery
    finally:
        gate.set()
        wait_for(lambda: len(slow.items) == 5, timeout=10)
        drainer.stop()
    assert [r[1] for r in states(db, slow_name)] == ["delivered"] * 5


def test_failures_retry_with_backoff_then_deliver(
    db: Conn, database_url: str, routes: Any, unique: Any
) -> None:
    [name] = routes(unique("flaky"))
    target = Recorder(name, fail=2)
    now = [T0.timestamp()]
    drainer = Drainer(database_url, [target], clock=lambda: now[0], rng=random.Random(1))
    put(db, unique("k"))
    now[0] = datetime.now(UTC).timestamp()  # due (enqueued at the database's now)
    assert drainer.drain() == 1  # failed once; next attempt 0.5-1 s later
    assert drainer.drain() == 0  # not due yet: nothing is retried early
    now[0] += 1.0
    assert drainer.drain() == 1  # failed twice; next in 1-2 s
    now[0] += 2.0
    assert drainer.drain() == 1
    [(_, state, attempts, has_error)] = states(db, name)
    assert (state, attempts, has_error) == ("delivered", 3, False)
    assert len(target.items) == 1 and drainer.failed[name] == 2


def test_a_row_dies_after_max_attempts(
    db: Conn, database_url: str, routes: Any, unique: Any
) -> None:
    [name] = routes(unique("broken"))
    now = [datetime.now(UTC).timestamp() + 1]
    drainer = Drainer(database_url, [Recorder(name, fail=99)], clock=lambda: now[0], max_attempts=3)
    put(db, unique("k"))
    for _ in range(5):
        drainer.drain()
        now[0] += 1000
    [(_, state, attempts, has_error)] = states(db, name)
    assert (state, attempts, has_error) == ("dead", 3, True)


def item(kind: str = "alert.opened", **payload: Any) -> OutboxItem:
    alert = {
        "id": 7,
        "rule_name": "Vaccine fridge warm",
        "subject": "fridge-1",
        "domain": "health",
        "district": "D1",
        "severity": "critical",
        "value": 9.4,
        "started_at": "2026-11-23T10:00:00+00:00",
        "resolved_at": None,
        "by": "engine",
    }
    return OutboxItem(1, "x", kind, f"alert-7-{kind}", {**alert, **payload}, 0, T0)


def test_webhook_posts_json_with_an_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(204 if len(seen) == 1 else 503)

    target = WebhookTarget(
        "http://hooks.test/ioc", httpx.Client(transport=httpx.MockTransport(handler))
    )
    target.deliver(item())
    body = json.loads(seen[0].content)
    assert seen[0].method == "POST" and str(seen[0].url) == "http://hooks.test/ioc"
    assert seen[0].headers["Idempotency-Key"] == "alert-7-alert.opened"
    assert body["kind"] == "alert.opened" and body["alert"]["value"] == 9.4
    with pytest.raises(Unavailable, match="503"):
        target.deliver(item())


def test_webhook_transport_errors_become_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    target = WebhookTarget(
        "http://hooks.test/", httpx.Client(transport=httpx.MockTransport(handler))
    )
    with pytest.raises(Unavailable, match="unreachable"):
        target.deliver(item())


def test_grafana_annotations_follow_the_documented_api() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = json.loads(request.content)
        ok = (
            request.url.path == "/api/annotations"
            and isinstance(body["time"], int)
            and isinstance(body["tags"], list)
            and all(isinstance(t, str) for t in body["tags"])
            and isinstance(body["text"], str)
            and ("timeEnd" not in body or body["timeEnd"] >= body["time"])
        )
        if not ok:
            return httpx.Response(400, json={"message": "bad annotation"})
        return httpx.Response(200, json={"message": "Annotation added", "id": len(seen)})

    target = GrafanaTarget(
        "http://grafana.test/", "glsa_token", httpx.Client(transport=httpx.MockTransport(handler))
    )
    target.deliver(item())
    target.deliver(item("alert.resolved", resolved_at="2026-11-23T10:09:00+00:00", value=7.2))
    opened, resolved = (json.loads(r.content) for r in seen)
    assert seen[0].headers["Authorization"] == "Bearer glsa_token"
    assert opened["time"] == int(T0.timestamp() * 1000) and "timeEnd" not in opened
    assert {"ioc", "alert", "opened", "critical", "health", "district:D1"} <= set(opened["tags"])
    assert "Vaccine fridge warm" in opened["text"] and "9.4" in opened["text"]
    assert resolved["timeEnd"] - resolved["time"] == 9 * 60 * 1000


def test_critical_alert_reaches_every_configured_target(
    db: Conn, database_url: str, unique: Any
) -> None:
    received: dict[str, list[httpx.Request]] = {"hook": [], "grafana": [], "goc": []}

    def handler(request: httpx.Request) -> httpx.Response:
        where = {"hooks.test": "hook", "grafana.test": "grafana", "goc.test": "goc"}
        received[where[request.url.host]].append(request)
        return httpx.Response(200, json={})

    settings = Settings(
        database_url=database_url,
        alerts_webhook_url="http://hooks.test/ioc",
        alerts_grafana_url="http://grafana.test",
        goc_url="http://goc.test/ingest",
        goc_secret="s3cret-for-tests",  # type: ignore[arg-type]
    )
    targets = targets_from_settings(settings, httpx.Client(transport=httpx.MockTransport(handler)))
    assert sorted(t.name for t in targets) == ["goc", "grafana", "webhook"]
    drainer = Drainer(database_url, targets)
    drainer.declare_routes()
    try:
        drainer.drain()  # whatever earlier tests left for these targets
        for r in received.values():
            r.clear()
        rule = store.create_rule(
            db,
            RuleSpec.model_validate(
                {
                    "name": unique("fridge"),
                    "kind": "threshold",
                    "domain": "health",
                    "metric": "fridge_temp_c",
                    "severity": "critical",
                    "params": {"op": ">", "value": 8},
                    "enabled": False,  # opened by hand below; no engine may use it
                }
            ),
        )
        alert = store.open_alert(db, rule, unique("f"), None, "D1", T0, 9.0)
        assert alert is not None
        assert drainer.drain() == 3
        assert {k: len(v) for k, v in received.items()} == {"hook": 1, "grafana": 1, "goc": 1}
        assert received["goc"][0].headers["Idempotency-Key"] == f"alert-{alert.id}-opened"
    finally:
        db.execute("DELETE FROM outbox_routes WHERE target IN ('webhook', 'grafana')")
