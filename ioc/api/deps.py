"""What routes depend on: the database, the caller's key and role, the broker accounts.

``require(Role.X)`` is a guard object, so the route table can be inspected: a test
walks every route and checks it has one (see ``tests/api/test_roles.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import ConnectionPool

from ioc.broker_admin.accounts import BrokerAccounts
from ioc.config import Settings
from ioc.errors import Forbidden, Unauthorized
from ioc.security.audit import Actor
from ioc.security.keys import ApiKey, authenticate
from ioc.security.roles import Role, permits
from ioc.storage.db import Connection, translated

COOKIE = "ioc_key"

_bearer = HTTPBearer(auto_error=False, description="an API key: `Authorization: Bearer <key>`")


class Database:
    """The pool, and the one way routes get a connection: one transaction per block,
    committed when the block ends, psycopg's errors translated to ours."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        with translated(), self.pool.connection(timeout=5) as conn:
            yield conn


@dataclass(frozen=True, slots=True)
class Principal:
    key: ApiKey
    remote: str | None

    @property
    def actor(self) -> Actor:
        return Actor(self.key.label, self.key.role.value, self.remote)


def get_db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_accounts(request: Request) -> BrokerAccounts | None:
    accounts: BrokerAccounts | None = request.app.state.accounts
    return accounts


def now() -> datetime:
    return datetime.now(UTC)


class RoleGuard:
    """A dependency that admits a live key whose role satisfies ``role``.

    Pages for people also accept the key from the ``ioc_key`` cookie their login form
    sets (browsers following a Grafana link cannot send a header)."""

    def __init__(self, role: Role, *, cookie: bool = False) -> None:
        self.role = role
        self.cookie = cookie

    def __call__(
        self,
        request: Request,
        db: Annotated[Database, Depends(get_db)],
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        key = credentials.credentials if credentials else None
        if key is None and self.cookie:
            key = request.cookies.get(COOKIE)
        if not key:
            raise Unauthorized("an API key is required: Authorization: Bearer <key>")
        with db.connect() as conn:
            found = authenticate(conn, key)
        if not permits(found.role, self.role):
            raise Forbidden(f"this needs the {self.role.value} role; the key has {found.role}")
        return Principal(found, request.client.host if request.client else None)


def require(role: Role, *, cookie: bool = False) -> RoleGuard:
    return RoleGuard(role, cookie=cookie)


Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
Goc = Annotated[Principal, Depends(require(Role.GOC))]
Db = Annotated[Database, Depends(get_db)]
AppSettings = Annotated[Settings, Depends(get_settings)]
Accounts = Annotated[BrokerAccounts | None, Depends(get_accounts)]
