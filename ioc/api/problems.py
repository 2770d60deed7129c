"""The one table from errors to responses: ``application/problem+json`` (RFC 9457).

Routes raise :mod:`ioc.errors` exceptions and never build error bodies. Starlette finds
a handler by walking the exception's MRO, so a subclass (``StorageUnavailable``) is
answered by its base's entry (``Unavailable``). A body that fails validation is a 422,
a body that is not JSON at all a 400, a client that failed to sign in too often a
429 with ``Retry-After``. Pages for people (``/ui/...``) get the same statuses as a
small HTML page instead (:func:`ioc.api.templating.error_page`), and a page asked for
without a live session sends the browser to sign in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from ioc.api.templating import error_page
from ioc.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    IOCError,
    NotFound,
    TooManyAttempts,
    Unauthorized,
    Unavailable,
)
from ioc.security.sessions import SignInRequired

log = logging.getLogger("ioc.api")

PROBLEM = "application/problem+json"


class Problem(BaseModel):
    """An error, as RFC 9457 describes it."""

    type: str = Field(default="about:blank", examples=["about:blank"])
    title: str = Field(examples=["Not Found"])
    status: int = Field(examples=[404])
    detail: str = Field(default="", examples=["no device 'tc-001'"])
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="validation errors, for 422 (and 400: where the JSON broke)"
    )


#: exception class → HTTP status. The ONE table.
STATUS: Mapping[type[Exception], int] = {
    NotFound: 404,
    Conflict: 409,
    Unauthorized: 401,
    TooManyAttempts: 429,
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
        response = problem_response(request, status, str(exc))
        if isinstance(exc, TooManyAttempts):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    return handle


def _sign_in(request: Request, exc: Exception) -> Response:
    """A page without a live session: a browser navigating is sent to sign in and
    brought back; anything else (a form post, a script) gets the 401."""
    if _wants_html(request) and request.method in ("GET", "HEAD"):
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/ui/login?{urlencode({'next': back})}", status_code=303)
    return problem_response(request, 401, str(exc))


def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": e.get("type")}
        for e in exc.errors()
    ]
    if any(e["type"] == "json_invalid" for e in errors):
        return problem_response(request, 400, "the request body is not valid JSON", errors)
    return problem_response(request, 422, "the request failed validation", errors)


def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    response = problem_response(request, exc.status_code, str(exc.detail))
    response.headers.update(exc.headers or {})
    if exc.status_code == 405:
        response.headers["Allow"] = ", ".join(_allowed(request))
    return response


def _routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None)  # FastAPI nests included routers
        if inner is not None:
            yield from _routes(inner.routes)


def _allowed(request: Request) -> list[str]:
    """Every method of every route whose path matches: Starlette names only the first."""
    path = request.url.path
    methods = {
        m for r in _routes(request.app.routes) if r.path_regex.match(path) for m in r.methods or ()
    }
    return sorted(methods)


def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unexpected error", exc_info=exc, extra={"path": request.url.path})
    return problem_response(request, 500, "internal error")


def document(schema: dict[str, Any]) -> dict[str, Any]:
    """Make every error response in an OpenAPI document a problem+json ``Problem``, and
    give every authenticated operation its 401 and 403 (FastAPI adds its own 422 body)."""
    ref = {"$ref": "#/components/schemas/Problem"}
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = (
        Problem.model_json_schema()
    )
    for operations in schema.get("paths", {}).values():
        for op in operations.values():
            answers = op.setdefault("responses", {})
            extra: tuple[str, ...] = ("401", "403") if op.get("security") else ()
            if "requestBody" in op:
                extra += ("400",)  # a body that is not JSON at all
            for status in extra:
                answers.setdefault(status, {"description": HTTPStatus(int(status)).phrase})
            for status, answer in answers.items():
                if status[0] in "45":
                    answer["content"] = {PROBLEM: {"schema": ref}}
    schema["components"]["schemas"].pop("HTTPValidationError", None)
    schema["components"]["schemas"].pop("ValidationError", None)
    return schema


def install(app: FastAPI) -> None:
    for exc_class, status in STATUS.items():
        app.add_exception_handler(exc_class, _handler(status))
    app.add_exception_handler(SignInRequired, _sign_in)
    app.add_exception_handler(IOCError, _handler(500))
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)


__all__ = ["PROBLEM", "STATUS", "Problem", "install", "problem_response", "responses"]
