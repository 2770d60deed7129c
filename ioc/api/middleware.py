"""The web-security middleware: who the client is, CSRF, and security headers.

One pure ASGI middleware (it does not buffer responses, so the event stream flows):

- **Client address.** ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed only
  from the proxies in ``IOC_TRUSTED_PROXIES`` (default: none); the client is then the
  nearest address in the chain that is not a trusted proxy. Everything after it (the
  audit's "from where", throttling) reads ``request.client``. Run uvicorn with
  ``proxy_headers=False`` so it does not rewrite the client first.
- **CSRF**, on every state-changing ``/ui`` request: the ``Origin`` (or, without one,
  the ``Referer``) must be the app's own — the request's host or ``IOC_API_URL``'s
  origin — and a request carrying the session cookie must present the session's CSRF
  token as header ``X-CSRF-Token`` or form field ``csrf_token``. Sign-in has no session
  yet, so it gets the origin check only. A request authenticated by an
  ``Authorization`` header carries no ambient credential and needs no token.
  ``request.state.csrf_token`` is set on every ``/ui`` request for the templates.
- **Headers**: ``nosniff``, ``Referrer-Policy`` and ``X-Frame-Options: DENY`` on
  everything; on ``/ui`` pages a CSP that allows only the app's own assets (no inline
  script or style, ``frame-ancestors 'none'``) and ``Cache-Control: no-store``; HSTS
  when served over HTTPS.
"""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ioc.api.deps import COOKIE, Database
from ioc.api.problems import problem_response
from ioc.config import Settings
from ioc.security import monitor, sessions
from ioc.security.monitor import SecurityEvent

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: A form body larger than this is not searched for a CSRF token (it is refused).
MAX_FORM_BYTES = 1 << 20
EXEMPT_FROM_TOKEN = frozenset({"/ui/login"})
STATIC_PREFIXES = ("/ui/static/", "/static/")


def content_security_policy(tiles_url: str | None = None) -> str:
    """Only the app's own assets: no inline script or style, never framed. A city's own
    map tile server (``IOC_MAP_TILES_URL``) is the one other origin images may come from."""
    extra = ""
    if tiles_url:
        parts = urlsplit(tiles_url)
        extra = f" {parts.scheme}://{parts.netloc}"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        f"img-src 'self' data: blob:{extra}; font-src 'self'; connect-src 'self'{extra}; "
        "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    )


Network = IPv4Network | IPv6Network


def parse_networks(spec: str) -> tuple[Network, ...]:
    return tuple(ip_network(p.strip(), strict=False) for p in spec.split(",") if p.strip())


def _trusted(address: str, proxies: Iterable[Network]) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in proxies)


def real_client(peer: str, forwarded_for: str | None, proxies: tuple[Network, ...]) -> str:
    """The client address: the peer, unless it is a trusted proxy; then the nearest
    address in ``X-Forwarded-For`` (read from the right) that is not one."""
    if not proxies or not forwarded_for or not _trusted(peer, proxies):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop
    return hops[0] if hops else peer


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


def _cookie(headers: dict[str, str], name: str) -> str | None:
    for part in headers.get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class SecurityMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._proxies: tuple[str, tuple[Network, ...]] = ("", ())

    def _settings(self, scope: Scope) -> Settings:
        settings: Settings = scope["app"].state.settings
        return settings

    def _networks(self, spec: str) -> tuple[Network, ...]:
        if self._proxies[0] != spec:
            self._proxies = (spec, parse_networks(spec))
        return self._proxies[1]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = self._settings(scope)
        headers = _headers(scope)
        self._locate_client(scope, headers, settings)
        path: str = scope["path"]
        page = path == "/ui" or path.startswith("/ui/")
        if page:
            token = _cookie(headers, COOKIE)
            csrf = sessions.csrf_token(token) if token else ""
            scope.setdefault("state", {})["csrf_token"] = csrf
            if scope["method"] in UNSAFE:
                refusal, receive = await self._check_csrf(scope, receive, headers, token, settings)
                if refusal is not None:
                    await self._refuse(scope, refusal, send)
                    return
        https = scope.get("scheme") == "https"
        static = path.startswith(STATIC_PREFIXES)
        csp = content_security_policy(getattr(settings, "map_tiles_url", None))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"same-origin"),
                    (b"x-frame-options", b"DENY"),
                ]
                if page:
                    extra.append((b"content-security-policy", csp.encode()))
                    if not static:
                        extra.append((b"cache-control", b"no-store"))
                if https:
                    extra.append((b"strict-transport-security", b"max-age=31536000"))
                names = {name for name, _ in extra}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _locate_client(self, scope: Scope, headers: dict[str, str], settings: Settings) -> None:
        proxies = self._networks(settings.trusted_proxies)
        client = scope.get("client")
        if not proxies or client is None or not _trusted(client[0], proxies):
            return
        scope["client"] = (real_client(client[0], headers.get("x-forwarded-for"), proxies), 0)
        proto = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
        if proto in ("http", "https"):
            scope["scheme"] = proto

    def _allowed_origins(
        self, scope: Scope, headers: dict[str, str], settings: Settings
    ) -> set[str]:
        host = headers.get("host", "")
        scheme = scope.get("scheme", "http")
        return {f"{scheme}://{host}".lower(), _origin_of(settings.api_url)}

    async def _check_csrf(
        self,
        scope: Scope,
        receive: Receive,
        headers: dict[str, str],
        token: str | None,
        settings: Settings,
    ) -> tuple[str | None, Receive]:
        """(why it is refused or None, the receive to hand on: the body may be read)."""
        allowed = self._allowed_origins(scope, headers, settings)
        origin = headers.get("origin")
        if origin is None and headers.get("referer"):
            origin = _origin_of(headers["referer"])
        if origin is not None and origin.lower() not in allowed:
            return f"cross-origin request from {origin[:100]!r}", receive
        if scope["path"] in EXEMPT_FROM_TOKEN or token is None or "authorization" in headers:
            return None, receive
        presented = headers.get("x-csrf-token")
        if presented is None:
            body, receive = await _read_body(receive)
            if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                form = parse_qs(body.decode(errors="replace"))
                presented = next(iter(form.get("csrf_token", [])), None)
        if presented is None or not sessions.csrf_matches(token, presented):
            return "missing or wrong CSRF token", receive
        return None, receive

    async def _refuse(self, scope: Scope, why: str, send: Send) -> None:
        request = Request(scope)
        client = request.client.host if request.client else None
        db: Database | None = getattr(scope["app"].state, "db", None)
        await run_in_threadpool(_record, db, client, scope["path"], why)
        response = problem_response(request, 403, f"refused: {why}")
        response.headers["cache-control"] = "no-store"
        await response(scope, _nothing, send)


def _record(db: Database | None, client: str | None, path: str, why: str) -> None:
    if db is None:
        monitor.emit(None, SecurityEvent.CSRF_REFUSED, client=client, path=path)
        return
    with db.connect() as conn:
        monitor.emit(
            conn, SecurityEvent.CSRF_REFUSED, client=client, path=path, detail={"why": why}
        )


async def _nothing() -> Message:
    return {"type": "http.disconnect"}


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body (up to :data:`MAX_FORM_BYTES`), and a receive that replays it."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return b"", receive
        chunks.append(chunk)
        more = bool(message.get("more_body", False))
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def install(app: Any) -> None:
    """Register the middleware on a FastAPI app (outermost but for Starlette's own)."""
    app.add_middleware(SecurityMiddleware)
