"""Alert rules and alerts: THE models the engine evaluates and the API serves.

A rule is data: ``{id, name, kind, domain, metric, severity, scope, params, enabled}``
(ARCHITECTURE.md) plus labels, a description and an optional standard operating
procedure (the checklist an operator follows). ``params`` is validated by ``kind``;
``metric`` is checked against :data:`ioc.telemetry.catalog.CATALOG`, so a rule can never
watch a reading that does not exist.

Subjects: a device rule opens at most one alert per (rule, device); a group rule
(``kind = "group"``) opens at most one per (rule, district) or (rule, domain). Every
alert therefore has a ``subject`` — the device id, ``district:<name>`` or
``domain:<name>`` — and ``device_id`` is null for group alerts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ioc.telemetry.catalog import CATALOG
from ioc.types import AlertState, Domain, Severity

Kind = Literal["threshold", "rate", "absence", "anomaly", "group"]
KINDS: tuple[Kind, ...] = get_args(Kind)
Op = Literal[">", "<"]
#: What an entry of an alert's history records (``alert.<action>`` on the event stream).
AlertAction = Literal["opened", "acknowledged", "resolved"]

_PARAMS = ConfigDict(extra="forbid")


class Scope(BaseModel):
    """Which devices a rule watches; empty lists mean "all of the rule's domain"."""

    model_config = ConfigDict(extra="forbid")

    districts: list[str] = Field(default_factory=list)
    devices: list[str] = Field(default_factory=list)

    def admits(self, device_id: str, district: str) -> bool:
        if self.devices and device_id not in self.devices:
            return False
        return not self.districts or district in self.districts


class _Hysteresis(BaseModel):
    """Fire past ``value`` (held ``for_s``); resolve past ``clear`` (held
    ``keep_firing_for_s``). Between the two the alert keeps its state: no flapping."""

    model_config = _PARAMS

    op: Op
    value: float
    clear: float | None = Field(default=None, description="level at which it resolves")
    for_s: float = Field(default=0, ge=0, le=7 * 86400)
    keep_firing_for_s: float = Field(default=0, ge=0, le=7 * 86400)

    @model_validator(mode="after")
    def _clear_on_the_safe_side(self) -> Self:
        if self.clear is None:
            self.clear = self.value
        if self.op == ">" and self.clear > self.value:
            raise ValueError(f"clear {self.clear} must be <= value {self.value} for op '>'")
        if self.op == "<" and self.clear < self.value:
            raise ValueError(f"clear {self.clear} must be >= value {self.value} for op '<'")
        return self

    @property
    def clear_level(self) -> float:
        return self.value if self.clear is None else self.clear


class ThresholdParams(_Hysteresis):
    """The reading itself against a level."""


class RateParams(_Hysteresis):
    """Change per minute over ``window_s`` (``value``/``clear`` are per minute)."""

    window_s: float = Field(default=300, gt=0, le=86400)


class AnomalyParams(BaseModel):
    """Robust z-score against the device's own last ``history`` readings:
    ``|x - median| / (1.4826 · MAD)``; fires above ``z``, clears below ``clear_z``."""

    model_config = _PARAMS

    history: int = Field(default=120, ge=5, le=10000)
    min_history: int = Field(default=30, ge=5)
    z: float = Field(default=6.0, gt=0)
    clear_z: float = Field(default=3.0, gt=0)
    for_s: float = Field(default=0, ge=0, le=7 * 86400)
    keep_firing_for_s: float = Field(default=0, ge=0, le=7 * 86400)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.clear_z > self.z:
            raise ValueError(f"clear_z {self.clear_z} must be <= z {self.z}")
        if self.min_history > self.history:
            raise ValueError("min_history must be <= history")
        return self


class AbsenceParams(BaseModel):
    """No reading (of ``metric``, or of anything when it is null) for ``after_s``, or
    the device's status went offline (when ``offline`` is true)."""

    model_config = _PARAMS

    after_s: float = Field(gt=0, le=30 * 86400)
    offline: bool = True


