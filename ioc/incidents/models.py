"""Correlation policies, standard operating procedures and escalation tiers: the data an
admin edits (through the API, later) and the center ships as defaults.

A **policy** says which alerts belong together: the alerts it ``match``es are grouped by
the fields in ``group_by`` (alertmanager's ``group_by``: the values form a fingerprint,
the fingerprint picks the incident). Policies are tried in order; the first that matches
an alert, and for which the alert has every ``group_by`` field, decides its key. An alert
no policy takes is an incident of its own.

A **procedure** is an ordered checklist (each step with an optional role and a time
target in minutes, counted from the incident's opening); it attaches to an incident from
its policy, or else from the rule of the incident's first alert.

An **escalation tier** says: an open, unacknowledged incident of at least ``severity``
that nobody took within ``after_s`` is escalated, once.
"""

from __future__ import annotations

import string
from typing import Literal, Self, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ioc.types import Domain, Severity, severity_rank

#: Fields an alert can be grouped by. ``rule`` is the rule's id (names can be edited),
#: ``subject`` the device id or ``district:<name>``/``domain:<name>`` of a group rule.
GroupField = Literal["district", "domain", "rule", "subject", "device", "alert"]
GROUP_FIELDS: tuple[GroupField, ...] = get_args(GroupField)
#: Placeholders a policy's title may use; multi-valued ones are joined with ", ".
TITLE_FIELDS = frozenset({"district", "domain", "rule", "subject", "device_count", "alert_count"})
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"

_STRICT = ConfigDict(extra="forbid", frozen=True)


class Match(BaseModel):
    """Which alerts a policy takes; an empty list admits everything."""

    model_config = _STRICT

    kinds: tuple[str, ...] = Field(default=(), description="rule kinds, e.g. absence, group")
    domains: tuple[Domain, ...] = ()
    rules: tuple[str, ...] = Field(default=(), description="rule names")

    def admits(self, kind: str, domain: str, rule_name: str) -> bool:
        return (
            (not self.kinds or kind in self.kinds)
            and (not self.domains or domain in self.domains)
            and (not self.rules or rule_name in self.rules)
        )


class Policy(BaseModel):
    """How alerts are correlated into one incident (see the module docstring)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "name": "district-silence",
                    "title": "devices silent in {district}: possible power or network outage",
                    "match": {"kinds": ["absence"]},
                    "group_by": ["district"],
                    "window_s": 120,
                    "procedure": "power_cut",
                }
            ]
        },
    )

    name: str = Field(pattern=NAME_PATTERN)
    description: str = Field(default="", max_length=2000)
    title: str = Field(min_length=1, max_length=200)
    match: Match = Field(default_factory=Match)
    group_by: tuple[GroupField, ...] = Field(min_length=1)
    window_s: float = Field(
        default=120,
        ge=0,
        le=7 * 86400,
        description="how long after its resolution a new alert of the same key reopens it",
    )
    procedure: str | None = Field(default=None, description="procedure name; else the rule's")

    @field_validator("title")
    @classmethod
    def _known_placeholders(cls, title: str) -> str:
        names = {f for _, f, _, _ in string.Formatter().parse(title) if f is not None}
        unknown = names - TITLE_FIELDS
        if unknown:
            known = ", ".join(sorted(TITLE_FIELDS))
            raise ValueError(f"unknown title placeholders {sorted(unknown)} (known: {known})")
        return title

    @field_validator("group_by")
    @classmethod
    def _no_repeats(cls, fields: tuple[GroupField, ...]) -> tuple[GroupField, ...]:
        if len(set(fields)) != len(fields):
            raise ValueError("group_by names a field twice")
        return fields


class StepSpec(BaseModel):
    """One step of a procedure: what to do, who does it, and within how many minutes of
    the incident's opening."""

    model_config = _STRICT

    text: str = Field(min_length=1, max_length=500)
    role: str | None = Field(default=None, max_length=100)
    target_min: float | None = Field(default=None, gt=0, le=7 * 1440)


class Procedure(BaseModel):
    """A standard operating procedure: ordered steps; ``rules`` names the alert rules
    whose incidents take it when their policy names none."""

    model_config = _STRICT

    name: str = Field(pattern=NAME_PATTERN)
    title: str = Field(min_length=1, max_length=200)
    rules: tuple[str, ...] = ()
    steps: tuple[StepSpec, ...] = Field(min_length=1)


class EscalationTier(BaseModel):
    """Escalate an open, unacknowledged incident of at least ``severity`` after ``after_s``
    (counted from when it last opened); ``goc`` also tells the upstream GOC."""

    model_config = _STRICT

    severity: Literal["major", "critical"]
    after_s: float = Field(gt=0, le=7 * 86400)
    goc: bool = False

    @property
    def name(self) -> str:
        """Stable id of the tier, recorded on the incident once it has escalated."""
        return f"{self.severity}@{self.after_s:g}s"

    def covers(self, severity: Severity) -> bool:
        return severity_rank(severity) >= severity_rank(self.severity)


class Catalogue(BaseModel):
    """Policies (in the order they are tried) and procedures, checked together: names are
    unique and every procedure a policy names exists."""

    model_config = _STRICT

    policies: tuple[Policy, ...]
    procedures: tuple[Procedure, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        for kind, names in (
            ("policy", [p.name for p in self.policies]),
            ("procedure", [p.name for p in self.procedures]),
        ):
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"{kind} names used twice: {twice}")
        known = {p.name for p in self.procedures}
        missing = sorted({p.procedure for p in self.policies if p.procedure} - known)
        if missing:
            raise ValueError(f"policies name unknown procedures: {missing}")
        return self

    def procedure(self, name: str | None) -> Procedure | None:
        return next((p for p in self.procedures if p.name == name), None)

    def procedure_for_rule(self, rule_name: str) -> Procedure | None:
        return next((p for p in self.procedures if rule_name in p.rules), None)
