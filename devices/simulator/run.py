"""Drive a :class:`Simulator` into a sink, in real time or as fast as it goes, with a
progress line on stderr every few seconds and a summary at the end."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TextIO

from devices.simulator.engine import Simulator
from devices.simulator.sinks import Sink, Stats


class Progress:
    """``connected 9,996/10,000 · sent 1,204,233 (12,010/s) · acked … · errors 0``.

    "acked" appears only where a broker acknowledges (QoS 1): a dry run writes messages,
    nobody receives them.
    """

    def __init__(
        self,
        stats: Stats,
        out: TextIO | None,
        every_s: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stats = stats
        self.out = out
        self.every_s = every_s
        self.clock = clock
        self.started = clock()
        self._last_t = self.started
        self._last_n = 0

    def line(self, now: float | None = None) -> str:
        s, t = self.stats, self.clock() if now is None else now
        rate = (s.messages - self._last_n) / max(t - self._last_t, 1e-9)
        self._last_t, self._last_n = t, s.messages
        acked = f" · acked {s.acked:,}" if s.acks else ""
        return (
            f"simulator: connected {s.connected:,}/{s.devices:,} · sent {s.messages:,} "
            f"({rate:,.0f}/s){acked} · errors {s.errors:,}"
        )

    def maybe(self) -> None:
        if self.out is not None and self.clock() - self._last_t >= self.every_s:
            print(self.line(), file=self.out, flush=True)

    def summary(self, sim: Simulator, steps: int) -> str:
        s = self.stats
        elapsed = max(self.clock() - self.started, 1e-9)
        faults = ", ".join(f"{k} {v:,}" for k, v in sorted(s.faults.items())) or "none"
        lines = [
            f"simulator: done after {steps:,} steps ({elapsed:.1f} s wall, "
            f"simulated up to {sim.now.isoformat()})",
            f"  devices   {s.devices:,}",
            f"  messages  {s.messages:,} ({s.messages / elapsed:,.0f}/s): "
            f"{s.samples:,} samples, {s.statuses:,} status",
            *([f"  acked     {s.acked:,}"] if s.acks else []),
            f"  errors    {s.errors:,}",
            f"  faults    {faults}",
            f"  scenarios {', '.join(x.name for x in sim.scenarios) or 'none'}",
        ]
        return "\n".join(lines)


def run(
    sim: Simulator,
    sink: Sink,
    steps: int | None,
    *,
    realtime: bool,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Connect, step ``steps`` times (forever if None, until ``stop``), disconnect.

    In real time, step ``k`` is sent ``k`` intervals after the start on the wall clock; a
    step that runs late is sent at once (the timestamps stay on the simulated grid).
    Returns the number of steps taken.
    """
    stop = stop or threading.Event()
    interval = sim.interval.total_seconds()
    sink.open()
    done = 0
    try:
        sink.send(sim.connect())
        t0 = time.monotonic()
        try:
            while (steps is None or done < steps) and not stop.is_set():
                if realtime:
                    delay = t0 + done * interval - time.monotonic()
                    if delay > 0 and stop.wait(delay):
                        break
                sink.send(sim.step())
                done += 1
                if progress is not None:
                    progress.maybe()
        except KeyboardInterrupt:
            pass  # Ctrl-C: stop stepping, but still shut the devices down cleanly
        sink.send(sim.disconnect())
    finally:
        sink.close()
    return done
