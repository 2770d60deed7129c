"""Device and district pages: the device list (search, filters, paging), one device
(status history, recent alerts, a 24-hour chart per metric from the rollups), and one
district (its KPIs, open alerts, devices and charts)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response

from ioc.alerts import store as alerts
from ioc.alerts.models import AlertFilters, Page
from ioc.api.console_common import PAGE_SIZE, Paging, filters_of
from ioc.api.deps import Db, PageViewer
from ioc.api.templating import templates
from ioc.kpis import figures
from ioc.storage import registry, series
from ioc.storage.registry import DeviceFilter
from ioc.telemetry.catalog import CATALOG
from ioc.types import DEVICE_ID_PATTERN, Domain

router = APIRouter(prefix="/ui", include_in_schema=False)

DeviceId = Annotated[str, Path(pattern=f"^{DEVICE_ID_PATTERN}$")]
District = Annotated[str, Path(min_length=1, max_length=100)]


@router.get("/devices", response_class=HTMLResponse)
def device_list(
    request: Request,
    who: PageViewer,
    db: Db,
    q: Annotated[str, Query(max_length=100)] = "",
    domain: Domain | None = None,
    district: Annotated[str | None, Query(max_length=100)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    f = DeviceFilter(domain=domain, district=district or None)
    with db.connect() as conn:
        if q.strip():
            items, total = registry.search_devices(
                conn, q.strip(), f, limit=PAGE_SIZE, offset=offset
            )
        else:
            items, total = registry.list_devices(conn, f, limit=PAGE_SIZE, offset=offset)
    query = filters_of(q=q.strip(), domain=domain, district=district)
    return templates.TemplateResponse(
        request,
        "devices.html",
        {
            "title": "Devices",
            "who": who.actor.label,
            "devices": items,
            "query": query,
            "paging": Paging(offset, total, "/ui/devices", query),
        },
    )


@router.get("/devices/{device_id}", response_class=HTMLResponse)
def device_page(request: Request, device_id: DeviceId, who: PageViewer, db: Db) -> Response:
    with db.connect() as conn:
        device = registry.get_device(conn, device_id)
        latest = series.latest_values(conn, device_id)
        history = registry.status_history(conn, device_id)
        nearby = alerts.list_alerts(
            conn,
            AlertFilters(domain=device["domain"], district=device["district"]),
            Page(limit=500, offset=0),
        )
    metrics = list(CATALOG[str(device["domain"])].values())
    return templates.TemplateResponse(
        request,
        "device.html",
        {
            "title": f"Device {device_id}",
            "device": device,
            "latest": latest,
            "metrics": metrics,
            "units": {m.name: m.unit for m in metrics},
            "history": history,
            "alerts": [a for a in nearby if a.device_id == device_id][:20],
            "who": who.actor.label,
        },
    )


@router.get("/districts/{district}", response_class=HTMLResponse)
def district_page(request: Request, district: District, who: PageViewer, db: Db) -> Response:
    """The path parameter is ``district`` so that the guard's scope check covers it."""
    name = district
    with db.connect() as conn:
        groups = figures.compute(conn, datetime.now(UTC), district=name)
        open_alerts = alerts.list_alerts(
            conn, AlertFilters(state="open", district=name), Page(limit=200, offset=0)
        )
        devices, total = registry.list_devices(
            conn, DeviceFilter(district=name), limit=PAGE_SIZE, offset=0
        )
    charts = [
        (g["domain"], m) for g in groups for m in list(CATALOG[str(g["domain"])].values())[:2]
    ]
    return templates.TemplateResponse(
        request,
        "district.html",
        {
            "title": f"District {name}",
            "name": name,
            "groups": groups,
            "alerts": open_alerts,
            "devices": devices,
            "device_total": total,
            "charts": charts,
            "who": who.actor.label,
        },
    )
