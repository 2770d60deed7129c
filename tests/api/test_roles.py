"""The role matrix, over every route in the app's route table.

For each route: no key → 401, a wrong key → 401, every role the route does not admit →
403, the lowest role it admits → success. A route missing from CASES, or without a role
guard and not in PUBLIC, fails the test: a new route cannot ship without auth.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from ioc.api.deps import RoleGuard
from ioc.incidents.defaults import default_catalogue
from ioc.security.roles import Role, permits
from tests.api.helpers import make_rule, open_alert, rule_body
from tests.incidents.support import opened_incident, resolved_incident

PUBLIC = {
    ("GET", "/health"),
    ("GET", "/ready"),
    ("GET", "/ui/login"),
    ("POST", "/ui/login"),
    ("GET", "/ui/logout"),
    ("POST", "/ui/logout"),
    ("GET", "/"),  # a redirect to the wall
    ("GET", "/docs"),  # the API's documentation, offline
    ("GET", "/redoc"),
}


@dataclass
class World:
    """Fresh objects for routes that change things, so each call has something to act on."""

    url: str
    seq: Iterator[int]
    #: Per world, so names never repeat across the matrix's cases (``id()`` is reused).
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:10])

    def device(self, client: TestClient, admin: dict[str, str]) -> str:
        dev = f"rm-{next(self.seq)}-{self.token}"
        r = client.post(
            "/api/v1/devices",
            json={"device_id": dev, "domain": "health", "district": "north"},
            headers=admin,
        )
        assert r.status_code == 201, r.text
        return dev

    def alert(self, client: TestClient, admin: dict[str, str]) -> int:
        rule = make_rule(self.url, f"rm-rule-{next(self.seq)}-{self.token}")
        return open_alert(self.url, rule, self.device(client, admin)).id

    def rule(self) -> int:
        return make_rule(self.url, f"rm-rule-{next(self.seq)}-{self.token}").id

    def incident(self, resolved: bool = False) -> int:
        n, make = next(self.seq), resolved_incident if resolved else opened_incident
        return make(self.url, f"rm-{n}-{self.token}", f"rm-dev-{n}", f"rm-absent-{n}-{self.token}")


Req = tuple[str, dict[str, Any] | None]  # path, json body
Make = Callable[[World, TestClient, dict[str, str]], Req]

CASES: dict[tuple[str, str], Make] = {
    ("POST", "/api/v1/devices"): lambda w, c, a: (
        "/api/v1/devices",
        {"device_id": f"rm-new-{next(w.seq)}", "domain": "traffic"},
    ),
    ("GET", "/api/v1/devices"): lambda w, c, a: ("/api/v1/devices", None),
    ("GET", "/api/v1/devices/{device_id}"): lambda w, c, a: (
        f"/api/v1/devices/{w.device(c, a)}",
        None,
    ),
    ("DELETE", "/api/v1/devices/{device_id}"): lambda w, c, a: (
        f"/api/v1/devices/{w.device(c, a)}",
        None,
    ),
    ("GET", "/api/v1/devices/{device_id}/latest"): lambda w, c, a: (
        f"/api/v1/devices/{w.device(c, a)}/latest",
        None,
    ),
    ("GET", "/api/v1/devices/{device_id}/series"): lambda w, c, a: (
        f"/api/v1/devices/{w.device(c, a)}/series?metric=fridge_temp_c",
        None,
    ),
    ("GET", "/api/v1/catalog"): lambda w, c, a: ("/api/v1/catalog", None),
    ("GET", "/api/v1/kpis"): lambda w, c, a: ("/api/v1/kpis", None),
    ("GET", "/api/v1/alerts"): lambda w, c, a: ("/api/v1/alerts?state=firing", None),
    ("GET", "/api/v1/alerts/{alert_id}"): lambda w, c, a: (f"/api/v1/alerts/{w.alert(c, a)}", None),
    ("POST", "/api/v1/alerts/{alert_id}/ack"): lambda w, c, a: (
        f"/api/v1/alerts/{w.alert(c, a)}/ack",
        {"note": "on it"},
    ),
    ("POST", "/api/v1/alerts/{alert_id}/resolve"): lambda w, c, a: (
        f"/api/v1/alerts/{w.alert(c, a)}/resolve",
        None,
    ),
    ("GET", "/api/v1/incidents"): lambda w, c, a: ("/api/v1/incidents?state=open", None),
    ("GET", "/api/v1/incidents/{incident_id}"): lambda w, c, a: (
        f"/api/v1/incidents/{w.incident()}",
        None,
    ),
    ("POST", "/api/v1/incidents/{incident_id}/ack"): lambda w, c, a: (
        f"/api/v1/incidents/{w.incident()}/ack",
        {"note": "mine"},
    ),
    ("POST", "/api/v1/incidents/{incident_id}/resolve"): lambda w, c, a: (
        f"/api/v1/incidents/{w.incident()}/resolve",
        {"note": "supply restored"},
    ),
    ("POST", "/api/v1/incidents/{incident_id}/close"): lambda w, c, a: (
        f"/api/v1/incidents/{w.incident(resolved=True)}/close",
        {"note": "reviewed"},
    ),
    ("POST", "/api/v1/incidents/{incident_id}/steps/{n}"): lambda w, c, a: (
        f"/api/v1/incidents/{w.incident()}/steps/1",
        {"note": "checked"},
    ),
    ("GET", "/api/v1/incident-policies"): lambda w, c, a: ("/api/v1/incident-policies", None),
    ("PUT", "/api/v1/incident-policies"): lambda w, c, a: (  # the shipped set, unchanged
        "/api/v1/incident-policies",
        default_catalogue().model_dump(mode="json"),
    ),
    ("GET", "/api/v1/rules"): lambda w, c, a: ("/api/v1/rules", None),
    ("POST", "/api/v1/rules"): lambda w, c, a: (
        "/api/v1/rules",
        rule_body(f"rm-created-{next(w.seq)}"),
    ),
    ("PUT", "/api/v1/rules/{rule_id}"): lambda w, c, a: (
        f"/api/v1/rules/{w.rule()}",
        rule_body(f"rm-updated-{next(w.seq)}"),
    ),
    ("DELETE", "/api/v1/rules/{rule_id}"): lambda w, c, a: (f"/api/v1/rules/{w.rule()}", None),
    ("GET", "/api/v1/events"): lambda w, c, a: ("/api/v1/events", None),
    ("GET", "/api/v1/goc/report"): lambda w, c, a: ("/api/v1/goc/report", None),
    ("GET", "/api/v1/audit"): lambda w, c, a: ("/api/v1/audit", None),
    ("GET", "/ui/alerts/{alert_id}"): lambda w, c, a: (f"/ui/alerts/{w.alert(c, a)}", None),
    ("POST", "/ui/alerts/{alert_id}/ack"): lambda w, c, a: (
        f"/ui/alerts/{w.alert(c, a)}/ack",
        None,
    ),
    ("POST", "/ui/alerts/{alert_id}/resolve"): lambda w, c, a: (
        f"/ui/alerts/{w.alert(c, a)}/resolve",
        None,
    ),
    ("GET", "/ui/devices/{device_id}"): lambda w, c, a: (f"/ui/devices/{w.device(c, a)}", None),
    ("GET", "/ui/security"): lambda w, c, a: ("/ui/security", None),
    # The console (ioc/api/console_*.py, routes/console.py).
    ("GET", "/ui/"): lambda w, c, a: ("/ui/", None),
    ("GET", "/ui/alerts"): lambda w, c, a: ("/ui/alerts?state=firing", None),
    ("POST", "/ui/alerts/ack"): lambda w, c, a: (f"/ui/alerts/ack?ids={w.alert(c, a)}", None),
    ("GET", "/ui/devices"): lambda w, c, a: ("/ui/devices?q=rm-", None),
    ("GET", "/ui/districts/{district}"): lambda w, c, a: ("/ui/districts/north", None),
    ("GET", "/ui/incidents"): lambda w, c, a: ("/ui/incidents", None),
    ("GET", "/ui/incidents/{incident_id}"): lambda w, c, a: (
        f"/ui/incidents/{w.incident()}",
        None,
    ),
    ("POST", "/ui/incidents/{incident_id}/{action}"): lambda w, c, a: (
        f"/ui/incidents/{w.incident()}/ack",
        None,
    ),
    ("POST", "/ui/incidents/{incident_id}/steps/{n}"): lambda w, c, a: (
        f"/ui/incidents/{w.incident()}/steps/1",
        None,
    ),
    ("GET", "/ui/events"): lambda w, c, a: ("/ui/events", None),
    ("GET", "/ui/data/inbox"): lambda w, c, a: ("/ui/data/inbox", None),
    ("GET", "/ui/data/map"): lambda w, c, a: ("/ui/data/map", None),
    ("GET", "/ui/data/districts.geojson"): lambda w, c, a: ("/ui/data/districts.geojson", None),
    ("GET", "/ui/data/kpis"): lambda w, c, a: ("/ui/data/kpis", None),
    ("GET", "/ui/data/series"): lambda w, c, a: ("/ui/data/series?metric=fridge_temp_c", None),
    ("GET", "/metrics"): lambda w, c, a: ("/metrics", None),
}


def _guard(route: APIRoute) -> RoleGuard | None:
    stack = list(route.dependant.dependencies)
    while stack:
        dep = stack.pop()
        if isinstance(dep.call, RoleGuard):
            return dep.call
        stack.extend(dep.dependencies)
    return None


def _walk(routes: list[Any]) -> Iterator[APIRoute]:
    """Every APIRoute, through included routers (FastAPI keeps them nested)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _walk(inner.routes)


