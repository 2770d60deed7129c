"""``/docs`` and ``/redoc`` that work with no internet: Swagger UI and ReDoc served from
the app's own vendored copies (``static/vendor/``), started by a script file rather
than an inline ``<script>`` body, so a strict Content-Security-Policy allows them."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from ioc.api.templating import templates

router = APIRouter(include_in_schema=False)


@router.get("/docs", response_class=HTMLResponse)
def swagger(request: Request) -> Response:
    return templates.TemplateResponse(
        request, "docs.html", {"title": "API", "openapi_url": request.app.openapi_url}
    )


@router.get("/redoc", response_class=HTMLResponse)
def redoc(request: Request) -> Response:
    return templates.TemplateResponse(
        request, "redoc.html", {"title": "API reference", "openapi_url": request.app.openapi_url}
    )
