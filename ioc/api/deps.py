"""What routes depend on: the database, who is calling (a person or an API key) and
their role and district, the broker accounts.

``require(Role.X)`` is a guard object, so the route table can be inspected: a test
walks every route and checks it has one (see ``tests/api/test_roles.py``). The guard:

1. finds the caller: ``Authorization: Bearer <key>`` (machines), or on pages
   (``cookie=True``) the server-side session named by the ``ioc_session`` cookie;
   a client that failed too often is refused first (429, :mod:`ioc.security.throttle`);
2. checks the role (403);
3. checks the district scope of a person (or key) limited to one district: a resource
   the path names (``alert_id``, ``device_id``, ``incident_id``, ``district``) outside
   it is a 404, as if it did not exist, and a list's ``district`` filter is pinned to
   theirs (another district asked for is a 404).

What the path does not name (ids in a form body, an event stream) the route checks
itself, asking the principal: ``who.sees_district(d)``, ``who.sees_any(districts)``,
``who.district_filter(asked)``.
Every refusal is a security event (:mod:`ioc.security.monitor`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import ConnectionPool
from starlette.datastructures import QueryParams

from ioc.alerts import store as alert_store
from ioc.broker_admin.accounts import BrokerAccounts
from ioc.config import Settings
from ioc.errors import Forbidden, NotFound, TooManyAttempts, Unauthorized
from ioc.incidents import store as incident_store
from ioc.security import monitor, sessions
from ioc.security.audit import Actor
from ioc.security.keys import ApiKey, authenticate
from ioc.security.monitor import SecurityEvent
from ioc.security.roles import Role, permits
from ioc.security.sessions import SignInRequired
from ioc.security.throttle import Throttle
from ioc.security.users import User
from ioc.storage import registry
from ioc.storage.db import Connection, translated

#: The sign-in cookie: a session token, never a key or a password.
COOKIE = "ioc_session"

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
    """Who is calling: a person (``user``) or an API key (``key``), exactly one.

    ``district`` is the person's scope (None: every district)."""

    role: Role
    label: str
    name: str
    remote: str | None
    district: str | None = None
    user: User | None = None
    key: ApiKey | None = None

    @classmethod
    def of_key(cls, key: ApiKey, remote: str | None) -> Principal:
        return cls(key.role, key.label, key.name, remote, key.district, key=key)

    @classmethod
    def of_user(cls, user: User, remote: str | None) -> Principal:
        return cls(user.role, user.label, user.name, remote, user.district, user=user)

    @property
    def actor(self) -> Actor:
        """For histories and the audit log: the person's login or the key's label, and
        the person's or the key's name."""
        return Actor(self.label, self.role.value, self.remote, self.name or None)

    def sees_district(self, district: str | None) -> bool:
        return self.district is None or district == self.district

    def sees_any(self, districts: Iterable[str | None]) -> bool:
        """For things spanning districts (an incident): visible when one is theirs."""
        return self.district is None or self.district in set(districts)

    def sees_event(
        self, kind: str, payload: Mapping[str, Any], devices: Collection[str] = ()
    ) -> bool:
        """Whether a live-stream event is theirs: an alert of their district, an incident
        touching it, a device of it (``devices``: the district's device ids)."""
        if self.district is None:
            return True
        if kind.startswith("alert."):
            return payload.get("district") == self.district
        if kind.startswith("incident."):
            return self.district in (payload.get("districts") or [])
        if kind.startswith("device."):
            return payload.get("device_id") in devices
        return False

    def district_filter(self, asked: str | None) -> str | None:
        """The district a list is limited to: what was asked, or the person's own;
        :class:`NotFound` for another district."""
        if self.district is None:
            return asked
        if asked is not None and asked != self.district:
            raise NotFound(f"no district {asked!r}")
        return self.district


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


def client_of(request: Request) -> str:
    """The client's address (the middleware believes forwarded headers only from
    configured proxies)."""
    return request.client.host if request.client else "unknown"


def throttle_of(request: Request) -> Throttle:
    """The app's throttle, made on first use from the settings."""
    throttle: Throttle | None = getattr(request.app.state, "throttle", None)
    if throttle is None:
        s = get_settings(request)
        throttle = Throttle(s.auth_failure_burst, s.auth_failures_per_minute)
        request.app.state.throttle = throttle
    return throttle


def check_throttle(request: Request, db: Database) -> None:
    """429 for a client that has failed too often (counted; logged once per episode)."""
    try:
        throttle_of(request).check(client_of(request), time.monotonic())
    except TooManyAttempts:
        monitor.count(SecurityEvent.THROTTLED)
        raise


def failed(request: Request, db: Database, event: SecurityEvent, detail: dict[str, str]) -> None:
    """Count a failed key or sign-in against the client, and record it."""
    client = client_of(request)
    blocked = throttle_of(request).fail(client, time.monotonic())
    with db.connect() as conn:
        monitor.emit(conn, event, client=client, path=request.url.path, detail=detail)
        if blocked:
            monitor.emit(conn, SecurityEvent.THROTTLED, client=client, path=request.url.path)


