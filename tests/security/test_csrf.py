"""A page on another origin (Grafana's port on the same host, say) cannot make a
signed-in browser change anything: state-changing /ui requests need the session's CSRF
token and an Origin that is the app's own. Each refusal is a security event."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from fastapi.testclient import TestClient

from ioc.security.roles import Role
from ioc.security.sessions import csrf_token
from tests.api.helpers import make_rule, open_alert
from tests.security.conftest import FORM, Person, sign_in


def _alert(database_url: str, unique: Callable[[str], str]) -> int:
    return open_alert(database_url, make_rule(database_url, unique("csrf-rule")), unique("cs")).id


def _state(database_url: str, alert_id: int) -> str:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT state FROM alerts WHERE id = %s", (alert_id,)).fetchone()
    assert row is not None
    return str(row[0])


def test_another_origin_is_refused_even_with_the_token(
    app_client: TestClient,
    person: Callable[..., Person],
    database_url: str,
    unique: Callable[[str], str],
) -> None:
    sign_in(app_client, person(Role.OPERATOR))
    alert_id = _alert(database_url, unique)
    for origin in ("http://testserver:3000", "http://evil.example", "null"):
        r = app_client.post(
            f"/ui/alerts/{alert_id}/resolve",
            headers={"Origin": origin},
            follow_redirects=False,
        )
        assert r.status_code == 403, origin
    referer = app_client.post(
        f"/ui/alerts/{alert_id}/resolve",
        headers={"Referer": "http://testserver:3000/d/abc"},
        follow_redirects=False,
    )
    assert referer.status_code == 403
    assert _state(database_url, alert_id) == "firing"
    with psycopg.connect(database_url) as conn:
        seen = conn.execute(
            "SELECT count(*) FROM security_events WHERE event = 'csrf.refused' AND path = %s",
            (f"/ui/alerts/{alert_id}/resolve",),
        ).fetchone()
    assert seen is not None and seen[0] == 4


def test_without_the_token_is_refused_and_with_it_accepted(
    app_client: TestClient,
    person: Callable[..., Person],
    database_url: str,
    unique: Callable[[str], str],
) -> None:
    token = sign_in(app_client, person(Role.OPERATOR))
    alert_id = _alert(database_url, unique)
    del app_client.headers["X-CSRF-Token"]
    same_origin = {"Origin": "http://testserver"}
    missing = app_client.post(
        f"/ui/alerts/{alert_id}/ack", headers=same_origin, follow_redirects=False
    )
    assert missing.status_code == 403 and "CSRF" in missing.text
    wrong = app_client.post(
        f"/ui/alerts/{alert_id}/ack",
        data={"csrf_token": csrf_token("some other session")},
        headers={**same_origin, **FORM},
        follow_redirects=False,
    )
    assert wrong.status_code == 403
    assert _state(database_url, alert_id) == "firing"
    # The form field works as well as the header (the console's forms use it).
    good = app_client.post(
        f"/ui/alerts/{alert_id}/ack",
        data={"csrf_token": csrf_token(token), "note": "on it"},
        headers={**same_origin, **FORM},
        follow_redirects=False,
    )
    assert good.status_code == 303, good.text
    assert _state(database_url, alert_id) == "acknowledged"


def test_sign_in_from_another_origin_is_refused(
    app_client: TestClient, person: Callable[..., Person]
) -> None:
    who = person(Role.VIEWER)
    r = app_client.post(
        "/ui/login",
        data={"login": who.login, "password": who.password},
        headers={**FORM, "Origin": "http://evil.example"},
        follow_redirects=False,
    )
    assert r.status_code == 403 and "ioc_session" not in r.headers.get("set-cookie", "")


def test_the_page_carries_the_token_for_scripts_and_forms(
    app_client: TestClient, person: Callable[..., Person]
) -> None:
    token = sign_in(app_client, person(Role.VIEWER))
    page = app_client.get("/ui/logout")
    assert f'value="{csrf_token(token)}"' in page.text
