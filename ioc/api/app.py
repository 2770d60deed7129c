"""``create_app(settings)``: the operations center API.

Built from settings passed in (never read at import). The lifespan opens the pool,
runs the migrations (idempotent) and makes the bootstrap admin key valid when
``IOC_BOOTSTRAP_ADMIN_KEY`` is set. The API only translates HTTP to use cases: it holds
no SQL and runs no background work. The GOC report is pushed by the alerts service
(``python -m ioc alerts``), once per period in a cluster; the API only serves it.
"""

from __future__ import annotations

import logging
import pathlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import SecretStr

from ioc.api import middleware, pages, problems, security_page, signin
from ioc.api.deps import Database
from ioc.api.routes import (
    alerts,
    audit,
    catalog,
    devices,
    events,
    goc,
    health,
    incidents,
    kpis,
    rules,
)
from ioc.broker_admin.accounts import BrokerAccounts, DynsecAccounts
from ioc.broker_admin.dynsec import DynsecClient
from ioc.config import Settings
from ioc.security import users
from ioc.security.keys import ensure_key
from ioc.security.roles import Role
from ioc.storage.db import make_pool
from ioc.storage.migrate import migrate

log = logging.getLogger("ioc.api")

#: Scripts, styles and map data the pages use: vendored, pinned, served by the app.
STATIC = pathlib.Path(__file__).resolve().parent / "static"

_UNSET: Any = object()

DESCRIPTION = """The Intelligent Operations Center's front door.

Every route but `/health` and `/ready` needs `Authorization: Bearer <API key>`. Roles:
`viewer` reads, `operator` also acknowledges and resolves alerts, `admin` also registers
devices and edits rules, `goc` (the national Government Operations Center) pulls its
report. Errors are `application/problem+json` (RFC 9457). Lists are paginated with
`limit` and `offset`.
"""


def _secret(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()


def broker_accounts(settings: Settings) -> BrokerAccounts | None:
    endpoint = settings.broker_admin  # with the TLS files when mqtts://
    return None if endpoint is None else DynsecAccounts(DynsecClient(endpoint))


def create_app(
    settings: Settings,
    *,
    accounts: BrokerAccounts | None = _UNSET,
    run_migrations: bool = True,
    schedule_reports: bool = False,
) -> FastAPI:
    """The app. ``schedule_reports`` is accepted for older callers and ignored: no API
    process schedules GOC reports any more (several replicas would send each period
    several times, none would send it with no API running)."""
    del schedule_reports

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        s: Settings = app.state.settings  # read at start: a test may swap it in
        if run_migrations:
            migrate(s.database_url)
        pool = make_pool(s.database_url, name="ioc-api")
        pool.open(wait=False)
        app.state.db = Database(pool)
        if s.bootstrap_admin_key is not None:
            with app.state.db.connect() as conn:
                ensure_key(conn, s.bootstrap_admin_key.get_secret_value(), Role.ADMIN, "bootstrap")
        with app.state.db.connect() as conn:
            users.bootstrap(conn, s.bootstrap_admin_login, _secret(s.bootstrap_admin_password))
        try:
            yield
        finally:
            pool.close()

    app = FastAPI(
        title="IOC operations center API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served offline by console_docs, from the vendored copies
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.accounts = broker_accounts(settings) if accounts is _UNSET else accounts
    problems.install(app)
    middleware.install(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = problems.document(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    for module in (health, devices, catalog, kpis, alerts, incidents, rules, events, goc, audit):
        app.include_router(module.router)
    app.include_router(signin.router)
    app.include_router(security_page.router)
    for router in pages.routers:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=307)

    return app
