"""Background workers: threads that loop, retry a dependency that is down, and stop.

Every service has a few (ingest's writer, housekeeping, the alert engine's evaluator,
the outbox's per-target drainers, the GOC report scheduler), and each used to carry its
own retry loop. They now share three pieces:

- :class:`Backoff`: capped exponential delays with jitter, reset on success.
- :class:`Outage`: the up/down state of one dependency as one worker sees it. It logs
  once when the dependency goes down and once when it comes back (with how many attempts
  that took), and counts every failed attempt in ``/metrics``; a database outage of five
  minutes is two log lines, not one per retry.
- :class:`Worker`: a named daemon thread that calls ``step()`` until stopped. A step that
  raises :class:`~ioc.errors.Unavailable` is retried after the backoff; any other
  exception ends the thread, marks it dead in ``/metrics`` and calls ``on_fatal`` — the
  entry points turn that into a non-zero exit, so a supervisor (compose ``restart:``,
  systemd ``Restart=``) restarts the whole process instead of leaving it half alive.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from ioc.errors import Unavailable

Step = Callable[[], float | None]
Fatal = Callable[[str, BaseException], None]


class Backoff:
    """Seconds to wait before each retry: ``base_s`` doubling up to ``cap_s``, with
    "equal jitter" (half fixed, half random), so replicas do not retry in step."""

    def __init__(
        self, base_s: float = 0.5, cap_s: float = 30.0, rng: random.Random | None = None
    ) -> None:
        if base_s <= 0 or cap_s < base_s:
            raise ValueError("backoff needs 0 < base_s <= cap_s")
        self.base_s = base_s
        self.cap_s = cap_s
        self.rng = rng or random.Random()
        self.attempts = 0

    def next(self) -> float:
        """The delay before the next attempt (and count this one)."""
        self.attempts += 1
        ceiling = min(self.cap_s, self.base_s * 2 ** (self.attempts - 1))
        return float(ceiling / 2 + self.rng.uniform(0, ceiling / 2))

    def reset(self) -> None:
        self.attempts = 0


class WorkerMetrics:
    """``ioc_worker_up{worker}`` (0 once a thread died) and
    ``ioc_worker_retries_total{worker,dependency}``, in the service's own registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.up = Gauge(
            "ioc_worker_up", "1 while a background thread runs", ["worker"], registry=registry
        )
        self.retries = Counter(
            "ioc_worker_retries",
            "Failed attempts to reach a dependency (each retried after a backoff)",
            ["worker", "dependency"],
            registry=registry,
        )
        self.down = Gauge(
            "ioc_worker_dependency_down",
            "1 while a worker cannot reach a dependency",
            ["worker", "dependency"],
            registry=registry,
        )


class ServiceMetrics:
    """A service's counters in a registry of its own (so that several services can run in
    one test process without colliding), with its workers' metrics already in it.
    Services subclass it and add their own counters to ``self.registry``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        #: worker threads alive, dependency outages and retry attempts
        self.workers = WorkerMetrics(self.registry)

    def value(self, name: str, **labels: str) -> float:
        """Current value of a sample (``name`` with its ``_total`` suffix for counters)."""
        return self.registry.get_sample_value(name, labels) or 0.0


class Outage:
    """The state of one dependency for one worker: logs only the changes."""

    def __init__(
        self,
        worker: str,
        dependency: str,
        log: logging.Logger,
        metrics: WorkerMetrics | None = None,
    ) -> None:
        self.worker = worker
        self.dependency = dependency
        self.log = log
        self.metrics = metrics
        self.down = False
        self.attempts = 0
        if metrics is not None:
            metrics.retries.labels(worker, dependency)
            metrics.down.labels(worker, dependency).set(0)

    def failed(self, exc: BaseException, **extra: Any) -> None:
        """One failed attempt: counted always, logged only on the first of an outage."""
        self.attempts += 1
        if self.metrics is not None:
            self.metrics.retries.labels(self.worker, self.dependency).inc()
        if not self.down:
            self.down = True
            if self.metrics is not None:
                self.metrics.down.labels(self.worker, self.dependency).set(1)
            self.log.warning(
                f"{self.dependency} unavailable; retrying with backoff",
                extra={"worker": self.worker, "error": str(exc)[:300], **extra},
            )

    def succeeded(self) -> None:
        """A successful attempt: logged once if it ends an outage."""
        if self.down:
            self.log.info(
                f"{self.dependency} available again",
                extra={"worker": self.worker, "attempts": self.attempts},
            )
            if self.metrics is not None:
                self.metrics.down.labels(self.worker, self.dependency).set(0)
        self.down = False
        self.attempts = 0


class Failures:
    """Where workers report their death: the first one is kept and ``stop`` is set, so
    the entry point waiting on ``stop`` shuts the rest down and exits non-zero."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.first: tuple[str, BaseException] | None = None
        self._lock = threading.Lock()

    def __call__(self, name: str, exc: BaseException) -> None:
        with self._lock:
            if self.first is None:
                self.first = (name, exc)
        self.stop.set()


class Worker:
    """Run ``step()`` on a daemon thread until :meth:`stop`.

    ``step`` returns how long to wait before the next call (None or 0: at once). An
    :class:`Unavailable` from it waits out the backoff and tries again; anything else
    is a bug or a broken invariant: the thread ends, ``failed`` holds the exception and
    ``on_fatal(name, exc)`` is called (the service's way to exit non-zero). ``final``
    runs once when the loop ends (close connections, flush).
    """

    def __init__(
        self,
        name: str,
        step: Step,
        *,
        log: logging.Logger,
        dependency: str = "database",
        metrics: WorkerMetrics | None = None,
        backoff: Backoff | None = None,
        on_fatal: Fatal | None = None,
        final: Callable[[], None] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.name = name
        self.step = step
        self.log = log
        self.metrics = metrics
        self.backoff = backoff or Backoff()
        self.outage = Outage(name, dependency, log, metrics)
        self.on_fatal = on_fatal
        self.final = final
        self.stopping = stop or threading.Event()
        self.failed: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        if self.metrics is not None:
            self.metrics.up.labels(self.name).set(1)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def run_step(self) -> float | None:
        """One step with the outage bookkeeping; returns the wait before the next."""
        try:
            wait = self.step()
        except Unavailable as exc:
            self.outage.failed(exc)
            return self.backoff.next()
        if self.backoff.attempts:
            self.outage.succeeded()
            self.backoff.reset()
        return wait

    def _run(self) -> None:
        try:
            while not self.stopping.is_set():
                wait = self.run_step()
                if wait:
                    self.stopping.wait(wait)
        except BaseException as exc:
            self.failed = exc
            if self.metrics is not None:
                self.metrics.up.labels(self.name).set(0)
            self.log.critical("background worker died", extra={"worker": self.name}, exc_info=True)
            if self.on_fatal is not None:
                self.on_fatal(self.name, exc)
            return
        finally:
            if self.final is not None:
                try:
                    self.final()
                except Exception:
                    self.log.exception("worker clean-up failed", extra={"worker": self.name})
        if self.metrics is not None:
            self.metrics.up.labels(self.name).set(0)