#: Path parameter → the districts of what it names. NotFound from a lookup is left to
#: the route (it answers 404 for a missing thing itself).
ScopeLookup = Callable[[Connection, str], Iterable[str | None]]
SCOPE_LOOKUPS: dict[str, ScopeLookup] = {
    "alert_id": lambda conn, v: [alert_store.get_alert(conn, int(v)).district],
    "device_id": lambda conn, v: [registry.get_device(conn, v)["district"]],
    "incident_id": lambda conn, v: incident_store.load(conn, int(v)).districts,
    "district": lambda conn, v: [v],
}


class RoleGuard:
    """A dependency that admits a live key or session whose role satisfies ``role``
    and whose district scope covers what the path names."""

    def __init__(self, role: Role, *, cookie: bool = False) -> None:
        self.role = role
        self.cookie = cookie

    def __call__(
        self,
        request: Request,
        db: Annotated[Database, Depends(get_db)],
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Principal:
        remote = request.client.host if request.client else None
        if credentials is not None:
            who = self._by_key(request, db, credentials.credentials, remote)
        elif self.cookie and request.cookies.get(COOKIE):
            who = self._by_session(db, request.cookies[COOKIE], remote)
        elif self.cookie:
            raise SignInRequired("sign in first")
        else:
            raise Unauthorized("an API key is required: Authorization: Bearer <key>")
        if not permits(who.role, self.role):
            self._refused(request, db, who, SecurityEvent.ACCESS_DENIED)
            raise Forbidden(f"this needs the {self.role.value} role; you have {who.role}")
        if who.district is not None:
            self._in_scope(request, db, who)
        return who

    def _by_key(self, request: Request, db: Database, key: str, remote: str | None) -> Principal:
        check_throttle(request, db)
        try:
            with db.connect() as conn:
                found = authenticate(conn, key)
        except Unauthorized:
            failed(request, db, SecurityEvent.KEY_REJECTED, {})
            raise
        return Principal.of_key(found, remote)

    def _by_session(self, db: Database, token: str, remote: str | None) -> Principal:
        with db.connect() as conn:
            try:
                session = sessions.resolve(conn, token)
            except Unauthorized as exc:
                raise SignInRequired(str(exc)) from None
        if session.user is not None:
            return Principal.of_user(session.user, remote)
        assert session.key is not None
        return Principal.of_key(session.key, remote)

    def _in_scope(self, request: Request, db: Database, who: Principal) -> None:
        outside = None
        with db.connect() as conn:
            for param, value in request.path_params.items():
                lookup = SCOPE_LOOKUPS.get(param)
                if lookup is None:
                    continue
                try:
                    districts = list(lookup(conn, str(value)))
                except (NotFound, ValueError):
                    continue  # the route answers for a thing that does not exist
                if not who.sees_any(districts):
                    outside = f"no such {param.removesuffix('_id')} {value!r}"
                    break
        asked = request.query_params.get("district")
        if outside is None and asked is not None and asked != who.district:
            outside = f"no district {asked!r}"
        if outside is not None:
            self._refused(request, db, who, SecurityEvent.OUT_OF_SCOPE)
            raise NotFound(outside)
        _pin_district(request, who.district)

    def _refused(
        self, request: Request, db: Database, who: Principal, event: SecurityEvent
    ) -> None:
        with db.connect() as conn:
            monitor.emit(
                conn,
                event,
                client=who.remote,
                actor=who.label,
                path=request.url.path,
                detail={
                    "needs": self.role.value,
                    "has": who.role.value,
                    "district": who.district or "*",
                },
            )


def _pin_district(request: Request, district: str | None) -> None:
    """Make the request's ``district`` query parameter the person's own district, so a
    list route filters by it without knowing about scopes. FastAPI reads query
    parameters after the dependencies have run, from this same request object."""
    if district is None:
        return
    pairs = [(k, v) for k, v in parse_qsl(request.url.query, keep_blank_values=True)]
    pairs = [(k, v) for k, v in pairs if k != "district"] + [("district", district)]
    query = urlencode(pairs)
    request.scope["query_string"] = query.encode()
    request._query_params = QueryParams(query)


def require(role: Role, *, cookie: bool = False) -> RoleGuard:
    return RoleGuard(role, cookie=cookie)


Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]
Goc = Annotated[Principal, Depends(require(Role.GOC))]
PageViewer = Annotated[Principal, Depends(require(Role.VIEWER, cookie=True))]
PageOperator = Annotated[Principal, Depends(require(Role.OPERATOR, cookie=True))]
PageAdmin = Annotated[Principal, Depends(require(Role.ADMIN, cookie=True))]
Db = Annotated[Database, Depends(get_db)]
AppSettings = Annotated[Settings, Depends(get_settings)]
Accounts = Annotated[BrokerAccounts | None, Depends(get_accounts)]

#: Path parameters naming a row by its id; the names (``alert_id``, ``incident_id``) are
#: what the guard's district check reads, these are their one shape.
_ROW_ID = Path(ge=1, le=2**62)
AlertId = Annotated[int, _ROW_ID]
IncidentId = Annotated[int, _ROW_ID]
RuleId = Annotated[int, _ROW_ID]
