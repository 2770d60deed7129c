"""Throttling of failed sign-ins and bad API keys, per client: a pure token bucket.

Each client address has a bucket of ``burst`` failures that refills at ``per_minute``.
A failure takes one token; a client with no token left is refused (HTTP 429 with
``Retry-After``) before its credentials are even looked at, until a token is back.
Successes cost nothing. The clock is an argument, so tests step it.

State lives in the process: each API replica throttles on its own, so N replicas
behind a balancer let through at most N times the burst. That is documented, not
hidden: the burst is small and keys are 256-bit random values; for passwords it still
bounds guessing to ``per_minute`` tries per client per replica.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

from ioc.errors import TooManyAttempts

#: Clients tracked at most; beyond it the fullest (least suspicious) buckets are dropped.
MAX_CLIENTS = 10_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class Throttle:
    def __init__(self, burst: int = 10, per_minute: float = 10.0) -> None:
        if burst < 1 or per_minute <= 0:
            raise ValueError("burst must be at least 1 and per_minute above 0")
        self.burst = burst
        self.rate = per_minute / 60.0
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def _refilled(self, client: str, now: float) -> _Bucket:
        bucket = self._buckets.get(client)
        if bucket is None:
            return _Bucket(float(self.burst), now)
        bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        return bucket

    def retry_after(self, client: str, now: float) -> int:
        """Seconds until ``client`` may try again; 0 when it may now."""
        with self._lock:
            bucket = self._refilled(client, now)
            if bucket.tokens >= 1.0:
                return 0
            return max(1, math.ceil((1.0 - bucket.tokens) / self.rate))

    def check(self, client: str, now: float) -> None:
        """Raise :class:`TooManyAttempts` when ``client`` has no attempt left."""
        wait = self.retry_after(client, now)
        if wait:
            raise TooManyAttempts(wait)

    def fail(self, client: str, now: float) -> bool:
        """Count a failure; True when this one used the client's last attempt."""
        with self._lock:
            bucket = self._refilled(client, now)
            bucket.tokens = max(0.0, bucket.tokens - 1.0)
            self._buckets[client] = bucket
            if len(self._buckets) > MAX_CLIENTS:
                self._forget_fullest()
            return bucket.tokens < 1.0

    def _forget_fullest(self) -> None:
        fullest = sorted(self._buckets, key=lambda c: -self._buckets[c].tokens)
        for client in fullest[: len(self._buckets) - MAX_CLIENTS]:
            del self._buckets[client]
