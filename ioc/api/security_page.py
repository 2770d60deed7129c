"""What the center's monitoring team reads: the recent security events as a page for
admins (``/ui/security``) and the counters for Prometheus (``GET /metrics``, admin key).

The events themselves are recorded where they happen (:mod:`ioc.security.monitor`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ioc.api.deps import Admin, Db, PageAdmin
from ioc.api.templating import templates
from ioc.security import monitor
from ioc.security.monitor import SecurityEvent

router = APIRouter(include_in_schema=False)


@router.get("/ui/security", response_class=HTMLResponse)
def security_page(
    request: Request,
    who: PageAdmin,
    db: Db,
    event: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    names = [e.value for e in SecurityEvent]
    chosen = event if event in names else None  # "" is the form's "all"
    with db.connect() as conn:
        seen = monitor.recent(conn, limit=limit, event=chosen)
    return templates.TemplateResponse(
        request,
        "security.html",
        {
            "title": "Security events",
            "who": who.actor.label,
            "events": seen,
            "names": names,
            "chosen": chosen or "",
        },
    )


@router.get("/metrics")
def metrics(_: Admin) -> Response:
    """The API's security counters, ``ioc_security_events_total{event}``."""
    return Response(generate_latest(monitor.REGISTRY), media_type=CONTENT_TYPE_LATEST)
