"""The page templates, and the error page both the pages and the problem mapping
render (its own module, so neither imports the other).

Templates read the center's time zone and links from ``request.app.state.settings``
through the globals below, so the routes do not pass them on every call.
"""

from __future__ import annotations

import pathlib
from datetime import UTC, datetime
from functools import lru_cache
from http import HTTPStatus
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context

from ioc.api.console_format import age, duration, local_time, severity_icon
from ioc.types import DOMAINS, SEVERITIES_DESC

templates = Jinja2Templates(directory=str(pathlib.Path(__file__).parent / "templates"))


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def zone_of(request: Request) -> ZoneInfo:
    """The center's time zone (``IOC_TIMEZONE``), UTC for an app without settings."""
    settings = getattr(request.app.state, "settings", None)
    return _zone(getattr(settings, "timezone", "UTC") or "UTC")


@pass_context
def _local(ctx: Any, value: datetime | None, seconds: bool = False) -> str:
    return local_time(value, zone_of(ctx["request"]), seconds=seconds)


def _age(value: datetime | None) -> str:
    return age(value, datetime.now(UTC))


@pass_context
def _csrf(ctx: Any) -> str:
    return str(getattr(ctx["request"].state, "csrf_token", "") or "")


@pass_context
def _grafana(ctx: Any) -> str:
    settings = getattr(ctx["request"].app.state, "settings", None)
    return str(getattr(settings, "grafana_url", None) or "")


templates.env.filters["local"] = _local
templates.env.filters["age"] = _age
templates.env.filters["duration"] = duration
templates.env.filters["sevicon"] = severity_icon
templates.env.globals["csrf_token"] = _csrf
templates.env.globals["grafana_url"] = _grafana
templates.env.globals["DOMAINS"] = DOMAINS
templates.env.globals["SEVERITIES_DESC"] = SEVERITIES_DESC


def error_page(request: Request, status: int, detail: str) -> Response:
    """An error as a small HTML page in the site's layout, with the given status."""
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "title": HTTPStatus(status).phrase,
            "status": status,
            "phrase": HTTPStatus(status).phrase,
            "detail": detail,
            "next": request.url.path,
            "who": None,
        },
        status_code=status,
    )
