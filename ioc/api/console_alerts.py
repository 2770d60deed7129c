"""Alert pages: the list (search, filters, paging), one alert (what its rule watches,
value against level and clear level, a chart around it, the procedure, the history),
and acknowledge one or several / resolve with a confirmation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ioc.alerts import lifecycle
from ioc.alerts import store as alerts
from ioc.alerts.models import AlertFilters, Page
from ioc.api.console_common import (
    PAGE_SIZE,
    Paging,
    can_act,
    filters_of,
    form_of,
    note_of,
    unconfirmed,
)
from ioc.api.deps import AlertId, Database, Db, PageOperator, PageViewer, Principal
from ioc.api.templating import templates
from ioc.errors import Conflict, NotFound
from ioc.incidents import store as incident_store
from ioc.types import AlertState, Domain, Severity

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/alerts", response_class=HTMLResponse)
def alert_list(
    request: Request,
    who: PageViewer,
    db: Db,
    state: AlertState | None = None,
    domain: Domain | None = None,
    severity: Severity | None = None,
    district: Annotated[str | None, Query(max_length=100)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    filters = AlertFilters(state=state, domain=domain, severity=severity, district=district or None)
    with db.connect() as conn:
        items = alerts.list_alerts(conn, filters, Page(limit=PAGE_SIZE, offset=offset))
        total = alerts.count_alerts(conn, filters)
    query = filters_of(state=state, domain=domain, severity=severity, district=district)
    return templates.TemplateResponse(
        request,
        "alerts.html",
        {
            "title": "Alerts",
            "who": who.actor.label,
            "alerts": items,
            "query": query,
            "paging": Paging(offset, total, "/ui/alerts", query),
            "can_act": can_act(who),
        },
    )


def _rule_of(db: Database, alert_id: int) -> tuple[Any, Any]:
    with db.connect() as conn:
        alert = alerts.get_alert(conn, alert_id)
        try:
            rule = alerts.get_rule(conn, alert.rule_id)
        except NotFound:  # a deleted rule: the alert stays readable
            rule = None
    return alert, rule


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(request: Request, alert_id: AlertId, who: PageViewer, db: Db) -> Response:
    alert, rule = _rule_of(db, alert_id)
    params = rule.params.model_dump() if rule is not None else {}
    return templates.TemplateResponse(
        request,
        "alert.html",
        {
            "title": f"Alert {alert_id}",
            "alert": alert,
            "rule": rule,
            "params": params,
            "who": who.actor.label,
            "can_act": can_act(who),
        },
    )


def acknowledge_many(
    db: Database, who: Principal, ids: list[int], incident_ids: list[int], note: str | None
) -> int:
    """Acknowledge each incident and alert; one already taken (or gone) is skipped.
    How many were acknowledged."""
    done = 0
    for incident_id in incident_ids:
        try:
            with db.connect() as conn:
                if not who.sees_any(incident_store.load(conn, incident_id).districts):
                    continue  # another district's: as if it did not exist
                lifecycle.acknowledge_incident(conn, who.actor, incident_id, note)
            done += 1
        except (Conflict, NotFound):
            continue
    for alert_id in ids:
        try:
            with db.connect() as conn:
                if not who.sees_district(alerts.get_alert(conn, alert_id).district):
                    continue
                lifecycle.acknowledge(conn, who.actor, alert_id, note)
            done += 1
        except (Conflict, NotFound):
            continue
    return done


def _ids(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.isdigit() and 0 < int(v) <= 2**62][:1000]


def _wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


@router.post("/alerts/ack")
async def alerts_ack(request: Request, who: PageOperator, db: Db) -> Response:
    form = await form_of(request)
    ids, incident_ids = _ids(form.get("ids", [])), _ids(form.get("incident_ids", []))
    done = await run_in_threadpool(acknowledge_many, db, who, ids, incident_ids, note_of(form))
    message = f"acknowledged {done} of {len(ids) + len(incident_ids)}"
    if _wants_json(request):
        return JSONResponse({"acknowledged": done, "message": message})
    return RedirectResponse("/ui/", status_code=303)


@router.post("/alerts/{alert_id}/ack")
async def alert_ack(request: Request, alert_id: AlertId, who: PageOperator, db: Db) -> Response:
    form = await form_of(request)

    def run() -> None:
        with db.connect() as conn:
            lifecycle.acknowledge(conn, who.actor, alert_id, note_of(form))

    await run_in_threadpool(run)
    return RedirectResponse(f"/ui/alerts/{alert_id}", status_code=303)


@router.post("/alerts/{alert_id}/resolve")
async def alert_resolve(request: Request, alert_id: AlertId, who: PageOperator, db: Db) -> Response:
    """Resolving is destructive: a form not yet confirmed gets a confirm page."""
    form = await form_of(request)
    if unconfirmed(form):
        return templates.TemplateResponse(
            request,
            "confirm.html",
            {
                "title": "Confirm",
                "who": who.actor.label,
                "question": f"Resolve alert {alert_id}?",
                "action": f"/ui/alerts/{alert_id}/resolve",
                "note": note_of(form) or "",
                "back": f"/ui/alerts/{alert_id}",
            },
        )

    def run() -> None:
        with db.connect() as conn:
            lifecycle.resolve(conn, who.actor, alert_id, note_of(form))

    await run_in_threadpool(run)
    return RedirectResponse(f"/ui/alerts/{alert_id}", status_code=303)
