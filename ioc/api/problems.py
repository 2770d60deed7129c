"""The one table from errors to responses: ``application/problem+json`` (RFC 9457).

Routes raise :mod:`ioc.errors` exceptions and never build error bodies. Starlette finds
a handler by walking the exception's MRO, so a subclass (``StorageUnavailable``) is
answered by its base's entry (``Unavailable``). Pages for people (``/ui/...``) get the
same statuses as a small HTML page instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from ioc.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    IOCError,
    NotFound,
    Unauthorized,
    Unavailable,
)

log = logging.getLogger("ioc.api")

PROBLEM = "application/problem+json"


class Problem(BaseModel):
    """An error, as RFC 9457 describes it."""

    type: str = Field(default="about:blank", examples=["about:blank"])
    title: str = Field(examples=["Not Found"])
    status: int = Field(examples=[404])
    detail: str = Field(default="", examples=["no device 'tc-001'"])
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="validation errors, for 422"
    )


#: exception class → HTTP status. The ONE table.
STATUS: Mapping[type[Exception], int] = {
    NotFound: 404,
    Conflict: 409,
    Unauthorized: 401,
    Forbidden: 403,
    InvalidInput: 422,
    Unavailable: 503,
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries for the errors a route can answer with."""
    return {
        s: {
            "model": Problem,
            "description": HTTPStatus(s).phrase,
            "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for s in statuses
    }


def _wants_html(request: Request) -> bool:
    return request.url.path.startswith("/ui")


def problem_response(
    request: Request, status: int, detail: str, errors: list[dict[str, Any]] | None = None
) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if _wants_html(request):
        from ioc.api.pages import error_page  # the pages module renders its own layout

        return error_page(request, status, detail)
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail, errors=errors)
    return JSONResponse(
        body.model_dump(exclude_none=True), status_code=status, media_type=PROBLEM, headers=headers
    )


def _handler(status: int) -> Callable[[Request, Exception], Response]:
    def handle(request: Request, exc: Exception) -> Response:
        if status >= 500:
            log.warning(
                "dependency unavailable", extra={"error": str(exc), "path": request.url.path}
            )
        return problem_response(request, status, str(exc))

    return handle


def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
        for e in exc.errors()
    ]
    return problem_response(request, 422, "the request failed validation", errors)


def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return problem_response(request, exc.status_code, str(exc.detail))


def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unexpected error", exc_info=exc, extra={"path": request.url.path})
    return problem_response(request, 500, "internal error")


def install(app: FastAPI) -> None:
    for exc_class, status in STATUS.items():
        app.add_exception_handler(exc_class, _handler(status))
    app.add_exception_handler(IOCError, _handler(500))
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)


__all__ = ["PROBLEM", "STATUS", "Problem", "install", "problem_response", "responses"]
