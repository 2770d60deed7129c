"""``/ui/`` — the control-room wall, where sign-in lands: the live inbox, the map and
the KPI tiles. The page is a frame; its parts fill themselves from ``/ui/data/*`` and
follow ``/ui/events`` (see ``static/console/wall.js``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from ioc.api.console_common import can_act
from ioc.api.deps import PageViewer
from ioc.api.templating import templates

router = APIRouter(prefix="/ui", include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def wall(request: Request, who: PageViewer) -> Response:
    settings = request.app.state.settings
    return templates.TemplateResponse(
        request,
        "wall.html",
        {
            "title": "Wall",
            "who": who.actor.label,
            "can_act": can_act(who),
            "tiles_url": settings.map_tiles_url or "",
            "timezone": settings.timezone,
        },
    )
