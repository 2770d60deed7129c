"""Pure rule evaluation: ``evaluate(rule, state, events, now) → (state, transitions)``.

No clock, no broker, no database: the caller passes the samples of one subject (a device,
or a district/domain aggregate for group rules), its state, and the time; it stores what
comes back. Times are seconds since the epoch (floats: cheap to compare, and what the
tests and the benchmark generate). The input state is never modified.

How a condition becomes an alert (after Prometheus' ``AlertingRule.Eval``):

- ``inactive`` → ``pending`` when the signal passes ``value``; → ``firing`` once it has
  stayed past ``value`` for ``for_s`` (a pending condition that lets go is dropped);
- ``firing`` → resolved once the signal has stayed past ``clear`` for
  ``keep_firing_for_s``. Between ``clear`` and ``value`` nothing changes: hysteresis,
  so a signal hovering at the level opens one alert, not one a minute.
- A sample not newer than the newest one seen is a duplicate or arrived late and is
  ignored; within one call samples are taken in time order. So the outcome does not
  depend on how a stream is cut into calls, nor on redelivery.
- The signal is the reading (threshold, group), its change per minute over a window
  (rate), or its robust z-score against the device's own history (anomaly).
- Absence fires when nothing was heard for ``after_s`` (checked at ``now``), or at once
  on an ``offline`` status; it resolves on new data, or on ``online`` if it was the
  status that fired it.
- Time passing matters too: with no new sample, ``now`` still promotes a pending
  condition whose ``for_s`` has elapsed (the last value is taken to hold, for at most
  :data:`HOLD_S` after it was read) and resolves a firing one whose
  ``keep_firing_for_s`` has.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal, NamedTuple

import numpy as np

from ioc.alerts.models import (
    AbsenceParams,
    AnomalyParams,
    GroupParams,
    RateParams,
    RuleSpec,
)
from ioc.telemetry.catalog import CATALOG

Phase = Literal["inactive", "pending", "firing"]
MAD_TO_SIGMA = 1.4826
#: Deviations smaller than this share of the metric's physical range are never anomalous
#: (a perfectly flat history has a MAD of zero).
MIN_SCALE_OF_RANGE = 1e-3
#: How long a reading is taken to hold when no newer one came (Prometheus' lookback):
#: time alone promotes a pending condition only this far past its last sample.
HOLD_S = 300.0


class Sample(NamedTuple):
    time: float
    value: float


class Status(NamedTuple):
    time: float
    online: bool


Event = Sample | Status


class Transition(NamedTuple):
    action: Literal["opened", "resolved"]
    at: float
    value: float | None
    reason: str


class State(NamedTuple):
    """Immutable (a tuple: cheap to copy with ``_replace``, which the hot path does)."""

    phase: Phase = "inactive"
    #: pending: when the condition started; firing: when the alert opened
    since: float | None = None
    #: firing: when the signal went past ``clear`` (for keep_firing_for)
    clear_since: float | None = None
    #: the newest sample accepted; older or equal ones are ignored
    last_time: float | None = None
    last_signal: float | None = None
    #: the value that opened the alert
    value: float | None = None
    #: rate: (time, value) within the window; anomaly: recent values
    history: tuple[tuple[float, float], ...] = ()
    #: absence: when the device was last heard from (data, or an online status)
    heard: float | None = None
    status_time: float | None = None
    online: bool | None = None
    cause: Literal["", "silent", "offline"] = ""


class Levels(NamedTuple):
    op: Literal[">", "<"]
    value: float
    clear: float
    for_s: float
    keep_s: float

    def triggers(self, x: float) -> bool:
        return x > self.value if self.op == ">" else x < self.value

    def clears(self, x: float) -> bool:
        return x <= self.clear if self.op == ">" else x >= self.clear


_LEVELS: dict[int, tuple[RuleSpec, Levels]] = {}


def levels(rule: RuleSpec) -> Levels:
    """The rule's levels, memoised per rule object (rules are not changed in place: an
    edit is a new object), keeping the rule alive so that its ``id`` is not reused."""
    hit = _LEVELS.get(id(rule))
    if hit is not None and hit[0] is rule:
        return hit[1]
    if len(_LEVELS) > 100_000:
        _LEVELS.clear()
    lv = _levels(rule)
    _LEVELS[id(rule)] = (rule, lv)
    return lv


def _levels(rule: RuleSpec) -> Levels:
    p = rule.params
    if isinstance(p, AnomalyParams):
        return Levels(">", p.z, p.clear_z, p.for_s, p.keep_firing_for_s)
    if isinstance(p, AbsenceParams):
        raise ValueError("absence rules have no levels")
    return Levels(p.op, p.value, p.clear_level, p.for_s, p.keep_firing_for_s)


def _ordered(events: Iterable[Event]) -> list[Event]:
    out = list(events)
    if len(out) > 1:
        out.sort(key=lambda e: e.time)
    return out


def evaluate(
    rule: RuleSpec, state: State, events: Iterable[Event], now: float
) -> tuple[State, list[Transition]]:
    """Feed one subject's new events and the current time through ``rule``."""
    if isinstance(rule.params, AbsenceParams):
        return _absence(rule.params, state, _ordered(events), now)
    lv = levels(rule)
    out: list[Transition] = []
    s = state
    for event in _ordered(events):
        if not isinstance(event, Sample):
            continue
        if s.last_time is not None and event.time <= s.last_time:
            continue
        if s.phase == "pending" and s.last_time is not None and event.time - s.last_time > HOLD_S:
            s = s._replace(phase="inactive", since=None)  # unobserved in between: start over
        signal, s = _signal(rule, s, event)
        s = s._replace(last_time=event.time, last_signal=signal)
        if signal is not None:
            s = _step(lv, s, event.time, signal, out)
    return _tick(lv, s, now, out), out


