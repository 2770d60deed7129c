"""The hand-over between the MQTT thread and the writer: a queue taken in batches.

The MQTT side only appends (``deque.append`` is atomic) and wakes the writer when it
matters; the writer takes a batch by size or by time. Memory is bounded by the broker's
Receive Maximum, not here: nothing unacknowledged is ever more than that.

How long to wait for a fuller batch follows what a write costs: waiting buys fewer
transactions, and once the wait is a few times the write itself the saving is small
while every message pays the wait. So the writer waits at most :data:`LINGER_WRITES`
times its last write (never less than :data:`MIN_LINGER_S`, never more than
``batch_wait_s``): under light load batches go out within tens of milliseconds, under
heavy load they fill up by size before any wait ends.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from datetime import UTC, datetime

from ioc.mqtt.types import Delivery

#: The wait for a fuller batch, in multiples of the last write's duration.
LINGER_WRITES = 2.0
MIN_LINGER_S = 0.02


class Inbox:
    def __init__(self, batch_messages: int, batch_wait_s: float) -> None:
        self.batch_messages = batch_messages
        self.batch_wait_s = batch_wait_s
        self._linger_s = batch_wait_s
        self._queue: deque[Delivery] = deque()
        self._wakeup = threading.Condition()
        self._busy = False
        self.closing = threading.Event()

    def __len__(self) -> int:
        return len(self._queue)

    def put(self, delivery: Delivery) -> None:
        queue = self._queue
        queue.append(delivery)
        if len(queue) == 1 or len(queue) >= self.batch_messages:
            with self._wakeup:
                self._wakeup.notify()

    def take(self, idle_wait_s: float = 0.25) -> list[Delivery]:
        """Wait for a first message, then for a full batch until the linger after the
        oldest queued one arrived; the batch is "busy" until :meth:`done`."""
        limit = self.batch_messages
        with self._wakeup:
            if not self._queue:
                self._wakeup.wait(timeout=idle_wait_s)
            if not self._queue:
                return []
            # the wait runs from when the oldest message arrived, not from now: a
            # writer that was busy committing the last batch has waited already
            waited = (datetime.now(UTC) - self._queue[0].received_at).total_seconds()
            deadline = time.monotonic() + self._linger_s - max(0.0, waited)
            while len(self._queue) < limit and not self.closing.is_set():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._wakeup.wait(timeout=remaining)
            n = min(limit, len(self._queue))
            self._busy = True
            return [self._queue.popleft() for _ in range(n)]

    @property
    def linger_s(self) -> float:
        """How long the next batch may wait to fill up."""
        return self._linger_s

    def wrote(self, seconds: float) -> None:
        """The last batch took ``seconds`` to write: the next waits in proportion."""
        self._linger_s = min(self.batch_wait_s, max(MIN_LINGER_S, LINGER_WRITES * seconds))

    def done(self) -> None:
        with self._wakeup:
            self._busy = False
            self._wakeup.notify_all()

    def close(self) -> None:
        """Stop waiting for full batches (shutdown)."""
        self.closing.set()
        with self._wakeup:
            self._wakeup.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """True once nothing is queued or being written."""
        deadline = time.monotonic() + timeout
        with self._wakeup:
            while self._queue or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._wakeup.wait(timeout=min(remaining, 0.05))
        return True
