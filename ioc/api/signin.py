"""Signing in and out of the pages for people (``/ui/login``, ``/ui/logout``).

Its own module so the console's pages can change without touching sign-in.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ioc.api.deps import COOKIE, Db
from ioc.api.templating import templates
from ioc.errors import Unauthorized
from ioc.security.keys import authenticate

router = APIRouter(prefix="/ui", tags=["pages"], include_in_schema=False)


def _safe_next(target: str) -> str:
    return target if target.startswith("/ui/") and "//" not in target else "/ui/login"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/ui/login") -> Response:
    return templates.TemplateResponse(
        request, "login.html", {"title": "Sign in", "next": _safe_next(next), "who": None}
    )


@router.post("/login")
async def login(request: Request, db: Db) -> Response:
    form = parse_qs((await request.body()).decode(errors="replace"))
    key = (form.get("key") or [""])[0].strip()
    if not key:
        raise Unauthorized("no key given")
    await run_in_threadpool(_check_key, db, key)
    response = RedirectResponse(_safe_next((form.get("next") or [""])[0]), status_code=303)
    response.set_cookie(COOKIE, key, httponly=True, samesite="strict", path="/ui")
    return response


def _check_key(db: Db, key: str) -> None:
    with db.connect() as conn:
        authenticate(conn, key)


@router.get("/logout")
def logout() -> Response:
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/ui")
    return response
