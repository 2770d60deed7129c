"""Alerts with their history; acknowledge and resolve. Reads go to the alert store
(:mod:`ioc.alerts.store`); changes to the lifecycle use cases
(:mod:`ioc.alerts.lifecycle`), which write history, live event, outbox and audit rows
in one transaction."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query
from pydantic import BaseModel, Field

from ioc.alerts import lifecycle, store
from ioc.alerts.models import Alert, AlertFilters
from ioc.alerts.models import Page as AlertPage
from ioc.api.deps import AlertId, Db, Operator, Viewer
from ioc.api.models import Page
from ioc.api.problems import responses
from ioc.types import AlertState, Domain, Severity

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


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
    domain: Domain | None = None,
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


@router.post(
    "/{alert_id}/ack",
    response_model=Alert,
    summary="Acknowledge a firing alert",
    responses=responses(401, 403, 404, 409, 422),
)
def acknowledge(
    alert_id: AlertId, who: Operator, db: Db, body: Annotated[Note | None, Body()] = None
) -> Alert:
    with db.connect() as conn:
        return lifecycle.acknowledge(conn, who.actor, alert_id, body.note if body else None)


@router.post(
    "/{alert_id}/resolve",
    response_model=Alert,
    summary="Resolve a firing or acknowledged alert",
    responses=responses(401, 403, 404, 409, 422),
)
def resolve(
    alert_id: AlertId, who: Operator, db: Db, body: Annotated[Note | None, Body()] = None
) -> Alert:
    with db.connect() as conn:
        return lifecycle.resolve(conn, who.actor, alert_id, body.note if body else None)
