"""Pages carry the security headers, one test per header; API responses the ones that
apply to any response."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from httpx2 import Response

from ioc.api.app import create_app
from ioc.config import Settings
from ioc.security.roles import Role
from tests.security.conftest import Person, sign_in


@pytest.fixture
def page(app_client: TestClient, person: Callable[..., Person]) -> Response:
    """A page with data (the security events), as an admin sees it."""
    sign_in(app_client, person(Role.ADMIN))
    r = app_client.get("/ui/security")
    assert r.status_code == 200
    return r


def _directives(policy: str) -> dict[str, str]:
    out = {}
    for part in policy.split(";"):
        name, _, value = part.strip().partition(" ")
        out[name] = value
    return out


def test_content_security_policy_allows_only_the_apps_own_assets(page: Response) -> None:
    csp = _directives(page.headers["content-security-policy"])
    assert csp["default-src"] == "'self'"
    for kind in ("script-src", "style-src", "font-src", "connect-src"):
        assert csp[kind] == "'self'", kind  # no 'unsafe-inline', no other host
    assert "unsafe" not in page.headers["content-security-policy"]
    assert csp["object-src"] == "'none'" and csp["base-uri"] == "'none'"


def test_frame_ancestors_none(page: Response) -> None:
    assert _directives(page.headers["content-security-policy"])["frame-ancestors"] == "'none'"
    assert page.headers["x-frame-options"] == "DENY"


def test_nosniff(page: Response) -> None:
    assert page.headers["x-content-type-options"] == "nosniff"


def test_referrer_policy(page: Response) -> None:
    assert page.headers["referrer-policy"] == "same-origin"


def test_no_store_on_pages_with_data(page: Response) -> None:
    assert page.headers["cache-control"] == "no-store"


def test_the_sign_in_page_and_errors_carry_them_too(app_client: TestClient) -> None:
    for r in (app_client.get("/ui/login"), app_client.get("/ui/nothing-here")):
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["cache-control"] == "no-store"


def test_api_responses_are_not_sniffed_or_framed(app_client: TestClient) -> None:
    r = app_client.get("/health")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    assert "strict-transport-security" not in r.headers  # only over HTTPS


def test_hsts_over_https(web_settings: Settings, person: Callable[..., Person]) -> None:
    app = create_app(web_settings, accounts=None, run_migrations=False)
    with TestClient(app, base_url="https://testserver") as c:
        r = c.get("/ui/login")
        assert r.headers["strict-transport-security"].startswith("max-age=")
        who = person(Role.VIEWER)
        signed = c.post(
            "/ui/login",
            data={"login": who.login, "password": who.password},
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            follow_redirects=False,
        )
        assert "secure" in [f.strip().lower() for f in signed.headers["set-cookie"].split(";")]
