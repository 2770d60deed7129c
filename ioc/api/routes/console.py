"""The data behind the console's live parts, under ``/ui/`` so the sign-in cookie
reaches them (a browser's EventSource cannot send an Authorization header): the event
stream, the inbox, the map's devices and districts, KPI tiles and chart series.

Reads only; every change goes through the pages' forms and the lifecycle use cases.
"""

from __future__ import annotations

import pathlib
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import FileResponse, Response, StreamingResponse

from ioc.alerts import store as alerts
from ioc.alerts.models import Alert
from ioc.api import console_incidents
from ioc.api.console_format import inbox_order
from ioc.api.deps import AppSettings, Db, PageViewer, Principal
from ioc.api.routes.events import stream_response
from ioc.kpis import figures
from ioc.storage import registry, series
from ioc.storage.db import Connection
from ioc.types import DEVICE_ID_PATTERN, Domain

router = APIRouter(prefix="/ui", tags=["console"], include_in_schema=False)

DEMO_CITY = pathlib.Path(__file__).resolve().parent.parent / "static" / "map" / "demo-city.geojson"


@router.get("/events")
async def events(
    request: Request,
    who: PageViewer,
    db: Db,
    settings: AppSettings,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
    after: Annotated[str | None, Query(max_length=20)] = None,
) -> StreamingResponse:
    """``/api/v1/events`` for the pages: the same frames, resumed from Last-Event-ID (or
    ``?after=``, for a page that reconnects with a new EventSource)."""
    return await stream_response(request, who, db, settings, last_event_id or after)


def _levels(conn: Connection) -> dict[int, dict[str, Any]]:
    """rule id → {kind, op, value, clear, after_s}: what an alert is measured against."""
    out: dict[int, dict[str, Any]] = {}
    for rule in alerts.list_rules(conn):
        params = rule.params.model_dump() if hasattr(rule.params, "model_dump") else {}
        out[rule.id] = {
            "kind": rule.kind,
            "op": params.get("op"),
            "level": params.get("value"),
            "clear": params.get("clear"),
            "after_s": params.get("after_s"),
        }
    return out


def inbox_alert(alert: Alert, levels: dict[int, dict[str, Any]]) -> dict[str, Any]:
    level = levels.get(alert.rule_id, {})
    return {
        "type": "alert",
        "id": alert.id,
        "title": alert.rule_name,
        "state": alert.state,
        "severity": alert.severity,
        "domain": alert.domain,
        "district": alert.district,
        "device_id": alert.device_id,
        "metric": alert.metric,
        "value": alert.value,
        "op": level.get("op"),
        "level": level.get("level"),
        "kind": level.get("kind"),
        "started_at": alert.started_at.isoformat(),
        "acknowledged_at": alert.acknowledged_at.isoformat() if alert.acknowledged_at else None,
        "acknowledged_by": alert.acknowledged_by,
    }


def inbox(conn: Connection, who: Principal | None = None) -> dict[str, Any]:
    """Open incidents and open alerts, unacknowledged first, then severity, then age;
    for a person limited to a district, that district's only."""
    levels = _levels(conn)
    items = [
        inbox_alert(a, levels)
        for a in alerts.list_open(conn)
        if who is None or who.sees_district(a.district)
    ]
    items.sort(key=lambda i: inbox_order(i["state"], i["severity"], _epoch(i["started_at"])))
    incidents = [
        i
        for i in console_incidents.open_incidents(conn)
        if who is None or who.sees_any(i.get("districts") or [])
    ]
    incidents.sort(key=lambda i: inbox_order(i["state"], i["severity"], _epoch(i["opened_at"])))
    return {"now": datetime.now(UTC).isoformat(), "incidents": incidents, "alerts": items}


def _epoch(text: object) -> float:
    return datetime.fromisoformat(str(text)).timestamp() if text else 0.0


@router.get("/data/inbox")
def inbox_data(who: PageViewer, db: Db) -> dict[str, Any]:
    with db.connect() as conn:
        return inbox(conn, who)


def device_state(online: bool | None, severity: str | None, silent: bool) -> str:
    """normal / alert / silent, the map's three colours (silent wins: no data is worse)."""
    if silent or online is False:
        return "silent"
    return "alert" if severity else "normal"


@router.get("/data/map")
def map_data(who: PageViewer, db: Db) -> dict[str, Any]:
    """Devices as compact rows ``[id, lat, lon, state, domain, district]``."""
    with db.connect() as conn:
        rows = registry.positions(conn)
        open_alerts = alerts.list_open(conn)
        silent = set(alerts.silent_devices(conn))
    worst: dict[str, str] = {}
    for a in open_alerts:
        if a.device_id:
            worst[a.device_id] = a.severity
    devices = [
        [d, lat, lon, device_state(online, worst.get(d), d in silent), dom, dis]
        for d, dom, dis, lat, lon, online in rows
        if lat is not None and lon is not None and who.sees_district(dis)
    ]
    return {"devices": devices}


@router.get("/data/districts.geojson")
def districts(_: PageViewer, settings: AppSettings) -> Response:
    path = pathlib.Path(settings.map_geojson) if settings.map_geojson else DEMO_CITY
    return FileResponse(path, media_type="application/geo+json")


@router.get("/data/kpis")
def kpis(
    _: PageViewer,
    db: Db,
    domain: Domain | None = None,
    district: Annotated[str | None, Query(max_length=100)] = None,
) -> dict[str, Any]:
    at = datetime.now(UTC)
    with db.connect() as conn:
        groups = figures.compute(conn, at, domain=domain, district=district)
    return {"generated_at": at.isoformat(), "groups": groups}


@router.get("/data/series")
def chart_series(
    _: PageViewer,
    db: Db,
    metric: Annotated[str, Query(max_length=100)],
    device: Annotated[str | None, Query(pattern=f"^{DEVICE_ID_PATTERN}$")] = None,
    district: Annotated[str | None, Query(max_length=100)] = None,
    domain: Domain | None = None,
    hours: Annotated[float, Query(gt=0, le=24 * 7)] = 24,
    end: datetime | None = None,
    bucket: Annotated[str, Query(max_length=10)] = "1m",
) -> dict[str, Any]:
    """``{"t": [epoch s], "avg": [...], "min": [...], "max": [...]}`` for uPlot."""
    stop = end or datetime.now(UTC)
    window = series.plan(stop - timedelta(hours=hours), stop, bucket, 100_000)
    with db.connect() as conn:
        if device is not None:
            points = series.device_series(conn, device, metric, window)
        elif district is not None and domain is not None:
            points = series.district_series(conn, domain, district, metric, window)
        else:
            points = []
    return {
        "t": [p["t"].timestamp() for p in points],
        "avg": [p["avg"] for p in points],
        "min": [p["min"] for p in points],
        "max": [p["max"] for p in points],
    }
