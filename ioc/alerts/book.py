"""The engine's memory: which rules apply to which device, and the state of every
(rule, subject). No I/O and no clock: the service feeds it readings, statuses and the
time, and writes the :class:`Change` list it gets back.

Indexes keep the per-reading cost independent of the number of rules: device rules are
found by (domain, metric), absence rules by domain; group rules read the latest value
of each device kept here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from ioc.alerts import core
from ioc.alerts.core import Event, Sample, State, Status, Transition
from ioc.alerts.models import AbsenceParams, Alert, GroupParams, Rule


@dataclass(frozen=True, slots=True)
class Device:
    device_id: str
    domain: str
    district: str
    #: when the device was last heard from (newest reading, or online status), as known
    #: to the database at start; absence counts from here
    heard: float | None = None
    online: bool | None = None
    status_time: float | None = None


@dataclass(frozen=True, slots=True)
class Change:
    """A transition of one rule for one subject, with what the store needs to record it."""

    rule: Rule
    subject: str
    device_id: str | None
    district: str | None
    transition: Transition


def group_subject(params: GroupParams, domain: str, district: str) -> str:
    return f"district:{district}" if params.by == "district" else f"domain:{domain}"


class Book:
    def __init__(self, rules: Iterable[Rule] = (), devices: Iterable[Device] = ()) -> None:
        self.devices: dict[str, Device] = {}
        self.states: dict[tuple[int, str], State] = {}
        #: (domain, metric) → device → (time, value): what group rules aggregate
        self.latest: dict[tuple[str, str], dict[str, tuple[float, float]]] = defaultdict(dict)
        self._timed: set[tuple[int, str]] = set()
        self.set_rules(rules)
        self.set_devices(devices)

    # ------------------------------------------------------------------ configuration

    def set_rules(self, rules: Iterable[Rule]) -> None:
        """Install the enabled rules; states of rules that still exist are kept."""
        self.rules = {r.id: r for r in rules if r.enabled}
        #: (domain, scope key) → rules, where the scope key is the most selective part of
        #: the rule's scope: "" (whole domain), "district:<d>" or "device:<id>"
        self._index: dict[tuple[str, str], list[Rule]] = defaultdict(list)
        self._group: list[Rule] = []
        self._per_device: dict[str, tuple[dict[str, list[Rule]], list[Rule]]] = {}
        self._group_metrics: set[tuple[str, str]] = set()
        for r in self.rules.values():
            if r.kind == "group":
                self._group.append(r)
                self._group_metrics.add((r.domain, r.metric or ""))
            elif r.scope.devices:
                for device_id in set(r.scope.devices):
                    self._index[(r.domain, f"device:{device_id}")].append(r)
            elif r.scope.districts:
                for district in set(r.scope.districts):
                    self._index[(r.domain, f"district:{district}")].append(r)
            else:
                self._index[(r.domain, "")].append(r)
        for key in [k for k in self.states if k[0] not in self.rules]:
            del self.states[key]
            self._timed.discard(key)
        for d in self.devices.values():
            self._seed_absence(d)

    def set_devices(self, devices: Iterable[Device], replace: bool = False) -> None:
        """Add devices (a new one is seeded for absence from when it was last heard);
        with ``replace``, forget devices not listed (decommissioned, or moved)."""
        listed = set()
        for d in devices:
            listed.add(d.device_id)
            known = self.devices.get(d.device_id)
            self.devices[d.device_id] = d
            if known is not None and (known.domain, known.district) != (d.domain, d.district):
                self._per_device.pop(d.device_id, None)
            if known is None:
                self._seed_absence(d)
        if replace:
            for device_id in [k for k in self.devices if k not in listed]:
                del self.devices[device_id]
                self._per_device.pop(device_id, None)

    def _seed_absence(self, d: Device) -> None:
        for rule in self._rules_for(d)[1]:
            key = (rule.id, d.device_id)
            if key not in self.states:
                self.states[key] = State(
                    heard=d.heard, online=d.online, status_time=d.status_time, last_time=d.heard
                )

    def restore(self, alerts: Iterable[Alert]) -> int:
        """Open alerts from the database become firing states: a restart neither forgets
        them (they resolve when the condition clears) nor opens them again."""
        n = 0
        for a in alerts:
            rule = self.rules.get(a.rule_id)
            if rule is None:
                continue
            key = (a.rule_id, a.subject)
            seed = self.states.get(key, State())
            cause: Literal["", "silent", "offline"] = ""
            if rule.kind == "absence":  # an offline alert carries no value; a silent one its gap
                cause = "offline" if a.value is None else "silent"
            self.states[key] = State(
                phase="firing",
                since=a.started_at.timestamp(),
                value=a.value,
                cause=cause,
                heard=seed.heard,
                last_time=seed.last_time,
                online=seed.online,
                status_time=seed.status_time,
            )
            n += 1
        return n

    # ------------------------------------------------------------------ evaluation

    def _apply(
        self,
        rule: Rule,
        subject: str,
        device: Device | None,
        events: list[Event],
        now: float,
        out: list[Change],
    ) -> None:
        key = (rule.id, subject)
        state, transitions = core.evaluate(rule, self.states.get(key, State()), events, now)
        self.states[key] = state
        if state.phase == "pending" or state.clear_since is not None:
            self._timed.add(key)
        else:
            self._timed.discard(key)
        for t in transitions:
            district: str | None = None
            if device is not None:
                district = device.district
            elif subject.startswith("district:"):
                district = subject.removeprefix("district:")
            out.append(Change(rule, subject, device.device_id if device else None, district, t))

    def _rules_for(self, device: Device) -> tuple[dict[str, list[Rule]], list[Rule]]:
        """The device's rules by metric, and its absence rules (cached per device)."""
        cached = self._per_device.get(device.device_id)
        if cached is None:
            by_metric: dict[str, list[Rule]] = defaultdict(list)
            absence: list[Rule] = []
            candidates = [
                *self._index.get((device.domain, ""), ()),
                *self._index.get((device.domain, f"district:{device.district}"), ()),
                *self._index.get((device.domain, f"device:{device.device_id}"), ()),
            ]
            for r in sorted(candidates, key=lambda r: r.id):
                if not r.scope.admits(device.device_id, device.district):
                    continue
                if r.kind == "absence":
                    absence.append(r)
                elif r.metric is not None:
                    by_metric[r.metric].append(r)
            cached = self._per_device[device.device_id] = (dict(by_metric), absence)
        return cached

    def readings(
        self, device_id: str, samples: Iterable[tuple[float, str, float]], now: float
    ) -> list[Change]:
        """New readings of one device: (time, metric, value)."""
        device = self.devices.get(device_id)
        out: list[Change] = []
        if device is None:
            return out
        rules_by_metric, absence = self._rules_for(device)
        by_metric: dict[str, list[Event]] = defaultdict(list)
        newest = None
        for t, metric, value in samples:
            by_metric[metric].append(Sample(t, value))
            newest = t if newest is None else max(newest, t)
            if (device.domain, metric) in self._group_metrics:
                group_latest = self.latest[(device.domain, metric)]
                seen = group_latest.get(device_id)
                if seen is None or seen[0] < t:
                    group_latest[device_id] = (t, value)
        for metric, events in by_metric.items():
            for rule in rules_by_metric.get(metric, ()):
                self._apply(rule, device_id, device, events, now, out)
        for rule in absence:
            events = by_metric.get(rule.metric, []) if rule.metric else []
            if rule.metric is None and newest is not None:
                events = [Sample(newest, 0.0)]
            if events:
                self._apply(rule, device_id, device, events, now, out)
        return out

    def status(self, device_id: str, time: float, online: bool, now: float) -> list[Change]:
        device = self.devices.get(device_id)
        out: list[Change] = []
        if device is None:
            return out
        for rule in self._rules_for(device)[1]:
            self._apply(rule, device_id, device, [Status(time, online)], now, out)
        return out

    def tick(self, now: float) -> list[Change]:
        """What time alone changes: silence, ``for`` and ``keep_firing_for`` running out,
        and group aggregates."""
        out: list[Change] = []
        for key in list(self._timed):
            rule = self.rules.get(key[0])
            if rule is not None and rule.kind != "group":
                self._apply(rule, key[1], self.devices.get(key[1]), [], now, out)
        states = self.states
        for device_id, device in self.devices.items():
            for rule in self._rules_for(device)[1]:
                state = states.get((rule.id, device_id))
                if state is None or state.phase == "firing" or state.heard is None:
                    continue
                assert isinstance(rule.params, AbsenceParams)
                if now - state.heard >= rule.params.after_s:
                    self._apply(rule, device_id, device, [], now, out)
        for rule in self._group:
            self._tick_group(rule, now, out)
        return out

    def _tick_group(self, rule: Rule, now: float, out: list[Change]) -> None:
        assert isinstance(rule.params, GroupParams) and rule.metric is not None
        members: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for device_id, tv in self.latest.get((rule.domain, rule.metric), {}).items():
            device = self.devices.get(device_id)
            if device is None or not rule.scope.admits(device_id, device.district):
                continue
            members[group_subject(rule.params, rule.domain, device.district)].append(tv)
        subjects = set(members) | {s for (rid, s) in self.states if rid == rule.id}
        for subject in subjects:
            value = core.aggregate(members.get(subject, ()), now, rule.params)
            events: list[Event] = [] if value is None else [Sample(now, value)]
            self._apply(rule, subject, None, events, now, out)
