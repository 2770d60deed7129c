"""Incidents as the API shows them: the core's values turned into documented bodies,
with which procedure steps are overdue at the time asked. Pure (the time is passed in).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from ioc.incidents import procedures
from ioc.incidents.state import Action, Incident, Member
from ioc.types import AlertState, Domain, IncidentState, Severity


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


class IncidentAlert(BaseModel):
    """One of the incident's alerts, as the incident knows it (``/api/v1/alerts/{id}``
    has the rest)."""

    id: int
    rule_id: int
    rule_name: str
    subject: str
    device_id: str | None
    domain: Domain
    district: str | None
    severity: Severity
    state: AlertState
    started_at: datetime
    value: float | None = None


class IncidentStep(BaseModel):
    n: int = Field(description="step number, from 1; tick it at .../steps/{n}")
    text: str
    role: str | None = None
    target_min: float | None = Field(default=None, description="minutes from the opening")
    due_at: datetime | None = None
    overdue: bool = False
    done_at: datetime | None = None
    done_by: str | None = None
    note: str | None = None


class IncidentChange(BaseModel):
    at: datetime
    action: Action
    by: str
    note: str = ""


class IncidentSummary(BaseModel):
    """An incident in a list: everything but its alerts' details and its history."""

    id: int
    title: str
    state: IncidentState
    severity: Severity
    policy: str
    districts: list[str]
    domains: list[Domain]
    alert_ids: list[int]
    device_count: int
    opened_at: datetime
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    summary: str | None = Field(default=None, description="the closing review's summary")
    procedure: str | None = None
    escalated: list[str] = Field(default_factory=list, description="escalation tiers done")
    steps: list[IncidentStep] = Field(default_factory=list)


class IncidentDetail(IncidentSummary):
    """One incident: its alerts, procedure steps (with overdue flags) and history."""

    alerts: list[IncidentAlert] = Field(default_factory=list)
    history: list[IncidentChange] = Field(default_factory=list)


def _steps(incident: Incident, now: float) -> list[IncidentStep]:
    late = {s.n for s in procedures.overdue(incident, now)}
    return [
        IncidentStep(
            n=s.n,
            text=s.text,
            role=s.role,
            target_min=s.target_min,
            due_at=_dt(procedures.due_at(incident, s)),
            overdue=s.n in late,
            done_at=_dt(s.done_at),
            done_by=s.done_by,
            note=s.note,
        )
        for s in incident.steps
    ]


def _fields(incident: Incident, alert_ids: Sequence[int], now: float) -> dict[str, object]:
    return {
        "id": incident.id,
        "title": incident.title,
        "state": incident.state,
        "severity": incident.severity,
        "policy": incident.policy,
        "districts": list(incident.districts),
        "domains": list(incident.domains),
        "alert_ids": list(alert_ids),
        "device_count": incident.device_count,
        "opened_at": _dt(incident.opened_at),
        "acknowledged_at": _dt(incident.acknowledged_at),
        "acknowledged_by": incident.acknowledged_by,
        "resolved_at": _dt(incident.resolved_at),
        "resolved_by": incident.resolved_by,
        "closed_at": _dt(incident.closed_at),
        "closed_by": incident.closed_by,
        "summary": incident.summary,
        "procedure": incident.procedure,
        "escalated": list(incident.escalated),
        "steps": _steps(incident, now),
    }


def summary(incident: Incident, alert_ids: Sequence[int], now: float) -> IncidentSummary:
    return IncidentSummary.model_validate(_fields(incident, alert_ids, now))


def _alert(m: Member) -> IncidentAlert:
    return IncidentAlert(
        id=m.alert_id,
        rule_id=m.rule_id,
        rule_name=m.rule_name,
        subject=m.subject,
        device_id=m.device_id,
        domain=m.domain,
        district=m.district,
        severity=m.severity,
        state=m.state,
        started_at=datetime.fromtimestamp(m.since, UTC),
        value=m.value,
    )


def detail(incident: Incident, now: float) -> IncidentDetail:
    return IncidentDetail.model_validate(
        {
            **_fields(incident, incident.alert_ids, now),
            "alerts": [_alert(m) for m in incident.members],
            "history": [
                IncidentChange(at=datetime.fromtimestamp(e.at, UTC), action=e.action, by=e.by,
                               note=e.note)
                for e in incident.history
            ],
        }
    )  # fmt: skip
