"""Incidents: correlated alerts with their procedure steps and history; acknowledge,
resolve, close, tick a step; the correlation policies and procedures (admin).

Reads go to the incident store (:mod:`ioc.incidents.store`, shaped by
:mod:`ioc.incidents.views`); changes to the use cases in :mod:`ioc.alerts.lifecycle`,
which write history, live event, outbox and audit rows in one transaction.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query
from pydantic import BaseModel, Field

from ioc.alerts import lifecycle
from ioc.api.deps import Admin, Db, IncidentId, Operator, Viewer
from ioc.api.models import Page
from ioc.api.problems import responses
from ioc.errors import InvalidPayload
from ioc.incidents import catalogue_store, store, views
from ioc.incidents.models import Catalogue
from ioc.incidents.views import IncidentDetail, IncidentSummary
from ioc.types import Domain, IncidentState, Severity

router = APIRouter(tags=["incidents"])

StepNo = Annotated[int, Path(ge=1, le=1000)]


#: PostgreSQL text cannot hold NUL: the schema says so, so a client learns it up front.
NO_NUL = r"^[^\x00]*$"


class Note(BaseModel):
    note: str | None = Field(
        default=None, max_length=2000, pattern=NO_NUL, examples=["power company called"]
    )


class Summary(BaseModel):
    note: str = Field(
        min_length=1,
        max_length=4000,
        pattern=NO_NUL,
        description="the review's closing summary (required)",
        examples=["Feeder 12 tripped on overload; restored 14:05; no data lost."],
    )


@router.get(
    "/api/v1/incidents",
    response_model=Page[IncidentSummary],
    summary="Incidents, newest first, with their alert ids and procedure steps",
    responses=responses(401, 403, 422),
)
def list_incidents(
    _: Viewer,
    db: Db,
    state: IncidentState | None = None,
    domain: Domain | None = None,
    severity: Severity | None = None,
    district: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Page[IncidentSummary]:
    filters = {"state": state, "domain": domain, "severity": severity, "district": district}
    with db.connect() as conn:
        found, total = store.list_incidents(conn, filters, limit, offset)
        alert_ids = store.alert_ids_of(conn, [i.id for i in found])
        now = store.now(conn)
    items = [views.summary(i, alert_ids[i.id], now) for i in found]
    return Page[IncidentSummary].of(items, total, limit, offset)


@router.get(
    "/api/v1/incidents/{incident_id}",
    response_model=IncidentDetail,
    summary="One incident with its alerts, procedure steps (overdue flagged) and history",
    responses=responses(401, 403, 404, 422),
)
def get_incident(incident_id: IncidentId, _: Viewer, db: Db) -> IncidentDetail:
    with db.connect() as conn:
        incident = store.load(conn, incident_id, history=True)
        return views.detail(incident, store.now(conn))


def _detail(db: Db, incident_id: int) -> IncidentDetail:
    with db.connect() as conn:
        return views.detail(store.load(conn, incident_id, history=True), store.now(conn))


@router.post(
    "/api/v1/incidents/{incident_id}/ack",
    response_model=IncidentDetail,
    summary="Take an open incident (it stops escalating)",
    responses=responses(401, 403, 404, 409, 422),
)
def acknowledge(
    incident_id: IncidentId, who: Operator, db: Db, body: Annotated[Note | None, Body()] = None
) -> IncidentDetail:
    with db.connect() as conn:
        lifecycle.acknowledge_incident(conn, who.actor, incident_id, body.note if body else None)
    return _detail(db, incident_id)


@router.post(
    "/api/v1/incidents/{incident_id}/resolve",
    response_model=IncidentDetail,
    summary="Resolve an open or acknowledged incident by hand",
    responses=responses(401, 403, 404, 409, 422),
)
def resolve(
    incident_id: IncidentId, who: Operator, db: Db, body: Annotated[Note | None, Body()] = None
) -> IncidentDetail:
    with db.connect() as conn:
        lifecycle.resolve_incident(conn, who.actor, incident_id, body.note if body else None)
    return _detail(db, incident_id)


@router.post(
    "/api/v1/incidents/{incident_id}/close",
    response_model=IncidentDetail,
    summary="Close a resolved incident after review, with a summary",
    responses=responses(401, 403, 404, 409, 422),
)
def close(
    incident_id: IncidentId, who: Operator, db: Db, body: Annotated[Summary, Body()]
) -> IncidentDetail:
    if not body.note.strip():
        raise InvalidPayload("closing an incident needs a summary in 'note'")
    with db.connect() as conn:
        lifecycle.close_incident(conn, who.actor, incident_id, body.note)
    return _detail(db, incident_id)


@router.post(
    "/api/v1/incidents/{incident_id}/steps/{n}",
    response_model=IncidentDetail,
    summary="Tick step n of the incident's procedure",
    responses=responses(401, 403, 404, 409, 422),
)
def tick(
    incident_id: IncidentId,
    n: StepNo,
    who: Operator,
    db: Db,
    body: Annotated[Note | None, Body()] = None,
) -> IncidentDetail:
    with db.connect() as conn:
        lifecycle.tick_step(conn, who.actor, incident_id, n, body.note if body else None)
    return _detail(db, incident_id)


@router.get(
    "/api/v1/incident-policies",
    response_model=Catalogue,
    summary="Correlation policies (in the order they are tried) and procedures",
    responses=responses(401, 403),
)
def get_policies(_: Viewer, db: Db) -> Catalogue:
    with db.connect() as conn:
        return catalogue_store.load_catalogue(conn)


@router.put(
    "/api/v1/incident-policies",
    response_model=Catalogue,
    summary="Replace the correlation policies and procedures (existing incidents keep theirs)",
    responses=responses(401, 403, 422),
)
def put_policies(who: Admin, db: Db, body: Annotated[Catalogue, Body()]) -> Catalogue:
    with db.connect() as conn:
        lifecycle.replace_incident_policies(conn, who.actor, body)
        return catalogue_store.load_catalogue(conn)
