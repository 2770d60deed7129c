"""Deliver outbox rows to their targets, each target on its own thread and connection,
so one slow or failing target never delays the others.

A row is claimed with ``FOR UPDATE SKIP LOCKED`` inside a transaction that lasts for its
delivery: a crash releases the lock and the row is delivered again later (targets get a
stable ``key`` to de-duplicate on). A failed delivery is retried after an exponential
backoff with jitter (:func:`backoff`); a row becomes ``dead`` only after
``max_attempts``, and by default never — losing a notification is worse than a row
that keeps waiting for a target to come back.

Registering a target: anything with a ``name`` and a ``deliver(item)`` that raises on
failure (:class:`Target`). Pass it to :class:`Drainer` (or :meth:`Drainer.add`); routes
for it are declared in ``outbox_routes`` so notifications are written for it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from ioc.background import Backoff, Fatal, Outage, Worker, WorkerMetrics
from ioc.errors import Unavailable
from ioc.outbox import store
from ioc.outbox.store import OutboxItem
from ioc.storage.db import Connection, connect, translated

log = logging.getLogger("ioc.outbox")


class Target(Protocol):
    """A place notifications go. ``deliver`` returns when the item was accepted and
    raises (anything) otherwise; it must bound its own time (HTTP timeouts)."""

    name: str

    def deliver(self, item: OutboxItem) -> None: ...


def backoff(attempts: int, rng: random.Random, base_s: float = 1.0, cap_s: float = 300.0) -> float:
    """Seconds before retry number ``attempts`` (1 = first retry): "equal jitter", half
    of the capped exponential fixed and half random, so retries spread out but never
    collapse to zero."""
    ceiling = min(cap_s, base_s * 2 ** max(0, attempts - 1))
    return float(ceiling / 2 + rng.uniform(0, ceiling / 2))


class Drainer:
    def __init__(
        self,
        database_url: str,
        targets: Iterable[Target] = (),
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        base_s: float = 1.0,
        cap_s: float = 300.0,
        max_attempts: int | None = None,
        poll_s: float = 0.5,
        metrics: WorkerMetrics | None = None,
        on_fatal: Fatal | None = None,
    ) -> None:
        self.database_url = database_url
        self.targets: dict[str, Target] = {}
        self.clock = clock
        self.rng = rng or random.Random()
        self.base_s = base_s
        self.cap_s = cap_s
        self.max_attempts = max_attempts
        self.poll_s = poll_s
        self.delivered: dict[str, int] = {}
        self.failed: dict[str, int] = {}
        self.metrics = metrics
        self.on_fatal = on_fatal
        self.workers: list[Worker] = []
        #: each target's reachability: one log line when it fails, one when it is back
        self.outages: dict[str, Outage] = {}
        for t in targets:
            self.add(t)

    def add(self, target: Target) -> None:
        if target.name in self.targets:
            raise ValueError(f"two outbox targets are named {target.name!r}")
        self.targets[target.name] = target
        self.delivered.setdefault(target.name, 0)
        self.failed.setdefault(target.name, 0)
        self.outages[target.name] = Outage(
            f"outbox-{target.name}", f"target {target.name}", log, self.metrics
        )

    def declare_routes(self) -> None:
        """Make sure every target of this drainer gets notifications written for it."""
        with connect(self.database_url, autocommit=True) as conn:
            store.declare_routes(conn, list(self.targets))

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def drain_one(self, conn: Connection, target: Target) -> bool:
        """Deliver (or fail) the oldest due item of ``target``; False when none is due."""
        with translated(), conn.transaction():
            item = store.claim(conn, target.name, self._now())
            if item is None:
                return False
            try:
                target.deliver(item)
            except Exception as exc:  # any failure of a target is a retry, never a crash
                attempts = item.attempts + 1
                dead = self.max_attempts is not None and attempts >= self.max_attempts
                delay = backoff(attempts, self.rng, self.base_s, self.cap_s)
                store.mark_failed(
                    conn,
                    item.id,
                    f"{type(exc).__name__}: {exc}",
                    self._now() + timedelta(seconds=delay),
                    dead,
                )
                self.failed[target.name] += 1
                self.outages[target.name].failed(exc, key=item.key)
                log.debug(
                    "delivery failed",
                    extra={
                        "target": target.name,
                        "key": item.key,
                        "attempts": attempts,
                        "retry_in_s": None if dead else round(delay, 3),
                        "error": str(exc)[:200],
                    },
                )
                return True
            store.mark_delivered(conn, item.id, self._now())
            self.delivered[target.name] += 1
            self.outages[target.name].succeeded()
            return True

    def drain(self, name: str | None = None, limit: int = 10_000) -> int:
        """Burst mode (tests, one-shot runs): deliver what is due now, target by target;
        returns the number of items handled."""
        handled = 0
        with connect(self.database_url, autocommit=True, application_name="ioc-outbox") as conn:
            for target in self.targets.values():
                if name is not None and target.name != name:
                    continue
                while handled < limit and self.drain_one(conn, target):
                    handled += 1
        return handled

    def _worker(self, target: Target) -> Worker:
        """A worker that drains ``target`` on a connection of its own."""
        conn: Connection | None = None

        def step() -> float | None:
            nonlocal conn
            if conn is None or conn.closed:
                conn = connect(self.database_url, autocommit=True, application_name="ioc-outbox")
            try:
                handled = self.drain_one(conn, target)
            except Unavailable:
                conn.close()
                conn = None
                raise
            return None if handled else self.poll_s

        def close() -> None:
            if conn is not None:
                conn.close()

        return Worker(
            f"outbox-{target.name}",
            step,
            log=log,
            metrics=self.metrics,
            backoff=Backoff(base_s=1.0, cap_s=30.0, rng=self.rng),
            on_fatal=self.on_fatal,
            final=close,
        )

    def start(self) -> None:
        for target in self.targets.values():
            worker = self._worker(target)
            worker.start()
            self.workers.append(worker)

    @property
    def healthy(self) -> bool:
        return all(w.failed is None for w in self.workers)

    def stop(self, timeout: float = 30.0) -> None:
        for worker in self.workers:
            worker.stopping.set()
        for worker in self.workers:
            worker.stop(timeout)
        self.workers.clear()