class GroupParams(_Hysteresis):
    """An aggregate of the latest readings over a district or the domain, taken from
    devices heard from within ``window_s``."""

    by: Literal["district", "domain"] = "district"
    agg: Literal["avg", "min", "max", "sum", "count"] = "avg"
    window_s: float = Field(default=300, gt=0, le=86400)
    min_devices: int = Field(default=1, ge=1)


Params = ThresholdParams | RateParams | AbsenceParams | AnomalyParams | GroupParams
PARAMS: dict[str, type[BaseModel]] = {
    "threshold": ThresholdParams,
    "rate": RateParams,
    "absence": AbsenceParams,
    "anomaly": AnomalyParams,
    "group": GroupParams,
}


def _has_nul(value: object) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


class RuleSpec(BaseModel):
    """A rule as written by an operator or shipped as a default (the API's request body)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Vaccine fridge warm",
                    "kind": "threshold",
                    "domain": "health",
                    "metric": "fridge_temp_c",
                    "severity": "critical",
                    "scope": {"districts": [], "devices": []},
                    "params": {"op": ">", "value": 8, "clear": 7.5, "for_s": 300},
                    "enabled": True,
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    kind: Kind
    domain: Domain
    metric: str | None = Field(default=None, description="catalog metric; null only for absence")
    severity: Severity = "major"
    scope: Scope = Field(default_factory=Scope)
    params: Params
    enabled: bool = True
    labels: dict[str, str] = Field(default_factory=dict)
    description: str = Field(default="", max_length=4000)
    sop: list[str] = Field(
        default_factory=list, description="standard operating procedure: steps, in order"
    )

    @model_validator(mode="before")
    @classmethod
    def _params_by_kind(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("params"), dict):
            model = PARAMS.get(str(data.get("kind")))
            if model is not None:
                data = {**data, "params": model.model_validate(data["params"])}
        return data

    @model_validator(mode="after")
    def _against_catalog(self) -> Self:
        expected = PARAMS[self.kind]
        if type(self.params) is not expected:
            raise ValueError(f"params do not fit kind {self.kind!r}")
        if self.metric is None:
            if self.kind != "absence":
                raise ValueError(f"a {self.kind} rule needs a metric")
        elif CATALOG.metric(self.domain, self.metric) is None:
            known = ", ".join(CATALOG[self.domain])
            raise ValueError(f"{self.metric!r} is not a {self.domain} metric (one of: {known})")
        if isinstance(self.params, GroupParams) and self.scope.devices:
            raise ValueError("a group rule is scoped by districts, not devices")
        if _has_nul(self.model_dump()):  # PostgreSQL text cannot hold NUL
            raise ValueError("text fields must not contain NUL characters")
        return self


class Rule(RuleSpec):
    """A stored rule."""

    id: int
    created_at: datetime
    updated_at: datetime

    def spec(self) -> RuleSpec:
        """The definition alone, e.g. to edit and ``update_rule`` it."""
        return RuleSpec.model_validate(self.model_dump(exclude={"id", "created_at", "updated_at"}))


class AlertChange(BaseModel):
    """One entry of an alert's history: who did what, when, and the value behind it."""

    at: datetime
    action: AlertAction
    by: str
    value: float | None = None
    note: str | None = None


class Alert(BaseModel):
    id: int
    rule_id: int
    rule_name: str
    subject: str = Field(description="device id, 'district:<name>' or 'domain:<name>'")
    device_id: str | None
    domain: Domain
    district: str | None
    metric: str | None
    severity: Severity
    state: AlertState
    started_at: datetime
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    value: float | None = Field(default=None, description="the value that opened it")
    labels: dict[str, str] = Field(default_factory=dict)
    sop: list[str] = Field(default_factory=list)
    history: list[AlertChange] = Field(default_factory=list)


class AlertFilters(BaseModel):
    """Query of ``GET /api/v1/alerts``; ``state="open"`` means firing or acknowledged."""

    model_config = ConfigDict(extra="forbid")

    state: AlertState | Literal["open"] | None = None
    domain: Domain | None = None
    severity: Severity | None = None
    district: str | None = None
    rule_id: int | None = None
    device_id: str | None = None


class Page(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)
