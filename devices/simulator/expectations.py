"""What a scenario promises, as data: the alerts the default rules must raise and the
incidents the shipped correlation policies must gather them into. Tests hold the
simulator, the alert engine and the incidents to these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ioc.telemetry.catalog import CATALOG


@dataclass(frozen=True, slots=True)
class ExpectedAlert:
    """What a default rule (``rule``, by name, in :mod:`ioc.alerts.defaults`) should raise.

    ``window`` is in seconds of scenario time: throughout it the condition holds on every
    listed device (``group``: on their average; ``absence``: they send nothing), so a
    rule whose ``for_s`` (or ``after_s``) fits in the window fires.
    """

    rule: str
    kind: Literal["threshold", "group", "absence"]
    domain: str
    metric: str | None
    op: Literal[">", "<"] | None
    value: float | None
    window: tuple[int, int]
    devices: tuple[str, ...]

    def __post_init__(self) -> None:
        if self.metric is not None and CATALOG.metric(self.domain, self.metric) is None:
            raise ValueError(f"expected alert names {self.domain}.{self.metric}, not in catalog")

    @property
    def for_s(self) -> int:
        return self.window[1] - self.window[0]

    def holds(self, value: float) -> bool:
        assert self.op is not None and self.value is not None
        return value > self.value if self.op == ">" else value < self.value

    def as_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule,
            "kind": self.kind,
            "domain": self.domain,
            "metric": self.metric,
            "condition": None if self.op is None else f"{self.op} {self.value:g}",
            "window_s": list(self.window),
            "devices": list(self.devices),
        }


@dataclass(frozen=True, slots=True)
class ExpectedIncident:
    """An incident a scenario must yield under the shipped correlation policies
    (``ioc/incidents/policies.toml``): which policy groups its alerts, which procedure
    it follows, and the (rule, subject) pairs of the alerts it holds, in the district."""

    policy: str
    procedure: str | None
    alerts: tuple[tuple[str, str], ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "policy": self.policy,
            "procedure": self.procedure,
            "alerts": [list(a) for a in self.alerts],
        }
