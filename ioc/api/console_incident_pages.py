"""Incident pages: the list and one incident (timeline, its alerts, the procedure as a
checklist with overdue steps marked). Data comes through :mod:`console_incidents`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ioc.alerts import lifecycle
from ioc.api import console_incidents
from ioc.api.console_common import (
    PAGE_SIZE,
    Paging,
    can_act,
    filters_of,
    form_of,
    note_of,
    unconfirmed,
)
from ioc.api.deps import Db, IncidentId, PageOperator, PageViewer, Principal
from ioc.api.templating import templates
from ioc.errors import InvalidInput, NotFound
from ioc.types import IncidentState

router = APIRouter(prefix="/ui", include_in_schema=False)

StepNo = Annotated[int, Path(ge=1, le=1000)]


@router.get("/incidents", response_class=HTMLResponse)
def incident_list(
    request: Request,
    who: PageViewer,
    db: Db,
    state: IncidentState | None = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    with db.connect() as conn:
        items, total = console_incidents.list_incidents(
            conn, state=state, limit=PAGE_SIZE, offset=offset
        )
    query = filters_of(state=state)
    return templates.TemplateResponse(
        request,
        "incidents.html",
        {
            "title": "Incidents",
            "who": who.actor.label,
            "incidents": items,
            "query": query,
            "paging": Paging(offset, total, "/ui/incidents", query),
        },
    )


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(request: Request, incident_id: IncidentId, who: PageViewer, db: Db) -> Response:
    with db.connect() as conn:
        incident = console_incidents.get_incident(conn, incident_id)
    return templates.TemplateResponse(
        request,
        "incident.html",
        {
            "title": f"Incident {incident_id}",
            "incident": incident,
            "who": who.actor.label,
            "can_act": can_act(who),
        },
    )


def _confirm(request: Request, who: Principal, question: str, action: str, back: str) -> Response:
    return templates.TemplateResponse(
        request,
        "confirm.html",
        {
            "title": "Confirm",
            "who": who.actor.label,
            "question": question,
            "action": action,
            "note": "",
            "back": back,
        },
    )


@router.post("/incidents/{incident_id}/{action}")
async def incident_act(
    request: Request, incident_id: IncidentId, action: str, who: PageOperator, db: Db
) -> Response:
    """ack, resolve (confirmed) or close (confirmed, with the review's summary)."""
    form = await form_of(request)
    note = note_of(form)
    back = f"/ui/incidents/{incident_id}"
    if action not in ("ack", "resolve", "close"):
        raise NotFound(f"no action {action!r} on incidents")
    if action != "ack" and unconfirmed(form):
        return _confirm(
            request, who, f"{action.capitalize()} incident {incident_id}?", request.url.path, back
        )
    if action == "close" and not note:
        raise InvalidInput("closing an incident needs the review's summary (the note)")

    def run() -> None:
        with db.connect() as conn:
            if action == "ack":
                lifecycle.acknowledge_incident(conn, who.actor, incident_id, note)
            elif action == "resolve":
                lifecycle.resolve_incident(conn, who.actor, incident_id, note)
            else:
                lifecycle.close_incident(conn, who.actor, incident_id, note or "")

    await run_in_threadpool(run)
    return RedirectResponse(back, status_code=303)


@router.post("/incidents/{incident_id}/steps/{n}")
async def incident_step(
    request: Request, incident_id: IncidentId, n: StepNo, who: PageOperator, db: Db
) -> Response:
    note = note_of(await form_of(request))

    def run() -> None:
        with db.connect() as conn:
            lifecycle.tick_step(conn, who.actor, incident_id, n, note)

    await run_in_threadpool(run)
    return RedirectResponse(f"/ui/incidents/{incident_id}", status_code=303)
