"""Pages for people: the targets of Grafana's data links, rendered on the server.

Same keys and roles as the API. A browser following a link cannot send a header, so
``/ui/login`` takes a key once and keeps it in an HttpOnly, SameSite=Strict cookie (the
strict cookie is what keeps another site from pressing the buttons).
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ioc.alerts import lifecycle
from ioc.alerts import store as alerts
from ioc.api.deps import Database, Db, Principal, require
from ioc.api.templating import templates
from ioc.security.roles import Role
from ioc.storage import registry, series
from ioc.telemetry.catalog import CATALOG
from ioc.types import DEVICE_ID_PATTERN

router = APIRouter(prefix="/ui", tags=["pages"], include_in_schema=False)

PageViewer = Annotated[Principal, Depends(require(Role.VIEWER, cookie=True))]
PageOperator = Annotated[Principal, Depends(require(Role.OPERATOR, cookie=True))]
DeviceId = Annotated[str, Path(pattern=f"^{DEVICE_ID_PATTERN}$")]
AlertId = Annotated[int, Path(ge=1, le=2**62)]


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(request: Request, alert_id: AlertId, who: PageViewer, db: Db) -> Response:
    with db.connect() as conn:
        alert = alerts.get_alert(conn, alert_id)
    return templates.TemplateResponse(
        request,
        "alert.html",
        {"title": f"Alert {alert_id}", "alert": alert, "who": who.actor.label},
    )


async def _note(request: Request) -> str | None:
    form = parse_qs((await request.body()).decode(errors="replace"))
    note = (form.get("note") or [""])[0].strip()[:2000]
    return note or None


def _acknowledge(db: Database, who: Principal, alert_id: int, note: str | None) -> None:
    with db.connect() as conn:
        lifecycle.acknowledge(conn, who.actor, alert_id, note)


def _resolve(db: Database, who: Principal, alert_id: int, note: str | None) -> None:
    with db.connect() as conn:
        lifecycle.resolve(conn, who.actor, alert_id, note)


@router.post("/alerts/{alert_id}/ack")
async def alert_ack(request: Request, alert_id: AlertId, who: PageOperator, db: Db) -> Response:
    await run_in_threadpool(_acknowledge, db, who, alert_id, await _note(request))
    return RedirectResponse(f"/ui/alerts/{alert_id}", status_code=303)


@router.post("/alerts/{alert_id}/resolve")
async def alert_resolve(request: Request, alert_id: AlertId, who: PageOperator, db: Db) -> Response:
    await run_in_threadpool(_resolve, db, who, alert_id, await _note(request))
    return RedirectResponse(f"/ui/alerts/{alert_id}", status_code=303)


@router.get("/devices/{device_id}", response_class=HTMLResponse)
def device_page(request: Request, device_id: DeviceId, who: PageViewer, db: Db) -> Response:
    with db.connect() as conn:
        device = registry.get_device(conn, device_id)
        latest = series.latest_values(conn, device_id)
    units = {m.name: m.unit for m in CATALOG[str(device["domain"])].values()}
    return templates.TemplateResponse(
        request,
        "device.html",
        {
            "title": f"Device {device_id}",
            "device": device,
            "latest": latest,
            "units": units,
            "who": who.actor.label,
        },
    )