def _routes(client: TestClient) -> list[tuple[str, str, RoleGuard | None]]:
    out = []
    for route in _walk(client.app.routes):  # type: ignore[attr-defined]
        for method in sorted(route.methods - {"HEAD"}):
            out.append((method, route.path, _guard(route)))
    assert len(out) >= len(CASES), "the route table walk found too few routes"
    return out


def test_every_route_is_guarded_or_public(client: TestClient) -> None:
    for method, path, guard in _routes(client):
        if (method, path) in PUBLIC:
            assert guard is None, f"{method} {path} is listed public but has a guard"
        else:
            assert guard is not None, f"{method} {path} has no role guard"
            assert (method, path) in CASES, f"{method} {path} has no case in the role matrix"


def _call(client: TestClient, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    if path in ("/api/v1/events", "/ui/events"):
        with client.stream(method, path, headers=headers, follow_redirects=False) as r:
            return r.status_code
    r = client.request(method, path, json=body, headers=headers, follow_redirects=False)
    return r.status_code


@pytest.mark.parametrize(("method", "path"), sorted(CASES))
def test_role_matrix(
    client: TestClient,
    keys: dict[Role, str],
    auth: Callable[[Role], dict[str, str]],
    database_url: str,
    method: str,
    path: str,
) -> None:
    guards = {(m, p): g for m, p, g in _routes(client)}
    assert (method, path) in guards, f"{method} {path} is not a route of the app"
    guard = guards[(method, path)]
    assert guard is not None
    world = World(database_url, itertools.count())
    admin = auth(Role.ADMIN)
    target, body = CASES[(method, path)](world, client, admin)

    # A page a browser navigates to sends it to sign in; everything else answers 401.
    page_view = method == "GET" and path.startswith("/ui/")
    assert _call(client, method, target, body, {}) == (303 if page_view else 401)
    assert _call(client, method, target, body, {"Authorization": "Bearer nope"}) == 401
    for role in Role:
        if not permits(role, guard.role):
            assert _call(client, method, target, body, auth(role)) == 403, role
    lowest = guard.role
    status = _call(client, method, target, body, auth(lowest))
    assert 200 <= status < 400, f"{method} {target} as {lowest}: {status}"
