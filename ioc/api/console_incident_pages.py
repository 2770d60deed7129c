"""Incident pages: the list and one incident (timeline, its alerts, the procedure as a
checklist with overdue steps marked). Data comes through :mod:`console_incidents`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from ioc.api import console_incidents
from ioc.api.console_common import PAGE_SIZE, PageViewer, Paging, can_act, filters_of
from ioc.api.deps import Db
from ioc.api.templating import templates
from ioc.types import IncidentState

router = APIRouter(prefix="/ui", include_in_schema=False)

IncidentId = Annotated[int, Path(ge=1, le=2**62)]


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
