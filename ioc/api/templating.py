"""The page templates, and the error page both the pages and the problem mapping
render (its own module, so neither imports the other)."""

from __future__ import annotations

import pathlib
from http import HTTPStatus

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

templates = Jinja2Templates(directory=str(pathlib.Path(__file__).parent / "templates"))


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
