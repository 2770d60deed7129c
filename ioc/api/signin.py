"""Signing in and out of the pages for people (``/ui/login``, ``/ui/logout``).

People sign in with login and password; a machine's API key is still accepted in the
field named ``key`` (the run contract keeps it). Either way the browser gets only a
server-side session's token, in an HttpOnly, SameSite=Strict cookie (``Secure`` over
HTTPS) that expires with the session; sign-out revokes the session, so a copied
cookie stops working too. Failed attempts count against the client
(:mod:`ioc.security.throttle`) and are security events.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ioc.api.deps import COOKIE, Database, Db, check_throttle, client_of, failed, get_settings
from ioc.api.templating import templates
from ioc.errors import TooManyAttempts, Unauthorized
from ioc.security import keys, monitor, sessions, users
from ioc.security.monitor import SecurityEvent

router = APIRouter(prefix="/ui", tags=["pages"], include_in_schema=False)

LANDING = "/ui/"


def safe_next(target: str) -> str:
    """Only a page of this app, never another host (``//evil``) nor sign-in itself."""
    ok = target.startswith("/ui/") and "//" not in target and "\\" not in target
    return target if ok and not target.startswith("/ui/login") else LANDING


def _form(request: Request, next_: str, *, status: int = 200, error: str = "") -> Response:
    return templates.TemplateResponse(
        request,
        "login.html",
        {"title": "Sign in", "next": safe_next(next_), "who": None, "error": error},
        status_code=status,
    )


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = LANDING) -> Response:
    return _form(request, next)


@router.post("/login")
async def login(request: Request, db: Db) -> Response:
    form = parse_qs((await request.body()).decode(errors="replace"))

    def field(name: str) -> str:
        return (form.get(name) or [""])[0]

    next_ = field("next") or LANDING
    try:
        token = await run_in_threadpool(
            _sign_in, request, db, field("login").strip(), field("password"), field("key").strip()
        )
    except TooManyAttempts:
        raise  # its own 429 with Retry-After
    except Unauthorized as exc:
        return _form(request, next_, status=401, error=str(exc))
    response = RedirectResponse(safe_next(next_), status_code=303)
    ttl = get_settings(request).session_ttl_s
    response.set_cookie(
        COOKIE,
        token,
        max_age=ttl,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/ui",
    )
    return response


def _sign_in(request: Request, db: Database, login: str, password: str, key: str) -> str:
    """A new session's token, or Unauthorized (counted against the client)."""
    check_throttle(request, db)
    ttl = timedelta(seconds=get_settings(request).session_ttl_s)
    client = client_of(request)
    if not key and not (login and password):
        raise Unauthorized("give a login and password (or an API key)")
    try:
        with db.connect() as conn:
            if key:
                api_key = keys.authenticate(conn, key)
                token = sessions.open_session(conn, ttl=ttl, key=api_key, remote=client)
                label = api_key.label
            else:
                user = users.authenticate(conn, login, password)
                token = sessions.open_session(conn, ttl=ttl, user=user, remote=client)
                label = user.label
            monitor.emit(
                conn, SecurityEvent.SIGNIN_SUCCEEDED, client=client, actor=label, path="/ui/login"
            )
            sessions.purge(conn)  # each sign-in forgets sessions that ended long ago
    except Unauthorized:
        detail = {"with": "key"} if key else {"login": login[:64]}
        failed(request, db, SecurityEvent.SIGNIN_FAILED, detail)
        raise
    return token


@router.get("/logout", response_class=HTMLResponse)
def logout_form(request: Request) -> Response:
    """Sign-out changes state, so it is a form (with its CSRF token), not a link."""
    if not request.cookies.get(COOKIE):
        return RedirectResponse("/ui/login", status_code=303)
    return templates.TemplateResponse(
        request, "login.html", {"title": "Sign out", "signing_out": True, "who": None}
    )


@router.post("/logout")
async def logout(request: Request, db: Db) -> Response:
    token = request.cookies.get(COOKIE)
    if token:
        await run_in_threadpool(_revoke, db, token, client_of(request))
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict")
    return response


def _revoke(db: Database, token: str, client: str) -> None:
    with db.connect() as conn:
        if sessions.revoke(conn, token):
            monitor.emit(conn, SecurityEvent.SIGNED_OUT, client=client, path="/ui/logout")