def _signal(rule: RuleSpec, s: State, e: Sample) -> tuple[float | None, State]:
    p = rule.params
    if isinstance(p, RateParams):
        start = e.time - p.window_s
        history = (*(h for h in s.history if h[0] >= start), (e.time, e.value))
        t0, v0 = history[0]
        span = e.time - t0
        if span < p.window_s / 2:
            return None, s._replace(history=history)
        return (e.value - v0) / span * 60.0, s._replace(history=history)
    if isinstance(p, AnomalyParams):
        past = s.history
        history = (*past[-(p.history - 1) :], (e.time, e.value)) if p.history > 1 else ()
        if len(past) < p.min_history:
            return None, s._replace(history=history)
        values = np.fromiter((v for _, v in past), dtype=np.float64, count=len(past))
        median = float(np.median(values))
        scale = MAD_TO_SIGMA * float(np.median(np.abs(values - median)))
        metric = CATALOG.metric(rule.domain, rule.metric or "")
        floor = MIN_SCALE_OF_RANGE * (metric.max - metric.min) if metric else 1e-9
        return abs(e.value - median) / max(scale, floor), s._replace(history=history)
    return e.value, s


def _step(lv: Levels, s: State, t: float, x: float, out: list[Transition]) -> State:
    if s.phase == "firing":
        if not lv.clears(x):
            return s._replace(clear_since=None) if s.clear_since is not None else s
        cleared = s.clear_since if s.clear_since is not None else t
        if t - cleared >= lv.keep_s:
            out.append(Transition("resolved", t, x, f"{x:g} back past {lv.clear:g}"))
            return s._replace(phase="inactive", since=None, clear_since=None, value=None)
        return s._replace(clear_since=cleared)
    if not lv.triggers(x):
        return s._replace(phase="inactive", since=None) if s.phase == "pending" else s
    since = s.since if s.phase == "pending" and s.since is not None else t
    if t - since >= lv.for_s:
        out.append(Transition("opened", t, x, f"{x:g} {lv.op} {lv.value:g}"))
        return s._replace(phase="firing", since=t, clear_since=None, value=x)
    return s._replace(phase="pending", since=since)


def _tick(lv: Levels, s: State, now: float, out: list[Transition]) -> State:
    x = s.last_signal
    held = now if s.last_time is None else min(now, s.last_time + HOLD_S)
    if s.phase == "pending" and s.since is not None and held - s.since >= lv.for_s:
        assert x is not None
        out.append(Transition("opened", now, x, f"{x:g} {lv.op} {lv.value:g} for {lv.for_s:g}s"))
        return s._replace(phase="firing", since=now, clear_since=None, value=x)
    if s.phase == "firing" and s.clear_since is not None and now - s.clear_since >= lv.keep_s:
        out.append(Transition("resolved", now, x, f"past {lv.clear:g} for {lv.keep_s:g}s"))
        return s._replace(phase="inactive", since=None, clear_since=None, value=None)
    return s


def _absence(
    p: AbsenceParams, state: State, events: Sequence[Event], now: float
) -> tuple[State, list[Transition]]:
    out: list[Transition] = []
    s = state
    for e in events:
        if isinstance(e, Sample):
            if s.last_time is not None and e.time <= s.last_time:
                continue
            heard = e.time if s.heard is None else max(s.heard, e.time)
            s = s._replace(last_time=e.time, heard=heard)
            if s.phase == "firing":
                out.append(Transition("resolved", e.time, None, "data again"))
                s = s._replace(phase="inactive", since=None, cause="")
            continue
        if s.status_time is not None and e.time <= s.status_time:
            continue
        s = s._replace(status_time=e.time, online=e.online)
        if e.online:
            s = s._replace(heard=e.time if s.heard is None else max(s.heard, e.time))
            if s.phase == "firing" and s.cause == "offline":
                out.append(Transition("resolved", e.time, None, "back online"))
                s = s._replace(phase="inactive", since=None, cause="")
        elif p.offline and s.phase != "firing":
            out.append(Transition("opened", e.time, None, "status offline"))
            s = s._replace(phase="firing", since=e.time, cause="offline")
    if s.phase != "firing" and s.heard is not None and now - s.heard >= p.after_s:
        silent = now - s.heard
        out.append(Transition("opened", now, silent, f"nothing heard for {silent:.0f}s"))
        s = s._replace(phase="firing", since=now, cause="silent")
    return s, out


def aggregate(
    values: Iterable[tuple[float, float]], now: float, params: GroupParams
) -> float | None:
    """The group signal: ``agg`` over (time, value) pairs heard within ``window_s``,
    or None when fewer than ``min_devices`` count."""
    fresh = [v for t, v in values if now - params.window_s <= t]
    if len(fresh) < params.min_devices:
        return None
    if params.agg == "count":
        return float(len(fresh))
    if params.agg == "sum":
        return float(sum(fresh))
    if params.agg == "min":
        return float(min(fresh))
    if params.agg == "max":
        return float(max(fresh))
    return float(sum(fresh) / len(fresh))


def firing(
    since: float, value: float | None, cause: Literal["", "silent", "offline"] = ""
) -> State:
    """The state of an alert restored from the database after a restart."""
    return State(phase="firing", since=since, value=value, cause=cause)
