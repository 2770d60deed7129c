"""Alerts with their history; acknowledge and resolve. Storage is the alert engine's
(:mod:`ioc.alerts.store`): the same transaction records history, the live event and
the outbox rows; this adds the audit entry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query
from pydantic import BaseModel, Field

from ioc.alerts import store
from ioc.alerts.models import Alert, AlertFilters, AlertState, Severity
from ioc.alerts.models import Page as AlertPage
from ioc.api.deps import Db, Operator, Principal, Viewer
from ioc.api.models import DomainName, Page
from ioc.api.problems import responses
from ioc.security import audit

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])

AlertId = Annotated[int, Path(ge=1, le=2**62)]


class Note(BaseModel):
    note: str | None = Field(default=None, max_length=2000, examples=["crew dispatched"])


@router.get(
    "",
    response_model=Page[Alert],
    summary="Alerts, newest first, each with its history",
    responses=responses(401, 403, 422),
)
def list_alerts(
    _: Viewer,
    db: Db,
    state: AlertState | None = None,
    domain: DomainName | None = None,
    severity: Severity | None = None,
    district: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Page[Alert]:
    filters = AlertFilters(state=state, domain=domain, severity=severity, district=district)
    with db.connect() as conn:
        items = store.list_alerts(conn, filters, AlertPage(limit=limit, offset=offset))
        total = store.count_alerts(conn, filters)
    return Page[Alert].of(items, total, limit, offset)


@router.get(
    "/{alert_id}",
    response_model=Alert,
    summary="One alert with its history",
    responses=responses(401, 403, 404, 422),
)
def get_alert(alert_id: AlertId, _: Viewer, db: Db) -> Alert:
    with db.connect() as conn:
        return store.get_alert(conn, alert_id)


def change(db: Db, who: Principal, alert_id: int, action: str, note: str | None) -> Alert:
    """Acknowledge or resolve, with the audit entry in the same transaction."""
    with db.connect() as conn:
        if action == "acknowledge":
            alert = store.acknowledge(conn, alert_id, who.actor.label, note)
        else:
            alert = store.resolve(conn, alert_id, who.actor.label, note)
        audit.record(conn, who.actor, f"alert.{action}", f"alert:{alert_id}", {"note": note})
    return alert


@router.post(
    "/{alert_id}/ack",
    response_model=Alert,
    summary="Acknowledge a firing alert",
    responses=responses(401, 403, 404, 409, 422),
)
def acknowledge(
    alert_id: AlertId, who: Operator, db: Db, body: Annotated[Note | None, Body()] = None
) -> Alert:
    return change(db, who, alert_id, "acknowledge", body.note if body else None)


@router.post(
    "/{alert_id}/resolve",
    response_model=Alert,
    summary="Resolve a firing or acknowledged alert",
    responses=responses(401, 403, 404, 409, 422),
)
def resolve(
    alert_id: AlertId, who: Operator, db: Db, body: Annotated[Note | None, Body()] = None
) -> Alert:
    return change(db, who, alert_id, "resolve", body.note if body else None)
